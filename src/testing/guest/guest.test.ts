/**
 * Builds (or reuses) the tiny test guest and boots it under raw QEMU (TCG): mode none must
 * print GUEST-BOOTED and power off by itself; mode counter must count. Every QEMU started here
 * is killed by pid in `finally`. Off-line, the build is skipped (a failure under CI=true).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { ensureTestGuest } from "./build.ts";
import { readCpio, S_IFLNK, S_IFMT, S_IFREG } from "./cpio.ts";
import { GUEST_MODULES } from "./init-script.ts";
import { bootRawQemu, type RawGuest } from "./qemu.ts";
import { testGuestOrSkip } from "./skip.ts";

const BOOT_TIMEOUT_MS = 60_000;

async function withGuest<T>(g: RawGuest, fn: (g: RawGuest) => Promise<T>): Promise<T> {
  try {
    return await fn(g);
  } finally {
    await g.kill();
  }
}

void test("tiny test guest", { timeout: 10 * 60_000 }, async (t) => {
  const coldStart = performance.now();
  const guest = await testGuestOrSkip(t);
  if (!guest) return;
  t.diagnostic(
    `ensureTestGuest (first call in this process): ${Math.round(performance.now() - coldStart)} ms, kernel ${guest.version}`,
  );

  await t.test("a second call returns the cached paths in milliseconds", async () => {
    const start = performance.now();
    const again = await ensureTestGuest();
    const ms = performance.now() - start;
    assert.deepEqual(again, guest);
    t.diagnostic(`cached ensureTestGuest: ${ms.toFixed(1)} ms`);
    assert.ok(ms < 200, `cached call took ${ms} ms`);
  });

  await t.test("the initramfs holds /init, busybox and the virtio modules", async () => {
    const entries = readCpio(gunzipSync(await readFile(guest.initrd)));
    const byName = new Map(entries.map((e) => [e.name, e]));
    const init = byName.get("init");
    assert.ok(init, "no /init");
    assert.equal(init.mode & S_IFMT, S_IFREG);
    assert.equal(init.mode & 0o777, 0o755);
    assert.match(init.data.toString("utf8"), /^#!\/bin\/busybox sh\n/);
    const busybox = byName.get("bin/busybox");
    assert.ok(
      busybox && busybox.data.subarray(0, 4).equals(Buffer.from("\x7fELF", "latin1")),
      "bin/busybox is not an ELF file",
    );
    assert.equal(byName.get("bin/sh")?.mode !== undefined && byName.get("bin/sh")!.mode & S_IFMT, S_IFLNK);
    const loaded = byName.get("etc/tvirt-modules")?.data.toString("utf8").trim().split(" ") ?? [];
    for (const m of ["virtio_pci", "virtio_blk", "virtio_net", "button", "evdev"]) {
      assert.ok(GUEST_MODULES.includes(m));
      assert.ok(loaded.includes(m), `module ${m} is not loaded by /init`);
      assert.ok(byName.has(`lib/modules/${m}.ko`), `lib/modules/${m}.ko missing`);
    }
    // Parents before children, as the kernel's unpacker needs.
    const seen = new Set<string>();
    for (const e of entries) {
      const parent = e.name.includes("/") ? e.name.slice(0, e.name.lastIndexOf("/")) : undefined;
      if (parent !== undefined) assert.ok(seen.has(parent), `${e.name} comes before its folder`);
      seen.add(e.name);
    }
  });

  await t.test("probe=none: boots, prints GUEST-BOOTED, powers off by itself", async () => {
    const g = await bootRawQemu({ kernel: guest.kernel, initrd: guest.initrd, mode: "none" });
    await withGuest(g, async () => {
      const m = await g.waitFor(/GUEST-BOOTED (\d+\.\d+)/, BOOT_TIMEOUT_MS);
      t.diagnostic(`spawn → GUEST-BOOTED: ${g.elapsedMs()} ms (guest uptime ${m[1] ?? "?"} s)`);
      await g.waitFor(/TVIRT-GUEST-READY mode=none/, 10_000);
      const exit = await g.waitExit(BOOT_TIMEOUT_MS);
      t.diagnostic(`spawn → QEMU exit: ${g.elapsedMs()} ms`);
      assert.deepEqual(
        exit,
        { code: 0, signal: null },
        `QEMU exit ${JSON.stringify(exit)}; stderr: ${g.stderr()}`,
      );
      assert.doesNotMatch(g.output(), /Kernel panic|TVIRT-GUEST-MODULE-FAILED|TVIRT-GUEST-ERROR/);
      assert.match(g.output(), /reboot: Power down/);
    });
  });

  await t.test("probe=counter: prints COUNTER 1, 2, 3 and keeps running", async () => {
    const g = await bootRawQemu({ kernel: guest.kernel, initrd: guest.initrd, mode: "counter" });
    await withGuest(g, async () => {
      await g.waitFor(/GUEST-BOOTED /, BOOT_TIMEOUT_MS);
      await g.waitFor(/TVIRT-GUEST-READY mode=counter/, 10_000);
      await g.waitFor(/^COUNTER 3\r?$/m, 30_000);
      const counts = [...g.output().matchAll(/^COUNTER (\d+)\r?$/gm)].map((x) => Number(x[1]));
      assert.deepEqual(counts.slice(0, 3), [1, 2, 3]);
      t.diagnostic(`spawn → COUNTER 3: ${g.elapsedMs()} ms`);
    });
    const exit = await g.exited;
    assert.equal(exit.signal, "SIGKILL");
  });
});
