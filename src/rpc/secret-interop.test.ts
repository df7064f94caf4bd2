/**
 * Secrets through tvirtd, against stock libvirt: stock virsh 9.0 asks a private stock libvirtd
 * (bench/libvirtd.ts, with its secret driver) and a private tvirtd (session daemon) the same
 * command sequences; stdout, stderr and status must be identical (libvirtd is the oracle for
 * the texts and errors), and tvirsh through tvirtd prints what virsh prints. The read-only
 * socket refuses get-value as libvirtd does. python3-libvirt defines, sets, reads, lists, looks
 * up by usage, receives SECRET_EVENT_LIFECYCLE / VALUE_CHANGED and undefines. On disk the value
 * file holds neither the value nor its base64, the key file is 0600, and a restarted tvirtd
 * still has the persistent secret and its value (the ephemeral one is gone).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "../../bench/libvirtd.ts";
import {
  privateSession,
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));
const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

const VOL = "6b0bd5c4-1f8e-4c55-9a4e-2b1d7c3e9f01";
const CEPH = "0f7e21aa-3c44-4b7a-8d52-6a9e1b2c3d4e";
const TLS = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

const files: Record<string, string> = {
  "vol.xml": `<secret ephemeral='no' private='no'>
  <uuid>${VOL}</uuid>
  <description>LUKS passphrase &amp; more</description>
  <usage type='volume'>
    <volume>/var/lib/tvirt/images/luks.img</volume>
  </usage>
</secret>
`,
  "ceph.xml": `<secret ephemeral='yes' private='yes'><uuid>${CEPH}</uuid><usage type='ceph'><name>client.admin secret</name></usage></secret>`,
  "tls.xml": `<secret><uuid>${TLS}</uuid><usage type='tls'><name>tls-creds</name></usage></secret>`,
  "vtpm.xml": `<secret><uuid>5d5e5f60-6162-4364-a566-676869707172</uuid><usage type='vtpm'><name>vtpm-1</name></usage></secret>`,
  "iscsi.xml": `<secret private='yes'><uuid>a1a2a3a4-b1b2-4c1c-9d1d-e1e2e3e4e5e6</uuid><description>iscsi</description><usage type='iscsi'><target>libvirtiscsi</target></usage></secret>`,
  "none.xml": `<secret><uuid>11112222-3333-4444-8555-666677778888</uuid></secret>`,
  "bad-root.xml": "<secrets/>",
  "bad-eph.xml": "<secret ephemeral='maybe'/>",
  "bad-usage.xml": "<secret><usage type='nfs'/></secret>",
  "bad-notype.xml": "<secret><usage/></secret>",
  "bad-vol.xml": "<secret><usage type='volume'><volume></volume></usage></secret>",
  "bad-ceph.xml": "<secret><usage type='ceph'/></secret>",
  "bad-iscsi.xml": "<secret><usage type='iscsi'/></secret>",
  "bad-tls.xml": "<secret><usage type='tls'/></secret>",
  "bad-vtpm.xml": "<secret><usage type='vtpm'/></secret>",
  "bad-uuid.xml": "<secret><uuid>not-a-uuid</uuid></secret>",
  "bad-syntax.xml": "<secret><uuid>",
  "dup-usage.xml": `<secret><usage type='volume'><volume>/var/lib/tvirt/images/luks.img</volume></usage></secret>`,
  "other-usage.xml": `<secret><uuid>${VOL}</uuid><usage type='volume'><volume>/other</volume></usage></secret>`,
  "unprivate.xml": `<secret private='no'><uuid>a1a2a3a4-b1b2-4c1c-9d1d-e1e2e3e4e5e6</uuid><usage type='iscsi'><target>libvirtiscsi</target></usage></secret>`,
  "value.b64": "UzNjcjN0IHBhc3NwaHJhc2U=",
  "value.txt": "plain passphrase",
  "big.txt": "x".repeat(2000),
};
const PLAIN = "S3cr3t passphrase";

let dir = "";
let session: ReturnType<typeof privateSession>;
let roURI = "";
let daemon: DaemonProcess;
let libvirtd: PrivateLibvirtd | undefined;
let skipLibvirtd: string | undefined;

async function startTvirtd(): Promise<DaemonProcess> {
  return spawnDaemon(
    ["--session", "--listen", session.sock, "--listen-ro", `${session.sock}-ro`, "--uri", "qemu:///session"],
    [session.sock, `${session.sock}-ro`],
    { env: session.env },
  );
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-secret-interop-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  session = privateSession(dir);
  roURI = `qemu+unix:///session?socket=${session.sock}-ro`;
  daemon = await startTvirtd();
  skipLibvirtd = libvirtdUnavailable();
  if (skipLibvirtd === undefined) libvirtd = await startLibvirtd(join(dir, "libvirtd"));
});

after(async () => {
  const code = await daemon.stop();
  assert.equal(code, 0, `tvirtd exit status; stderr: ${daemon.stderr()}`);
  await libvirtd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const runIn = (bin: string, args: string[], input?: string): Promise<RunResult> =>
  run(bin, args, { env, cwd: dir, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });

/**
 * The same commands through stock libvirtd and tvirtd with stock virsh (same output), then tvirsh
 * through tvirtd (same output). `ro`: on the read-only sockets. Returns tvirtd's virsh result.
 */
