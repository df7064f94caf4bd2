/**
 * The QMP client against a real QEMU (`-S -machine none`, TCG). Every QEMU started here is
 * stopped in a `finally`, by its own handle.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectQmp, type QmpEvent } from "./qmp.ts";
import { leakedResources, resourceCounts } from "../../../testing/qemu/monitor-leaks.ts";
import { startQmpProcess } from "../capabilities/process.ts";
import { qemuOrSkip } from "../../../testing/qemu/capabilities.ts";
import { isVirtError, type VirtError } from "../../../util/errors/index.ts";

let baseline = new Map<string, number>();
before(() => {
  baseline = resourceCounts();
});
after(async () => {
  assert.deepEqual(await leakedResources(baseline, 2000), [], "QEMU processes, sockets or timers leaked");
});

function virt(e: unknown): VirtError {
  assert.ok(isVirtError(e), `expected a VirtError, got ${String(e)}`);
  return e;
}

void test("real QEMU: greeting, queries, errors, events and end of file on quit", async (t) => {
  const binary = qemuOrSkip(t);
  if (!binary) return;
  const p = await startQmpProcess({ binary, name: "domain 'probe'" });
  try {
    const { qmp } = p;
    assert.equal(qmp.greeting.version.major, 7);
    assert.ok(qmp.greeting.capabilities.includes("oob"));
    const version = (await qmp.execute("query-version")) as {
      qemu: { major: number; minor: number };
      package: string;
    };
    assert.equal(version.qemu.major, qmp.greeting.version.major);
    assert.equal(version.package.trim(), qmp.greeting.version.package.trim());
    assert.deepEqual(await qmp.execute("query-status"), {
      status: "prelaunch",
      singlestep: false,
      running: false,
    });

    // Many commands at once: answered in order, one at a time.
    const many = await Promise.all(Array.from({ length: 20 }, () => qmp.execute("query-target")));
    assert.ok(many.every((r) => (r as { arch: string }).arch === "x86_64"));

    const e = virt(await qmp.execute("no-such-command").catch((x: unknown) => x));
    assert.equal(e.code, "QEMU_COMMAND_FAILED");
    assert.equal(e.details.qemuClass, "CommandNotFound");
    assert.match(
      e.message,
      /unable to execute QEMU command 'no-such-command' for domain 'probe': The command no-such-command has not been found/,
    );

    const bad = virt(
      await qmp.execute("device-list-properties", { typename: "no-such-device" }).catch((x: unknown) => x),
    );
    assert.equal(bad.details.qemuClass, "DeviceNotFound");

    const events: QmpEvent[] = [];
    qmp.onEvent((ev) => events.push(ev));
    const closed = new Promise<VirtError | undefined>((resolve) => qmp.onClose(resolve));
    // QEMU sends SHUTDOWN, then the reply, then closes the socket.
    await qmp.execute("quit");
    const reason = await closed;
    assert.equal(reason?.code, "QEMU_MONITOR_CLOSED");
    const shutdown = events[0];
    assert.ok(shutdown);
    assert.equal(shutdown.event, "SHUTDOWN");
    assert.equal(shutdown.data.reason, "host-qmp-quit");
    const exit = await p.exited;
    assert.equal(exit.code, 0);
    const after = virt(await qmp.execute("query-status").catch((x: unknown) => x));
    assert.equal(after.code, "QEMU_MONITOR_CLOSED");
  } finally {
    await p.stop();
  }
});

void test("real QEMU: killing QEMU fails the waiting command with a clear error", async (t) => {
  const binary = qemuOrSkip(t);
  if (!binary) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-qmp-kill-"));
  const path = join(dir, "qmp.sock");
  const child = spawn(
    binary,
    [
      "-S",
      "-no-user-config",
      "-nodefaults",
      "-display",
      "none",
      "-machine",
      "none",
      "-accel",
      "tcg",
      "-qmp",
      `unix:${path},server=on,wait=off`,
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => {
    child.once("close", () => {
      resolve();
    });
  });
  try {
    await using qmp = await connectQmp({ path, name: "domain 'victim'", timeoutMs: 20_000 });
    const iter = qmp.events();
    const closed = new Promise<VirtError | undefined>((resolve) => qmp.onClose(resolve));
    assert.equal(((await qmp.execute("query-status")) as { status: string }).status, "prelaunch");
    child.kill("SIGKILL");
    // Sent while QEMU dies: the command fails with QEMU_MONITOR_CLOSED, never hangs.
    const e = virt(
      await qmp.execute("query-status", undefined, { timeoutMs: 10_000 }).catch((x: unknown) => x),
    );
    await exited;
    assert.equal(e.code, "QEMU_MONITOR_CLOSED");
    assert.match(
      e.message,
      /connection to the QEMU monitor of domain 'victim' was lost: (end of file|socket error)/,
    );
    assert.equal((await closed)?.code, "QEMU_MONITOR_CLOSED");
    assert.deepEqual(await iter.next(), { value: undefined, done: true });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

void test("real QEMU: a process that fails to start reports QEMU's own message", async (t) => {
  const binary = qemuOrSkip(t);
  if (!binary) return;
  const e = virt(
    await startQmpProcess({ binary, extraArgs: ["-object", "no-such-object-type,id=x"] }).catch(
      (x: unknown) => x,
    ),
  );
  assert.equal(e.code, "QEMU_PROBE_START_FAILED");
  assert.match(
    e.message,
    /could not be started for probing its capabilities: QEMU exited with status 1: .*no-such-object-type/,
  );
  assert.match(String(e.details.logTail), /no-such-object-type/);
});
