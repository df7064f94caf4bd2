/**
 * tvirsh's network commands: byte for byte against the real virsh 9.0 on `test:///default`
 * (when virsh is installed; under `CI=true` it must be), their `--json` documents against
 * `schemas.ts`, and a real network on `qemu:///embed` run by the tvirsh launcher inside a
 * network namespace of its own (`unshare --net`: the host's interfaces and firewall are never
 * touched).
 */
import { test, type TestContext } from "node:test";
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isProcessAlive, readProcCmdline, runArgv, spawnArgv } from "../../util/spawn.ts";
import { connect } from "../../api/index.ts";
import { commandWorks } from "../../testing/netns.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { virsh9OrSkip } from "../../testing/rpc/harness.ts";

const repo = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const env = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", TZ: "UTC" };

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

/** Root and every tool of `need` (its argv exits 0); else a failure under CI, a skip elsewhere. */
async function rootAndTools(t: TestContext, need: string[][]): Promise<boolean> {
  for (const argv of need) {
    if (process.getuid?.() !== 0 || !(await commandWorks(argv))) {
      if (process.env.CI === "true") assert.fail(`needs root and ${argv[0]}`);
      t.skip(`needs root and ${argv[0]}`);
      return false;
    }
  }
  return true;
}

test("network commands print what virsh 9.0 prints on test:///default", async (t) => {
  if (!virsh9OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-net-"));
  try {
    const n2 = join(dir, "n2.xml");
    writeFileSync(
      n2,
      "<network><name>n2</name><uuid>12345678-1234-1234-1234-123456789abc</uuid><bridge name='br9'/><ip address='10.9.0.1' prefix='24'/></network>\n",
    );
    const n3 = join(dir, "n3.xml");
    writeFileSync(
      n3,
      "<network><name>n3</name><uuid>12345678-1234-1234-1234-123456789abd</uuid><bridge name='br3'/>" +
        "<ip address='10.3.0.1' prefix='24'/><ip family='ipv6' address='fd00:3::1' prefix='64'>" +
        "<dhcp><range start='fd00:3::10' end='fd00:3::20'/></dhcp></ip></network>\n",
    );
    const host = "<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>";
    const hostFile = join(dir, "host.xml");
    writeFileSync(hostFile, "<host mac='52:54:00:00:00:02' name='b' ip='192.168.122.11'/>\n");
    const range = "<range start='192.168.122.2' end='192.168.122.100'/>";
    const dnsHost = "<host ip='192.168.122.5'><hostname>foo</hostname></host>";
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
      // net-update: live (current on a running network), config, both, every error kind.
      `net-update default add ip-dhcp-host "${host}"; net-dumpxml default`,
      `net-update default add ip-dhcp-host "${host}"; net-update default add ip-dhcp-host "${host}"`,
      `net-update default add ip-dhcp-host "<host mac='52:54:00:00:00:01'"`,
      `net-update default add bogus "${host}"; net-update default frob ip-dhcp-host "${host}"`,
      `net-update nope add ip-dhcp-host "${host}"`,
      `net-update default add bridge "<bridge name='x'/>"; net-update default add ip "<ip/>"`,
      `net-update default add forward "<forward/>"; net-update default add forward-pf "<pf/>"`,
      `net-update default add ip-dhcp-host "<range start='192.168.122.2' end='192.168.122.3'/>"`,
      `net-update default modify ip-dhcp-host "${host}"; net-update default delete ip-dhcp-host "${host}"`,
      `net-update default add ip-dhcp-host "${host}" --parent-index 3`,
      `net-update default add ip-dhcp-host "${host}" --parent-index x`,
      `net-update default add ip-dhcp-host "${host}" --live --current`,
      `net-update default add ip-dhcp-host "${host}" --config --current`,
      `net-update default add ip-dhcp-host ${join(dir, "missing.xml")}`,
      `net-update default add-first ip-dhcp-host ${hostFile}; net-update default add ip-dhcp-host "${host}" --config; net-dumpxml default`,
      `net-update default add ip-dhcp-host "${host}" --live --config; net-update default modify ip-dhcp-host "${host.replace("'a'", "'a2'")}"; net-update default delete ip-dhcp-host "<host name='a2'/>"; net-dumpxml default`,
      `net-update default add ip-dhcp-host --config "${host}"; net-destroy default; net-dumpxml default; net-update default delete ip-dhcp-host "<host name='a'/>"; net-dumpxml default; net-update default add ip-dhcp-host "${host}" --live; net-start default; net-dumpxml default`,
      `net-update default modify ip-dhcp-range "${range}"; net-update default delete ip-dhcp-range "<range start='192.168.122.2' end='192.168.122.254'/>"; net-update default add-first ip-dhcp-range "${range}"; net-update default add ip-dhcp-range "${range}"; net-dumpxml default`,
      `net-update default add dns-host "${dnsHost}"; net-update default add dns-host "${dnsHost}"; net-update default modify dns-host "${dnsHost}"; net-update default delete dns-host "<host ip='192.168.122.6'/>"; net-dumpxml default; net-update default delete dns-host "<host ip='192.168.122.5'/>"; net-dumpxml default`,
      `net-update default add dns-txt "<txt name='t1' value='v'/>"; net-update default add dns-txt "<txt name='t1' value='v'/>"; net-update default modify dns-txt "<txt name='t1' value='w'/>"; net-update default add dns-srv "<srv service='name' protocol='tcp' domain='d' target='.' port='1024' priority='10' weight='10'/>"; net-dumpxml default; net-update default delete dns-srv "<srv service='name'/>"; net-update default delete dns-txt "<txt name='t1'/>"; net-update default delete dns-txt "<txt name='t1'/>"`,
      `net-update default add portgroup "<portgroup name='pg1' default='yes'/>"; net-update default add portgroup "<portgroup name='pg2' default='yes'/>"; net-update default modify portgroup "<portgroup name='pg1'/>"; net-update default delete portgroup "<portgroup name='zz'/>"; net-dumpxml default`,
      `net-create ${n3}; net-update n3 add ip-dhcp-host "<host mac='52:54:00:00:00:01' ip='10.3.0.5'/>"; net-update n3 add ip-dhcp-host "<host mac='52:54:00:00:00:01' ip='10.3.0.5'/>" --parent-index 0; net-update n3 add ip-dhcp-host "<host id='0:1:2' name='h6' ip='fd00:3::5'/>"; net-update n3 add ip-dhcp-range "<range start='10.3.0.10' end='10.3.0.20'/>" --parent-index 0; net-update n3 add ip-dhcp-host --config "<host mac='52:54:00:00:00:01' ip='10.3.0.5'/>"; net-dumpxml n3`,
      // net-port-*: libvirt 9.0's test driver has no ports (the errors are the point).
      "help network",
      `net-port-list default; net-port-list default --uuid; net-port-list nope; net-port-list default --uuid --table`,
      `net-port-create default ${n2}; net-port-create nope ${n2}; net-port-create default ${join(dir, "missing.xml")}`,
      // virsh 9.0 exits 0 from these two whatever happens; tvirsh exits 1 (see `virshExits0`).
      "net-port-dumpxml default 12345678-1234-1234-1234-123456789abc",
      "net-port-dumpxml nope x --xpath //a",
      "net-port-delete default xyz",
      "net-port-delete nope x",
      // net-event: what test:///default can show in one process (no event arrives).
      "net-event --list; net-event; net-event --event foo; net-event --list --event lifecycle",
      "net-event --event lifecycle --timeout 1; net-event --event lifecycle --timeout 0",
      "net-event --event lifecycle --timeout 1 --network nope",
      "net-event --event lifecycle --timeout 1 --network default --loop --timestamp",
    ];
    for (const line of lines) {
      const args = line.startsWith("-q ") ? ["-q", line.slice(3)] : [line];
      const v = await runArgv(["virsh", "-c", "test:///default", ...args], { env });
      const ours = await tvirsh(...args);
      assert.equal(ours.out, v.stdout, `stdout of: ${line}`);
      assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
      // virsh 9.0's net-port-dumpxml and net-port-delete report a failure and exit 0.
      const virshExits0 = /^net-port-(dumpxml|delete) /.test(line);
      assert.equal(ours.status, virshExits0 ? 1 : v.code, `status of: ${line}`);
      if (virshExits0) assert.equal(v.code, 0, `virsh's status of: ${line}`);
    }
    // net-edit with $EDITOR a program run on the file (virsh through a shell, tvirsh without).
    const editor = join(dir, "editor.mjs");
    writeFileSync(
      editor,
      "import { readFileSync, writeFileSync } from 'node:fs';\n" +
        "const f = process.argv[process.argv.length - 1];\n" +
        "writeFileSync(f, readFileSync(f, 'utf8').replace('virbr0', 'virbr7'));\n",
    );
    const editors: [string, string][] = [
      [`${process.execPath} ${editor}`, "net-edit default; net-dumpxml default"],
      [
        `${process.execPath} ${editor}`,
        "net-destroy default; net-edit default; net-dumpxml default; net-start default",
      ],
      [`${process.execPath} ${editor}`, "net-edit nope"],
      ["true", "net-edit default"],
    ];
    const saved = { EDITOR: process.env.EDITOR, VISUAL: process.env.VISUAL };
    try {
      for (const [ed, line] of editors) {
        const v = await runArgv(["virsh", "-c", "test:///default", line], { env: { ...env, EDITOR: ed } });
        process.env.EDITOR = ed;
        delete process.env.VISUAL;
        const ours = await tvirsh(line);
        assert.equal(ours.out, v.stdout, `stdout of: ${line}`);
        assert.equal(ours.err, v.stderr, `stderr of: ${line}`);
        assert.equal(ours.status, v.code, `status of: ${line}`);
      }
    } finally {
      if (saved.EDITOR === undefined) delete process.env.EDITOR;
      else process.env.EDITOR = saved.EDITOR;
      if (saved.VISUAL !== undefined) process.env.VISUAL = saved.VISUAL;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every network command's --json document matches its schema", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-net-json-"));
  // net-edit's editor: one that changes nothing.
  const savedEditor = process.env.EDITOR;
  const savedVisual = process.env.VISUAL;
  process.env.EDITOR = "true";
  delete process.env.VISUAL;
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
      [
        "net-update",
        `net-update default add ip-dhcp-host "<host mac='52:54:00:00:00:01' ip='192.168.122.9'/>" --json`,
      ],
      [
        "net-update",
        `net-update default add dns-host "<host ip='192.168.122.5'><hostname>x</hostname></host>" --config --live --json`,
      ],
      ["net-edit", "net-edit default --json"],
      ["net-event", "net-event --list --json"],
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
    const upd = JSON.parse(
      (
        await tvirsh(
          `net-update default delete ip-dhcp-range "<range start='192.168.122.2' end='192.168.122.254'/>" --json`,
        )
      ).out,
    ) as unknown;
    assert.deepEqual(upd, {
      action: "updated",
      network: { name: "default", uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df" },
      command: "delete",
      section: "ip-dhcp-range",
      live: true,
      config: false,
    });
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
    if (savedEditor === undefined) delete process.env.EDITOR;
    else process.env.EDITOR = savedEditor;
    if (savedVisual !== undefined) process.env.VISUAL = savedVisual;
    rmSync(dir, { recursive: true, force: true });
  }
});

test("net-edit: a definition that fails asks again, and n leaves the network as it was", () => {
  // Not compared with virsh: without a terminal virsh 9.0 prints "Network (null) XML
  // configuration edited." and exits 0 here; tvirsh reads the answers from stdin.
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-net-edit-"));
  try {
    const editor = join(dir, "editor.mjs");
    writeFileSync(
      editor,
      "import { readFileSync, writeFileSync } from 'node:fs';\n" +
        "const f = process.argv[process.argv.length - 1];\n" +
        "writeFileSync(f, readFileSync(f, 'utf8').replace('<bridge', '<bridge<'));\n",
    );
    const r = spawnSync(
      process.execPath,
      [join(repo, "bin", "tvirsh.js"), "-c", "test:///default", "net-edit default; net-dumpxml default"],
      { encoding: "utf8", input: "f\nn\n", env: { ...env, EDITOR: `${process.execPath} ${editor}` } },
    );
    const bad =
      "error: (network_definition):5: error parsing attribute name\n" +
      "  <bridge< name='virbr0' stp='on' delay='0'/>\n---------^\n";
    assert.equal(
      r.stderr,
      bad +
        bad +
        "error: operation aborted: edit of network 'default' abandoned: the definition was not changed\n",
    );
    assert.match(
      r.stdout,
      /^Failed\. Try again\? \[y,n,f,\?\]: \nFailed\. Try again\? \[y,n,f,\?\]: \n\n<network>/,
    );
    assert.match(r.stdout, /<bridge name='virbr0' stp='on' delay='0'\/>/);
    assert.equal(r.status, 0, "the status is the last command's");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("net-event prints the lifecycle events another connection causes, as virsh words them", async () => {
  // test:///default is shared by the connections of this process while any is open.
  const other = await connect("test:///default");
  try {
    const io = new BufferIo();
    const waiting = main(
      [
        "-c",
        "test:///default",
        "net-event --event lifecycle --loop --timeout 2 --timestamp; net-event --event lifecycle --network default",
      ],
      io,
      {},
    );
    await new Promise((res) => setTimeout(res, 500));
    const net = await other.networkLookupByName("default");
    await net.destroy();
    await net.create();
    await new Promise((res) => setTimeout(res, 2500));
    await net.destroy();
    assert.equal(await waiting, 0, io.stderr);
    const ts = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+0000";
    assert.match(
      io.stdout,
      new RegExp(
        `^${ts}: event 'lifecycle' for network default: Stopped\\n` +
          `${ts}: event 'lifecycle' for network default: Started\\n` +
          "event loop timed out\\nevents received: 2\\n\\n" +
          "event 'lifecycle' for network default: Stopped\\nevents received: 1\\n\\n$",
      ),
    );
    // --json: the same events as documents.
    const json = new BufferIo();
    const w2 = main(["-c", "test:///default", "net-event --event lifecycle --json"], json, {});
    await new Promise((res) => setTimeout(res, 500));
    await net.create();
    assert.equal(await w2, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as unknown;
    assert.deepEqual(validate(doc, commandSchemas["net-event"]!), []);
    assert.deepEqual(doc, {
      events: [
        {
          event: "lifecycle",
          network: { name: "default", uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df" },
          lifecycle: { event: "started", eventCode: 2 },
        },
      ],
      count: 1,
      ended: "done",
    });
  } finally {
    await other.close();
  }
});

test("tvirsh runs a real network on qemu:///embed inside its own network namespace", async (t) => {
  const need = [
    ["unshare", "--version"],
    ["nft", "--version"],
    ["dnsmasq", "--version"],
    ["ip", "-V"],
  ];
  if (!(await rootAndTools(t, need))) return;
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
  if (!(await rootAndTools(t, need))) return;
  const root = mkdtempSync(join(tmpdir(), "tvirsh-netupd-embed-"));
  // dnsmasq reads the hosts files after dropping root: the root must be searchable by it.
  chmodSync(root, 0o755);
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
    // dnsmasq itself read the new files: it answers a client behind a port of the bridge (a
    // second namespace: queries from the bridge's own namespace arrive on lo, which dnsmasq
    // ignores) for the DNS host added at run time.
    const holder = await spawnArgv(["unshare", "--net", "sleep", "60"]);
    try {
      for (let i = 0; i < 100 && readProcCmdline(holder.pid)?.[0] !== "sleep"; i++) {
        await new Promise((res) => setTimeout(res, 20));
      }
      const ns = (
        target: number,
        ...argv: string[]
      ): Promise<{ stdout: string; stderr: string; code: number | null }> =>
        runArgv(["nsenter", `--net=/proc/${target}/ns/net`, ...argv], { env, timeoutMs: 30_000 });
      for (const argv of [
        ["ip", "link", "add", "tvupd-h", "type", "veth", "peer", "name", "eth0", "netns", String(holder.pid)],
        ["ip", "link", "set", "tvupd-h", "master", "tvbr1", "up"],
      ]) {
        const x = await ns(pid, ...argv);
        assert.equal(x.code, 0, x.stderr);
      }
      for (const argv of [
        ["ip", "addr", "add", "10.124.0.50/24", "dev", "eth0"],
        ["ip", "link", "set", "eth0", "up"],
      ]) {
        const x = await ns(holder.pid, ...argv);
        assert.equal(x.code, 0, x.stderr);
      }
      const query =
        "const r = new (require('node:dns').promises.Resolver)({ timeout: 1000, tries: 10 });" +
        "r.setServers(['10.124.0.1']);" +
        "r.resolve4(process.argv[1]).then((a) => console.log(a.join(' ')), (e) => console.log(e.code));";
      const web = await ns(holder.pid, process.execPath, "-e", query, "web");
      assert.equal(web.stdout, "10.124.0.7\n", web.stderr);
    } finally {
      holder.kill("SIGKILL");
    }
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

    // net-edit on the real driver: the definition for the next start changes, the live one not.
    const editor = join(root, "editor.mjs");
    writeFileSync(
      editor,
      "import { readFileSync, writeFileSync } from 'node:fs';\n" +
        "const f = process.argv[process.argv.length - 1];\n" +
        "writeFileSync(f, readFileSync(f, 'utf8').replace(\"name='b'\", \"name='b2'\"));\n",
    );
    r = await runArgv(["nsenter", `--net=/proc/${pid}/ns/net`, ...tvirsh, "net-edit unet"], {
      env: { ...env, EDITOR: `${process.execPath} ${editor}` },
      timeoutMs: 120_000,
    });
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "Network unet XML configuration edited.\n\n");
    r = await inNs("net-dumpxml unet --inactive --xpath //host/@name; net-dumpxml unet --xpath //host/@name");
    assert.equal(r.stdout, ' name="b2"\n\n name="b"\n\n');
    assert.equal(pidOf(), pid, "net-edit leaves the running dnsmasq alone");

    r = await inNs("net-destroy unet; net-undefine unet; net-list --all");
    assert.equal(r.stderr, "");
    assert.ok(!isProcessAlive(pid), "dnsmasq stopped with the network");
    assert.ok(!existsSync(join(dns, "unet.hostsfile")));
  } finally {
    if (pid && isProcessAlive(pid)) process.kill(pid, "SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
});