async function same(
  virsh: string,
  cmds: string,
  opts: { ro?: boolean; tvirsh?: boolean } = {},
): Promise<RunResult> {
  const tvURI = opts.ro ? roURI : session.uri;
  const t0 = Date.now();
  const remote = await runIn(virsh, ["-c", tvURI, cmds]);
  if (process.env.SECRET_TIMING) console.error(`tvirtd ${cmds}: ${Date.now() - t0} ms`);
  if (libvirtd) {
    const sock = opts.ro ? `${libvirtd.socket}-ro` : libvirtd.socket;
    const t1 = Date.now();
    const stock = await runIn(virsh, ["-c", `qemu+unix:///system?socket=${sock}`, cmds]);
    if (process.env.SECRET_TIMING) console.error(`libvirtd ${cmds}: ${Date.now() - t1} ms`);
    assert.equal(remote.stdout, stock.stdout, `virsh stdout of '${cmds}' (tvirtd vs libvirtd)`);
    assert.equal(remote.stderr, stock.stderr, `virsh stderr of '${cmds}' (tvirtd vs libvirtd)`);
    assert.equal(remote.code, stock.code, `virsh status of '${cmds}' (tvirtd vs libvirtd)`);
  }
  return remote;
}

/** tvirsh through tvirtd prints what virsh printed (for commands that leave the state alone). */
async function tvSame(virsh: string, cmds: string, ro = false): Promise<RunResult> {
  const uri = ro ? roURI : session.uri;
  const v = await runIn(virsh, ["-c", uri, cmds]);
  const tv = await runIn(process.execPath, [tvirshBin, "-c", uri, cmds]);
  assert.equal(tv.stdout, v.stdout, `tvirsh stdout of '${cmds}'`);
  assert.equal(tv.stderr, v.stderr, `tvirsh stderr of '${cmds}'`);
  assert.equal(tv.code, v.code, `tvirsh status of '${cmds}'`);
  return v;
}

