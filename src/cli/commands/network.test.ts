/**
 * tvirsh's network commands: byte for byte against the real virsh 9.0 on `test:///default`
 * (when virsh is installed; under `CI=true` it must be), their `--json` documents against
 * `schemas.ts`, and a real network on `qemu:///embed` run by the tvirsh launcher inside a
 * network namespace of its own (`unshare --net`: the host's interfaces and firewall are never
 * touched).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isProcessAlive, runArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";

const repo = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

async function available(argv: string[]): Promise<boolean> {
  try {
    return (await runArgv(argv)).code === 0;
  } catch {
    return false;
  }
}

test("network commands print what virsh 9.0 prints on test:///default", async (t) => {
  const r = await runArgv(["virsh", "-v"]).catch(() => undefined);
  if (!r || r.code !== 0 || !r.stdout.startsWith("9.")) {
    if (process.env.CI === "true") assert.fail("virsh 9.x is required under CI");
    t.skip("virsh 9.x not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-net-"));
  try {
    const n2 = join(dir, "n2.xml");
    writeFileSync(
      n2,
      "<network><name>n2</name><uuid>12345678-1234-1234-1234-123456789abc</uuid><bridge name='br9'/><ip address='10.9.0.1' prefix='24'/></network>\n",
    );
    const bad = join(dir, "bad.xml");
    writeFileSync(bad, "<network><name>v1</name><bogus/></network>\n");
    const lines = [
      "net-list",
      "net-list --all",
      "net-list --inactive",
      "net-list --name",
      "net-list --uuid",
      "net-list --name --uuid",
      "net-list --table --name",
      "net-list --persistent --autostart",
      "net-list --no-autostart",
      "net-info default",
      "net-info dd8fe884-6c02-601e-7551-cca97df1c5df",
      "net-info nope",
      "net-info",
      "net-uuid default",
      "net-uuid dd8fe884-6c02-601e-7551-cca97df1c5df",
      "net-name dd8fe884-6c02-601e-7551-cca97df1c5df",
      "net-name default",
      "net-dumpxml default",
      "net-dumpxml default --inactive",
      "net-dumpxml default --xpath //ip/@address",
      "net-dumpxml default --xpath //range --wrap",
      "net-dhcp-leases default",
      "net-start default",
      "net-destroy default; net-destroy default",
      "net-destroy default; net-start default; net-list",
      "net-autostart default; net-list --autostart; net-info default",
      "net-autostart default --disable",
      "net-undefine default; net-list --all",
      "net-destroy default; net-undefine default; net-list --all",
      `net-define ${n2}; net-list --all; net-info n2; net-start n2; net-start n2`,
      `net-create ${n2}; net-list --transient; net-undefine n2; net-destroy n2; net-list --all`,
      `net-create ${n2}; net-autostart n2; net-list --autostart --transient`,
      `net-define ${join(dir, "missing.xml")}`,
      `net-define --validate ${bad}; net-create --validate ${bad}; net-define ${bad}; net-list --all`,
      `net-define --validate ${n2}; net-create --validate ${n2}`,
      "-q net-list --all",
    ];
    for (const line of lines) {
      const args = line.startsWith("-q ") ? ["-q", line.slice(3)] : [line];
      const v = await runArgv(["virsh", "-c", "test:///default", ...args], { env });
      const ours = await tvirsh(...args);
      assert.equal(ours.out, v.stdout, `stdout of: ${line}`);
      assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
      assert.equal(ours.status, v.code, `status of: ${line}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every network command's --json document matches its schema", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-net-json-"));
  try {
    const n2 = join(dir, "n2.xml");
    writeFileSync(n2, "<network><name>n2</name><bridge name='br9'/></network>\n");
    const lines: [string, string][] = [
      ["net-list", "net-list --all --json"],
      ["net-list", "net-list --name --json"],
      ["net-info", "net-info default --json"],
      ["net-uuid", "net-uuid default --json"],
      ["net-name", "net-name dd8fe884-6c02-601e-7551-cca97df1c5df --json"],
      ["net-dumpxml", "net-dumpxml default --json"],
      ["net-dumpxml", "net-dumpxml default --xpath //bridge --json"],
      ["net-define", `net-define ${n2} --json`],
      ["net-create", `net-create ${n2} --json`],
      ["net-start", `net-define ${n2}; net-start n2 --json`],
      ["net-destroy", "net-destroy default --json"],
      ["net-undefine", "net-destroy default; net-undefine default --json"],
      ["net-autostart", "net-autostart default --json"],
      ["net-autostart", "net-autostart default --disable --json"],
    ];
    for (const [name, line] of lines) {
      const r = await tvirsh("-q", line);
      assert.equal(r.status, 0, `${line}: ${r.err}${r.out}`);
      const docs = r.out
        .trim()
        .split(/\n(?=\{)/)
        .filter((d) => d.trim() !== "");
      const last = docs[docs.length - 1]!;
      assert.deepEqual(validate(JSON.parse(last), commandSchemas[name]!), [], `${line}: ${last}`);
    }
    const list = JSON.parse((await tvirsh("net-list --all --json")).out) as unknown;
    assert.deepEqual(list, {
      networks: [
        {
          name: "default",
          uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df",
          active: true,
          persistent: true,
          autostart: false,
        },
      ],
    });
    const err = await tvirsh("net-info nope --json");
    assert.equal(err.status, 1);
    const doc = JSON.parse(err.out) as { error: { code: string; virCode: number; context: string } };
    assert.equal(doc.error.code, "NETWORK_NOT_FOUND");
    assert.equal(doc.error.virCode, 43);
    assert.equal(doc.error.context, "failed to get network 'nope'");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tvirsh runs a real network on qemu:///embed inside its own network namespace", async (t) => {
  const need = [
    ["unshare", "--version"],
    ["nft", "--version"],
    ["dnsmasq", "--version"],
    ["ip", "-V"],
  ];
  for (const argv of need) {
    if (process.getuid?.() !== 0 || !(await available(argv))) {
      if (process.env.CI === "true") assert.fail(`needs root and ${argv[0]}`);
      t.skip(`needs root and ${argv[0]}`);
      return;
    }
  }
  const root = mkdtempSync(join(tmpdir(), "tvirsh-net-embed-"));
  try {
    const xml = join(root, "n.xml");
    writeFileSync(
      xml,
      "<network><name>tnet</name><uuid>0f0e0d0c-0b0a-0908-0706-050403020100</uuid><forward/><bridge name='tvbr0'/>" +
        "<ip address='10.123.0.1' prefix='24'><dhcp><range start='10.123.0.10' end='10.123.0.20'/></dhcp></ip></network>\n",
    );
    const script = [
      // The guard: only ever act in a namespace that has nothing but lo.
      "net-list --all",
      `net-define ${xml}`,
      "net-start tnet",
      "net-list",
      "net-info tnet",
      "net-dhcp-leases tnet",
      "net-start tnet",
      "net-destroy tnet",
      "net-undefine tnet",
      "net-list --all",
    ].join("; ");
    const r = await runArgv(
      [
        "unshare",
        "--net",
        process.execPath,
        join(repo, "bin", "tvirsh.js"),
        "-c",
        `qemu:///embed?root=${root}`,
        script,
      ],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(
      r.stdout,
      ` Name   State   Autostart   Persistent
----------------------------------------

Network tnet defined from ${xml}

Network tnet started

 Name   State    Autostart   Persistent
-----------------------------------------
 tnet   active   no          yes

Name:           tnet
UUID:           0f0e0d0c-0b0a-0908-0706-050403020100
Active:         yes
Persistent:     yes
Autostart:      no
Bridge:         tvbr0

 Expiry Time   MAC address   Protocol   IP address   Hostname   Client ID or DUID
-----------------------------------------------------------------------------------


Network tnet destroyed

Network tnet has been undefined

 Name   State   Autostart   Persistent
----------------------------------------

`,
      r.stderr,
    );
    assert.equal(
      r.stderr,
      "error: Failed to start network tnet\nerror: Requested operation is not valid: network is already active\n",
    );
    // virsh's exit status is the last command's.
    assert.equal(r.code, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("net-update --live on a real network rewrites dnsmasq's hosts files and SIGHUPs it (qemu:///embed, own namespace)", async (t) => {
  const need = [
    ["unshare", "--version"],
    ["nsenter", "--version"],
    ["nft", "--version"],
    ["dnsmasq", "--version"],
    ["ip", "-V"],
  ];
  for (const argv of need) {
    if (process.getuid?.() !== 0 || !(await available(argv))) {
      if (process.env.CI === "true") assert.fail(`needs root and ${argv[0]}`);
      t.skip(`needs root and ${argv[0]}`);
      return;
    }
  }
  const root = mkdtempSync(join(tmpdir(), "tvirsh-netupd-embed-"));
  const dns = join(root, "lib", "dnsmasq");
  const pidOf = (): number => Number(readFileSync(join(dns, "unet.pid"), "utf8").trim());
  const read = (ext: string): string => readFileSync(join(dns, `unet.${ext}`), "utf8");
  let pid = 0;
  try {
    const xml = join(root, "n.xml");
    writeFileSync(
      xml,
      "<network><name>unet</name><uuid>0f0e0d0c-0b0a-0908-0706-050403020101</uuid><forward/><bridge name='tvbr1'/>" +
        "<ip address='10.124.0.1' prefix='24'><dhcp><range start='10.124.0.10' end='10.124.0.20'/>" +
        "<host mac='52:54:00:00:00:0a' ip='10.124.0.5'/></dhcp></ip></network>\n",
    );
    const uri = `qemu:///embed?root=${root}`;
    const tvirsh = [process.execPath, join(repo, "bin", "tvirsh.js"), "-c", uri];
    // A namespace of its own; the network's dnsmasq keeps it alive after tvirsh exits (as the
    // embedded driver leaves dnsmasq running), and later commands enter it through that process.
    const first = await runArgv(
      ["unshare", "--net", ...tvirsh, `net-list --all; net-define ${xml}; net-start unet`],
      { env, timeoutMs: 120_000 },
    );
    assert.equal(first.stderr, "");
    assert.match(first.stdout, /^Network unet started$/m);
    pid = pidOf();
    assert.ok(isProcessAlive(pid), "dnsmasq runs after tvirsh exited");
    const inNs = (script: string): Promise<{ stdout: string; stderr: string; code: number | null }> =>
      runArgv(["nsenter", `--net=/proc/${pid}/ns/net`, ...tvirsh, script], { env, timeoutMs: 120_000 });
    assert.equal(read("hostsfile"), "52:54:00:00:00:0a,10.124.0.5\n");
    const conf = read("conf");

    // A static host and a DNS host: same dnsmasq (SIGHUP), new hosts files.
    let r = await inNs(
      "net-update unet add ip-dhcp-host \"<host mac='52:54:00:00:00:0b' name='b' ip='10.124.0.6'/>\" --live --config; " +
        "net-update unet add dns-host \"<host ip='10.124.0.7'><hostname>web</hostname></host>\"; " +
        "net-update unet modify ip-dhcp-host \"<host mac='52:54:00:00:00:0a' ip='10.124.0.8'/>\"",
    );
    assert.equal(r.stderr, "");
    assert.equal(
      r.stdout,
      "Updated network unet persistent config and live state\nUpdated network unet live state\n" +
        "Updated network unet live state\n",
    );
    assert.equal(pidOf(), pid, "dnsmasq was not restarted for host entries");
    assert.ok(isProcessAlive(pid));
    assert.equal(read("hostsfile"), "52:54:00:00:00:0a,10.124.0.8\n52:54:00:00:00:0b,10.124.0.6,b\n");
    assert.match(read("addnhosts"), /^10\.124\.0\.7\tweb/m);
    assert.equal(read("conf"), conf);
    // --config reached the definition on disk, the live-only changes did not.
    const saved = readFileSync(join(root, "etc", "qemu", "networks", "unet.xml"), "utf8");
    assert.match(saved, /<host mac='52:54:00:00:00:0b' name='b' ip='10.124.0.6'\/>/);
    assert.match(saved, /<host mac='52:54:00:00:00:0a' ip='10.124.0.5'\/>/);
    assert.doesNotMatch(saved, /web/);
    r = await inNs("net-dumpxml unet; net-dumpxml unet --inactive");
    const [live, inactive] = r.stdout.split("\n\n");
    assert.match(live!, /<host mac='52:54:00:00:00:0a' ip='10.124.0.8'\/>/);
    assert.match(live!, /<hostname>web<\/hostname>/);
    assert.match(inactive!, /<host mac='52:54:00:00:00:0a' ip='10.124.0.5'\/>/);

    // A duplicate is refused and changes nothing.
    r = await inNs("net-update unet add ip-dhcp-host \"<host mac='52:54:00:00:00:0b' ip='10.124.0.9'/>\"");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /there is an existing dhcp host entry in network 'unet'/);
    assert.equal(read("hostsfile"), "52:54:00:00:00:0a,10.124.0.8\n52:54:00:00:00:0b,10.124.0.6,b\n");

    // A new range changes dnsmasq's configuration: it is restarted with it.
    r = await inNs("net-update unet add ip-dhcp-range \"<range start='10.124.0.100' end='10.124.0.110'/>\"");
    assert.equal(r.stderr, "");
    const pid2 = pidOf();
    assert.notEqual(pid2, pid, "dnsmasq restarted for a new range");
    assert.ok(isProcessAlive(pid2));
    assert.ok(!isProcessAlive(pid));
    pid = pid2;
    assert.match(read("conf"), /^dhcp-range=10\.124\.0\.100,10\.124\.0\.110,255\.255\.255\.0$/m);

    r = await inNs("net-destroy unet; net-undefine unet; net-list --all");
    assert.equal(r.stderr, "");
    assert.ok(!isProcessAlive(pid), "dnsmasq stopped with the network");
    assert.ok(!existsSync(join(dns, "unet.hostsfile")));
  } finally {
    if (pid && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
});
