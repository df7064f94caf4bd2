import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { corpusOrSkip } from "../../testing/corpus.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";

const xml = `<domain type='qemu'>
  <name>vm1</name>
  <memory unit='KiB'>131072</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/tmp/a b.img'/><target dev='vda' bus='virtio'/></disk>
  </devices>
</domain>`;

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

void test("domxml-to-native --caps FILE: the command line for a capabilities file, with no connection", async (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const caps = join(corpus, "caps", "caps_7.2.0_x86_64.xml");
  const dir = mkdtempSync(join(tmpdir(), "tvirt-native-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = join(dir, "vm1.xml");
  writeFileSync(file, xml);

  const json = await tvirsh("domxml-to-native", "qemu-argv", "--caps", caps, file, "--json");
  assert.equal(json.status, 0, json.err);
  const res = JSON.parse(json.out) as { env: Record<string, string>; emulator: string; args: string[] };
  assert.equal(res.emulator, "/usr/bin/qemu-system-x86_64");
  assert.equal(res.env.LC_ALL, "C");
  assert.deepEqual(res.args.slice(0, 2), ["-name", "guest=vm1,debug-threads=on"]);
  // The machine comes from the capabilities file (QEMU 7.2's pc), not the installed QEMU.
  assert.equal(res.args[res.args.indexOf("-machine") + 1]?.split(",")[0], "pc-i440fx-7.2");
  assert.ok(res.args.some((a) => a.includes('"filename":"/tmp/a b.img"')));

  const text = await tvirsh("domxml-to-native", "qemu-argv", "--caps", caps, file);
  assert.equal(text.status, 0, text.err);
  assert.match(text.out, /^LC_ALL=C PATH=\S+ /);
  assert.ok(text.out.includes(" /usr/bin/qemu-system-x86_64 -name guest=vm1,debug-threads=on -S "), text.out);
  // Arguments with spaces or quotes are shell-quoted.
  assert.ok(text.out.includes(`'{"driver":"file","filename":"/tmp/a b.img",`), text.out);

  const bad = await tvirsh("domxml-to-native", "json-argv", "--caps", caps, file);
  assert.equal(bad.status, 1);
  assert.match(bad.err, /unsupported config type json-argv/);
});

void test("domxml-to-native: host back ends the driver does not run yet are refused by name, not as internal errors", async (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const caps = join(corpus, "caps", "caps_7.2.0_x86_64.xml");
  const dir = mkdtempSync(join(tmpdir(), "tvirt-native-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cases: [string, string][] = [
    [
      "<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/><model type='virtio'/></interface>",
      "error: unsupported configuration: interface 'net0': vDPA devices (/dev/vhost-vdpa-0) are not supported by tvirt's QEMU driver yet; use a vhost-user or tap-backed interface\n",
    ],
    [
      "<vsock model='virtio'><cid auto='yes'/></vsock>",
      "error: unsupported configuration: vsock: a vsock device (QEMU needs /dev/vhost-vsock opened for it) is not supported by tvirt's QEMU driver yet; remove <vsock> to start the domain\n",
    ],
    [
      "<interface type='user'><backend type='passt'/><model type='virtio'/></interface>",
      "error: unsupported configuration: interface net0: the passt back end (<backend type='passt'/>) is not supported by tvirt's QEMU driver yet; leave <backend> out for QEMU's user-mode network (SLiRP), or use a network or bridge\n",
    ],
  ];
  for (const [device, err] of cases) {
    const file = join(dir, "dev.xml");
    writeFileSync(file, xml.replace("</devices>", `${device}</devices>`));
    const r = await tvirsh("domxml-to-native", "qemu-argv", "--caps", caps, file);
    assert.deepEqual([r.status, r.err], [1, err], device);
  }
});