test("stock virsh: secret-define / -list / -dumpxml / -set-value / -get-value / -undefine, tvirtd = libvirtd", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  if (skipLibvirtd !== undefined) {
    if (process.env.CI === "true") throw new Error(`${skipLibvirtd}: it is required under CI`);
    t.diagnostic(`no stock libvirtd to compare with (${skipLibvirtd}): tvirsh vs virsh only`);
  }
  const defs = await same(
    virsh,
    "secret-define vol.xml; secret-define ceph.xml; secret-define tls.xml; secret-define vtpm.xml; " +
      "secret-define iscsi.xml; secret-define none.xml; secret-list",
  );
  assert.match(defs.stdout, new RegExp(`^ ${VOL} +volume /var/lib/tvirt/images/luks.img$`, "m"));
  assert.match(defs.stdout, /^ 11112222-3333-4444-8555-666677778888 +Unused$/m);
  const bad = Object.keys(files).filter(
    (n) => n.startsWith("bad-") || n.endsWith("-usage.xml") || n === "unprivate.xml",
  );
  for (const f of bad) {
    const r = await same(virsh, `secret-define ${f}`);
    assert.equal(r.code, 1, f);
  }
  // tvirsh starts slowly on a loaded machine: one run of all of them
  await tvSame(virsh, bad.map((f) => `secret-define ${f}`).join("; "));
  const reads = [
    "secret-list",
    "secret-list --ephemeral",
    "secret-list --no-ephemeral",
    "secret-list --private",
    "secret-list --no-private",
    "secret-list --ephemeral --no-private",
    `secret-dumpxml ${VOL}`,
    `secret-dumpxml ${CEPH}`,
    `secret-dumpxml --xpath //usage/@type ${TLS}`,
    "secret-dumpxml 00000000-0000-0000-0000-000000000000",
    "secret-dumpxml nonsense",
    `secret-get-value ${VOL}`,
    "secret-event --list",
    "secret-event",
    "secret-event --event nosuch",
  ];
  for (const c of reads) await same(virsh, c);
  await tvSame(virsh, reads.join("; "));
  const set = [
    `secret-set-value ${VOL} --file value.b64; secret-get-value ${VOL}; secret-get-value --plain ${VOL}`,
    `secret-set-value ${TLS} --file value.txt --plain; secret-get-value --plain ${TLS}`,
    `secret-set-value ${TLS} --base64 aGVsbG8=; secret-get-value ${TLS}`,
    `secret-set-value ${TLS} --file nosuch`,
    `secret-set-value ${TLS} --file big.txt --plain`,
    `secret-set-value ${TLS}`,
    `secret-set-value ${TLS} --interactive --plain`,
    `secret-set-value ${CEPH} --base64 Y2VwaA==; secret-get-value ${CEPH}`,
    "secret-set-value 00000000-0000-0000-0000-000000000000 --base64 eA==",
  ];
  for (const c of set) await same(virsh, c);
  await tvSame(virsh, set.join("; "));
  const got = await same(virsh, `secret-get-value --plain ${VOL}`);
  assert.equal(got.stdout, `${PLAIN}\n`);
  // --interactive reads a line from stdin when it is not a terminal
  const typed = `secret-set-value ${TLS} --interactive; secret-get-value --plain ${TLS}`;
  const vi = await runIn(virsh, ["-c", session.uri, typed], "typed in\n");
  const ti = await runIn(process.execPath, [tvirshBin, "-c", session.uri, typed], "typed in\n");
  assert.equal(ti.stdout, vi.stdout);
  assert.equal(ti.stderr, vi.stderr);
  assert.match(vi.stdout, /^Enter new value for secret:Secret value set\n\ntyped in\n/);
  // read-only: lists and XML yes, values and changes no
  const roCmds = [
    "secret-list",
    `secret-dumpxml ${VOL}`,
    `secret-get-value ${VOL}`,
    `secret-set-value ${VOL} --file value.b64`,
    `secret-undefine ${VOL}`,
    "secret-define tls.xml",
  ];
  for (const c of roCmds) await same(virsh, c, { ro: true });
  await tvSame(virsh, roCmds.join("; "), true);
  const ro = await tvSame(virsh, `secret-get-value ${VOL}`, true);
  assert.match(ro.stderr, /operation forbidden: read only access prevents virSecretGetValue/);
  // undefine, each way (tvirsh on its own secret)
  await same(
    virsh,
    "secret-undefine 5d5e5f60-6162-4364-a566-676869707172; secret-undefine 5d5e5f60-6162-4364-a566-676869707172; secret-list",
  );
  const tvUndef = await runIn(process.execPath, [
    tvirshBin,
    "-c",
    session.uri,
    "secret-undefine 11112222-3333-4444-8555-666677778888",
  ]);
  assert.equal(tvUndef.stdout, "Secret 11112222-3333-4444-8555-666677778888 deleted\n\n");
  if (libvirtd)
    await runIn(virsh, [
      "-c",
      `qemu+unix:///system?socket=${libvirtd.socket}`,
      "secret-undefine 11112222-3333-4444-8555-666677778888",
    ]);
  await same(virsh, "secret-list");
});

test("tvirsh --json: secret-list and secret-get-value", async (t) => {
  if (!virshOrSkip(t)) return;
  await runIn(process.execPath, [tvirshBin, "-c", session.uri, "secret-define vol.xml"]);
  await runIn(process.execPath, [tvirshBin, "-c", session.uri, `secret-set-value ${VOL} --file value.b64`]);
  const list = await runIn(process.execPath, [
    tvirshBin,
    "-c",
    session.uri,
    "secret-list --no-ephemeral --json",
  ]);
  assert.equal(list.code, 0, list.stderr);
  const doc = JSON.parse(list.stdout) as { secrets: { uuid: string; usageType: string; usageID: string }[] };
  assert.ok(
    doc.secrets.some(
      (s) => s.uuid === VOL && s.usageType === "volume" && s.usageID === "/var/lib/tvirt/images/luks.img",
    ),
  );
  const v = await runIn(process.execPath, [tvirshBin, "-c", session.uri, `secret-get-value ${VOL} --json`]);
  assert.deepEqual(JSON.parse(v.stdout), { value: files["value.b64"] });
});

test("python3-libvirt: define, set, get, list, lookups, events and a read-only refusal through tvirtd", async (t) => {
  const py = pythonLibvirtOrSkip(t);
  if (!py) return;
  const script = `
import json, sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
c = libvirt.open(sys.argv[1])
events = []
def life(conn, sec, event, detail, opaque):
    events.append(['lifecycle', sec.UUIDString(), event, detail])
def changed(conn, sec, opaque):
    events.append(['value-changed', sec.UUIDString()])
c1 = c.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, life, None)
c2 = c.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, changed, None)
xml = "<secret ephemeral='no' private='no'><uuid>c0ffee00-1111-4222-8333-444455556666</uuid><usage type='ceph'><name>py-ceph</name></usage></secret>"
s = c.secretDefineXML(xml)
s.setValue(b'\\x00binary\\xffvalue')
out = {
  'uuid': s.UUIDString(), 'usageType': s.usageType(), 'usageID': s.usageID(),
  'value': list(s.value()),
  'byUsage': c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, 'py-ceph').UUIDString(),
  'byUUID': c.secretLookupByUUIDString('c0ffee00-1111-4222-8333-444455556666').usageID(),
  'num': c.numOfSecrets(), 'uuids': sorted(c.listSecrets()),
  'all': sorted(x.UUIDString() for x in c.listAllSecrets()),
  'xml': s.XMLDesc(),
}
ro = libvirt.openReadOnly(sys.argv[2])
rs = ro.secretLookupByUUIDString('c0ffee00-1111-4222-8333-444455556666')
try:
    rs.value()
    out['roValue'] = 'allowed'
except libvirt.libvirtError as e:
    out['roValue'] = [e.get_error_code(), e.get_error_message()]
try:
    c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, '/nope')
except libvirt.libvirtError as e:
    out['noUsage'] = [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
s.undefine()
deadline = time.time() + 10
while len(events) < 3 and time.time() < deadline:
    time.sleep(0.05)
c.secretEventDeregisterAny(c1)
c.secretEventDeregisterAny(c2)
out['events'] = events
print(json.dumps(out))
`;
  const r = await run(py, ["-c", script, session.uri, roURI], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  const U = "c0ffee00-1111-4222-8333-444455556666";
  assert.equal(out.uuid, U);
  assert.equal(out.usageType, 2);
  assert.equal(out.usageID, "py-ceph");
  assert.deepEqual(out.value, [...Buffer.from("\0binary\xffvalue", "latin1")]);
  assert.equal(out.byUsage, U);
  assert.equal(out.byUUID, "py-ceph");
  assert.ok((out.uuids as string[]).includes(U));
  assert.ok((out.all as string[]).includes(U));
  assert.equal(out.num, (out.all as string[]).length);
  assert.match(String(out.xml), /<usage type='ceph'>\n {4}<name>py-ceph<\/name>/);
  assert.deepEqual(out.roValue, [29, "operation forbidden: read only access prevents virSecretGetValue"]);
  assert.deepEqual(out.noUsage, [66, 30, "Secret not found: no secret with matching usage '/nope'"]);
  assert.deepEqual(out.events, [
    ["lifecycle", U, 0, 0],
    ["value-changed", U],
    ["lifecycle", U, 1, 0],
  ]);
});

test("on disk: the value file is not the value, the key is 0600; a restarted tvirtd keeps the persistent secret", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const sdir = join(dir, "config", "tvirt", "secrets");
  const v = await runIn(virsh, [
    "-c",
    session.uri,
    `secret-define vol.xml; secret-set-value ${VOL} --file value.b64; secret-define ceph.xml; secret-set-value ${CEPH} --base64 Y2VwaA==`,
  ]);
  assert.equal(v.code, 0, v.stderr);
  const names = readdirSync(sdir).sort();
  assert.ok(names.includes(`${VOL}.xml`) && names.includes(`${VOL}.base64`), names.join(" "));
  assert.ok(
    !names.some((n) => n.startsWith(CEPH)),
    `the ephemeral secret stays off the disk: ${names.join(" ")}`,
  );
  const onDisk = readFileSync(join(sdir, `${VOL}.base64`));
  assert.ok(!onDisk.includes(PLAIN), "plain value on disk");
  assert.ok(!onDisk.includes(files["value.b64"]!), "base64 value on disk");
  assert.ok(!Buffer.from(onDisk.toString(), "base64").includes(PLAIN), "decoded file holds the value");
  assert.equal(statSync(join(sdir, "secrets-encryption-key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(sdir, `${VOL}.base64`)).mode & 0o777, 0o600);
  assert.ok(!daemon.stderr().includes(PLAIN), "value in the daemon's log");
  assert.equal(await daemon.stop(), 0, daemon.stderr());
  daemon = await startTvirtd();
  const after = await runIn(virsh, [
    "-c",
    session.uri,
    `secret-get-value --plain ${VOL}; secret-list --ephemeral`,
  ]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, `${PLAIN}\n UUID   Usage\n---------------\n\n`);
});
