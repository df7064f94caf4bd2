/**
 * Stock virsh 9.0 and python3-libvirt against tvirtd for storage pools and volumes.
 *
 * - A private tvirtd serves `test:///default`: pool-list / pool-info / pool-dumpxml / vol-list /
 *   vol-create-as / vol-info / vol-dumpxml / vol-path / vol-key / vol-pool / vol-delete and the
 *   pool lifecycle print exactly what virsh prints on `test:///default` directly (one virsh
 *   process each, so both see the same sequence), errors included; a read-only socket refuses
 *   changes; `virsh pool-event --loop --timeout` prints the lifecycle events another client
 *   causes; python3-libvirt lists pools and volumes, reads info and XML, the old name lists,
 *   and receives lifecycle and refresh events.
 * - libvirt's test driver cannot upload or download, so the streams run against an in-process
 *   server whose storage driver is a directory of files (`testing/rpc/file-storage.ts`): virsh
 *   vol-upload / vol-download of a file, plain and `--sparse` (holes travel as STREAM_HOLE
 *   packets and stay holes), checksums equal; tvirt's remote driver the same, and a slow
 *   download consumer against a server that drops clients queueing more than 4 MiB.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
  closeSync,
  ftruncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { connect, registerDriver, unregisterDriver } from "../api/index.ts";
import {
  StorageVolDownloadFlags,
  StorageVolUploadFlags,
  type StreamHole,
} from "../drivers/storage-driver.ts";
import "./register.ts";
import {
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  startTestServer,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
  type TestServer,
} from "../testing/rpc/harness.ts";
import {
  fileStorage,
  fileStorageConnectDriver,
  fileStorageLog,
  makeFileVolume,
} from "../testing/rpc/file-storage.ts";

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));
const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

let dir = "";
let sock = "";
let roSock = "";
let uri = "";
let roURI = "";
let daemon: DaemonProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-storage-interop-"));
  sock = join(dir, "sock");
  roSock = join(dir, "sock-ro");
  uri = `test+unix:///default?socket=${sock}`;
  roURI = `test+unix:///default?socket=${roSock}`;
  daemon = await spawnDaemon(
    ["--uri", "test:///default", "--listen", sock, "--listen-ro", roSock],
    [sock, roSock],
  );
});

after(async () => {
  const code = await daemon.stop();
  assert.equal(code, 0, `tvirtd exit status; stderr: ${daemon.stderr()}`);
  rmSync(dir, { recursive: true, force: true });
});

const virshRun = (bin: string, args: string[]): Promise<RunResult> =>
  run(bin, args, { env, cwd: dir, timeoutMs: 60_000 });

/**
 * virsh through tvirtd, virsh on test:///default directly and tvirsh through tvirtd: same
 * output and status.
 */
async function same(virsh: string, cmds: string, ro = false): Promise<RunResult> {
  const r = ro ? ["-r"] : [];
  const direct = await virshRun(virsh, [...r, "-c", "test:///default", cmds]);
  const remote = await virshRun(virsh, ["-c", ro ? roURI : uri, cmds]);
  assert.equal(remote.stdout, direct.stdout, `virsh stdout of '${cmds}'`);
  assert.equal(remote.stderr, direct.stderr, `virsh stderr of '${cmds}'`);
  assert.equal(remote.code, direct.code, `virsh status of '${cmds}'`);
  const tv = await virshRun(process.execPath, [tvirshBin, "-c", ro ? roURI : uri, cmds]);
  assert.equal(tv.stdout, remote.stdout, `tvirsh stdout of '${cmds}'`);
  assert.equal(tv.stderr, remote.stderr, `tvirsh stderr of '${cmds}'`);
  assert.equal(tv.code, remote.code, `tvirsh status of '${cmds}'`);
  return remote;
}

test("virsh pool-list / pool-info / pool-dumpxml / vol-list through tvirtd = virsh on test:///default", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const list = await same(virsh, "pool-list --all --details");
  assert.match(list.stdout, /^ default-pool +running +no +yes +100\.00 GiB +0\.00 B +100\.00 GiB$/m);
  await same(virsh, "pool-list");
  await same(virsh, "pool-list --all --name");
  await same(virsh, "pool-list --uuid --type dir");
  await same(virsh, "pool-list --inactive");
  const info = await same(virsh, "pool-info default-pool");
  assert.match(info.stdout, /^UUID: +dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566$/m);
  await same(virsh, "pool-info dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566");
  assert.match((await same(virsh, "pool-dumpxml default-pool")).stdout, /<path>\/default-pool<\/path>/);
  await same(virsh, "pool-dumpxml --inactive default-pool");
  await same(virsh, "pool-uuid default-pool");
  await same(virsh, "pool-name dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566");
  await same(virsh, "vol-list default-pool --details");
  await same(virsh, "vol-list default-pool");
  const nf = await same(virsh, "pool-info nosuch");
  assert.equal(nf.code, 1);
  assert.match(nf.stderr, /Storage pool not found: no storage pool with matching name 'nosuch'/);
  // libvirt's test driver has neither; its errors travel unchanged
  await same(virsh, "pool-capabilities");
  await same(virsh, "find-storage-pool-sources logical");
});

test("virsh vol-create-as / vol-info / vol-dumpxml / vol-path / vol-key / vol-pool / vol-delete through tvirtd", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const r = await same(
    virsh,
    [
      "vol-create-as default-pool v1.img 10M",
      "vol-create-as default-pool v2.qcow2 1G --format qcow2",
      "vol-list default-pool --details",
      "vol-info v1.img --pool default-pool",
      "vol-info /default-pool/v2.qcow2",
      "vol-dumpxml v1.img --pool default-pool",
      "vol-path v1.img --pool default-pool",
      "vol-key v2.qcow2 --pool default-pool",
      "vol-name /default-pool/v1.img",
      "vol-pool /default-pool/v1.img",
      "vol-pool --uuid /default-pool/v1.img",
      "pool-info default-pool",
      "vol-create-as default-pool v1.img 1M",
      "vol-delete v1.img --pool default-pool",
      "vol-delete /default-pool/v2.qcow2",
      "vol-list default-pool",
    ].join("; "),
  );
  assert.match(r.stdout, /^ v1\.img +\/default-pool\/v1\.img +file +10\.00 MiB +10\.00 MiB$/m);
  assert.match(r.stdout, /Vol v1\.img deleted/);
  assert.match(r.stderr, /Failed to create vol v1\.img\nerror: operation failed: storage vol already exists/);
  // the daemon's state is back: no volume left
  assert.doesNotMatch((await same(virsh, "vol-list default-pool")).stdout, /v1\.img|v2\.qcow2/);
  const up = await same(
    virsh,
    "vol-create-as default-pool u.img 1M; vol-upload u.img /dev/null --pool default-pool; vol-delete u.img --pool default-pool",
  );
  assert.match(up.stderr, /not supported by the connection driver: virStorageVolUpload/);
});

test("virsh pool-define-as / build / start / autostart / refresh / destroy / delete / undefine through tvirtd", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const r = await same(
    virsh,
    [
      "pool-define-as rpcpool dir --target /rpcpool",
      "pool-list --all --details",
      "pool-build rpcpool",
      "pool-start rpcpool",
      "pool-autostart rpcpool",
      "pool-list --all --autostart",
      "pool-refresh rpcpool",
      "pool-destroy rpcpool",
      "pool-delete rpcpool",
      "pool-autostart rpcpool --disable",
      "pool-undefine rpcpool",
      "pool-list --all",
      "pool-create-as tpool dir --target /tpool",
      "pool-list --all --transient",
      "pool-destroy tpool",
      "pool-list --all",
    ].join("; "),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Pool rpcpool defined/);
  assert.match(r.stdout, /^ rpcpool +active +yes$/m);
  assert.match(r.stdout, /Pool tpool created/);
  assert.doesNotMatch((await same(virsh, "pool-list --all")).stdout, /rpcpool|tpool/);
});

test("a read-only socket refuses storage changes with libvirt's error", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  for (const [cmd, api] of [
    ["vol-create-as default-pool x.img 1M", "virStorageVolCreateXML"],
    ["pool-destroy default-pool", "virStoragePoolDestroy"],
    ["pool-refresh default-pool", "virStoragePoolRefresh"],
  ] as const) {
    const r = await same(virsh, cmd, true);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`operation forbidden: read only access prevents ${api}`));
  }
  assert.match((await same(virsh, "pool-list --all --details", true)).stdout, /^ default-pool +running/m);
});

test("virsh pool-event --loop --timeout prints the lifecycle events another client causes", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const child = spawn(virsh, ["-c", uri, "pool-event --event lifecycle --loop --timeout 8"], { env });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) => child.once("close", resolve));
  try {
    // virsh has registered once it reports a probe pool's definition
    for (let i = 0; i < 20 && !out.includes("probe"); i++) {
      const p = await virshRun(virsh, [
        "-c",
        uri,
        "pool-define-as probe dir --target /probe; pool-undefine probe",
      ]);
      assert.equal(p.code, 0, p.stderr);
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = await virshRun(virsh, [
      "-c",
      uri,
      "pool-define-as evpool dir --target /evpool; pool-start evpool; pool-destroy evpool; pool-undefine evpool",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await done, 0);
  } finally {
    child.kill();
  }
  const lines = out.split("\n");
  assert.deepEqual(
    lines.filter((l) => !l.includes("probe")),
    [
      "event 'lifecycle' for storage pool evpool: Defined",
      "event 'lifecycle' for storage pool evpool: Started",
      "event 'lifecycle' for storage pool evpool: Stopped",
      "event 'lifecycle' for storage pool evpool: Undefined",
      "event loop timed out",
      `events received: ${lines.filter((l) => l.startsWith("event '")).length}`,
      "",
      "",
    ],
  );
  // virsh may have registered between a probe's define and undefine: it saw one of the two
  assert.ok(/^event 'lifecycle' for storage pool probe: (Defined|Undefined)$/m.test(out), out);
});

test("python3-libvirt: pools, volumes, info, XML, name lists and pool events through tvirtd", async (t) => {
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
def lc(conn, pool, event, detail, opaque):
    events.append(['lifecycle', pool.name(), event, detail])
def rf(conn, pool, opaque):
    events.append(['refresh', pool.name()])
ids = [c.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, lc, None),
       c.storagePoolEventRegisterAny(None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, rf, None)]
p = c.storagePoolLookupByName('default-pool')
v = p.createXML("<volume><name>py.img</name><capacity unit='M'>4</capacity></volume>", 0)
out = {
  'all': [x.name() for x in c.listAllStoragePools()],
  'active': c.listStoragePools(), 'num': c.numOfStoragePools(),
  'defined': c.listDefinedStoragePools(), 'numDefined': c.numOfDefinedStoragePools(),
  'info': p.info(), 'uuid': p.UUIDString(),
  'byUUID': c.storagePoolLookupByUUIDString(p.UUIDString()).name(),
  'isActive': p.isActive(), 'isPersistent': p.isPersistent(), 'autostart': p.autostart(),
  'vols': [x.name() for x in p.listAllVolumes()], 'volNames': p.listVolumes(), 'numVols': p.numOfVolumes(),
  'volInfo': v.info(), 'volPath': v.path(), 'volKey': v.key(),
  'byPath': c.storageVolLookupByPath(v.path()).name(), 'byKey': c.storageVolLookupByKey(v.key()).name(),
  'poolOfVol': v.storagePoolLookupByVolume().name(),
  'volXMLHasName': '<name>py.img</name>' in v.XMLDesc(),
  'poolXMLHasTarget': '<path>/default-pool</path>' in p.XMLDesc(),
}
v.delete(0)
q = c.storagePoolDefineXML("<pool type='dir'><name>pypool</name><target><path>/pypool</path></target></pool>", 0)
q.create(0); q.refresh(0); q.destroy(); q.undefine()
deadline = time.time() + 10
while len(events) < 5 and time.time() < deadline:
    time.sleep(0.05)
for i in ids:
    c.storagePoolEventDeregisterAny(i)
out['events'] = events
print(json.dumps(out))
`;
  const r = await run(py, ["-c", script, uri], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    all: ["default-pool"],
    active: ["default-pool"],
    num: 1,
    defined: [],
    numDefined: 0,
    info: [2, 107374182400, 4194304, 107369988096],
    uuid: "dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566",
    byUUID: "default-pool",
    isActive: 1,
    isPersistent: 1,
    autostart: 0,
    vols: ["py.img"],
    volNames: ["py.img"],
    numVols: 1,
    volInfo: [0, 4194304, 4194304],
    volPath: "/default-pool/py.img",
    volKey: "/default-pool/py.img",
    byPath: "py.img",
    byKey: "py.img",
    poolOfVol: "default-pool",
    volXMLHasName: true,
    poolXMLHasTarget: true,
    events: [
      ["lifecycle", "pypool", 0, 0],
      ["lifecycle", "pypool", 2, 0],
      ["refresh", "pypool"],
      ["lifecycle", "pypool", 3, 0],
      ["lifecycle", "pypool", 1, 0],
    ],
  });
});

test("procprobe.py: every storage procedure virt-manager, nova, ansible and terraform use is known", async (t) => {
  const probe = fileURLToPath(new URL("../../../shared/tools/procprobe.py", import.meta.url));
  const data = fileURLToPath(new URL("../../../shared/reference/client-procedures.json", import.meta.url));
  if (!existsSync(probe) || !existsSync(data)) {
    if (process.env.CI === "true")
      assert.fail("../shared/tools/procprobe.py and its data are required under CI");
    t.skip("../shared/tools/procprobe.py or its client-procedures.json is missing");
    return;
  }
  const r = await run("python3", [probe, sock, data, "0"], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const missing = /missing: (.*)$/m.exec(r.stdout)?.[1]?.split(" ") ?? [];
  const used = (JSON.parse(readFileSync(data, "utf8")) as { clients: Record<string, string[]> }).clients;
  const storageProcs = [...new Set(Object.values(used).flat())].filter((p) => /STORAGE/.test(p));
  assert.ok(storageProcs.includes("STORAGE_VOL_UPLOAD"), storageProcs.join(" "));
  assert.deepEqual(
    storageProcs.filter((p) => missing.includes(p)),
    [],
  );
});

// --- volume streams: a storage driver with files behind it ---------------------------------

const MiB = 1024 * 1024;
/** Read through a call: the assertions before it must not narrow the counter to 0. */
const holesReceived = (): number => fileStorageLog.holesReceived;
const openStreams = (): number => fileStorageLog.openStreams;
const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");
/** Bytes the file really occupies (its holes excluded). */
const allocated = (path: string): number => statSync(path).blocks * 512;

/** A file of `size` bytes: random data in the given MiB ranges, holes elsewhere. */
function sparseSource(path: string, size: number, dataMiB: readonly [number, number][]): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, size);
    for (const [from, to] of dataMiB)
      writeSync(fd, randomBytes((to - from) * MiB), 0, (to - from) * MiB, from * MiB);
  } finally {
    closeSync(fd);
  }
}

let srv: TestServer;
let fileURI = "";
let src = "";

async function withFileServer(fn: () => Promise<void>): Promise<void> {
  fileStorage.dir = join(dir, "pool");
  rmSync(fileStorage.dir, { recursive: true, force: true });
  mkdirSync(fileStorage.dir);
  registerDriver(fileStorageConnectDriver);
  // a client that queues more than 4 MiB unread is dropped: downloads must wait for the socket
  srv = await startTestServer({ maxQueuedBytes: 4 * MiB });
  fileURI = `filevol+unix:///x?socket=${srv.path}`;
  src = join(dir, "src.img");
  try {
    await fn();
  } finally {
    await srv.close();
    unregisterDriver(fileStorageConnectDriver);
  }
}

test("virsh vol-upload / vol-download through the daemon: same bytes back, --sparse keeps holes", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  await withFileServer(async () => {
    const size = 24 * MiB;
    sparseSource(src, size, [
      [0, 2],
      [9, 10],
      [20, 21],
    ]);
    const v = (cmds: string): Promise<RunResult> => virshRun(virsh, ["-c", fileURI, cmds]);
    let r = await v(`vol-create-as files plain.img ${size}; vol-create-as files sparse.img ${size}`);
    assert.equal(r.code, 0, r.stderr);
    // plain: every byte travels as data
    r = await v(`vol-upload plain.img ${src} --pool files`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fileStorageLog.holesReceived, 0);
    assert.equal(sha(join(fileStorage.dir, "plain.img")), sha(src));
    const out = join(dir, "plain.out");
    r = await v(`vol-download plain.img ${out} --pool files`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(out), sha(src));
    // sparse: the holes of the source arrive as holes, and go back as holes
    r = await v(`vol-upload sparse.img ${src} --pool files --sparse`);
    assert.equal(r.code, 0, r.stderr);
    const holesIn = holesReceived(); // the count the daemon's driver saw
    assert.ok(holesIn >= 2, `holes received: ${holesIn}`);
    const vol = join(fileStorage.dir, "sparse.img");
    assert.equal(sha(vol), sha(src));
    assert.ok(allocated(vol) <= 6 * MiB, `volume allocation ${allocated(vol)}`);
    const sparseOut = join(dir, "sparse.out");
    r = await v(`vol-download sparse.img ${sparseOut} --pool files --sparse`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fileStorageLog.holesSent >= 2, `holes sent: ${fileStorageLog.holesSent}`);
    assert.equal(statSync(sparseOut).size, size);
    assert.equal(sha(sparseOut), sha(src));
    assert.ok(allocated(sparseOut) <= 6 * MiB, `downloaded allocation ${allocated(sparseOut)}`);
    // an offset and a length: only that window travels
    const part = join(dir, "part.out");
    r = await v(`vol-download plain.img ${part} --pool files --offset ${MiB} --length ${MiB}`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(part), readFileSync(src).subarray(MiB, 2 * MiB));
    // a missing volume: the driver's error, and no stream
    r = await v(`vol-download nosuch.img ${part} --pool files`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Storage volume not found: no storage vol with matching path 'nosuch.img'/);
    // the volume fails in the middle of an upload: the daemon's stream error reaches virsh
    r = await v(`vol-upload plain.img ${src} --pool files --length ${MiB}`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /upload beyond the requested length 1048576/);
    // tvirsh through the daemon: the same round trip, the same output
    const tv = (cmds: string): Promise<RunResult> =>
      virshRun(process.execPath, [tvirshBin, "-c", fileURI, cmds]);
    r = await tv(`vol-create-as files tv.img ${size}; vol-upload tv.img ${src} --pool files --sparse`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(join(fileStorage.dir, "tv.img")), sha(src));
    assert.ok(allocated(join(fileStorage.dir, "tv.img")) <= 6 * MiB);
    const tvOut = join(dir, "tv.out");
    r = await tv(`vol-download tv.img ${tvOut} --pool files --sparse`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(tvOut), sha(src));
    assert.ok(allocated(tvOut) <= 6 * MiB, `tvirsh's download allocation ${allocated(tvOut)}`);
    for (const cmd of [
      `vol-download nosuch.img ${part} --pool files`,
      `vol-upload plain.img ${src} --pool files --length ${MiB}`,
    ])
      assert.deepEqual(await tv(cmd), await v(cmd), cmd);
  });
});

test("tvirt's remote driver: upload with holes, sparse and plain download, a slow reader", async () => {
  await withFileServer(async () => {
    const size = 16 * MiB;
    await makeFileVolume("api.img", size);
    const data = randomBytes(3 * MiB);
    const c = await connect(fileURI);
    try {
      const pool = await c.storagePoolLookupByName("files");
      const vol = await pool.storageVolLookupByName("api.img");
      const before = fileStorageLog.holesReceived;
      const up = await vol.upload(0n, 0n, StorageVolUploadFlags.SPARSE_STREAM);
      await up.write(data.subarray(0, MiB));
      await up.write({ hole: 8 * MiB });
      await up.write(data.subarray(MiB));
      await up.finish();
      assert.equal(fileStorageLog.holesReceived, before + 1);
      const want = Buffer.alloc(size);
      data.copy(want, 0, 0, MiB);
      data.copy(want, 9 * MiB, MiB);
      assert.deepEqual(readFileSync(join(fileStorage.dir, "api.img")), want);

      // sparse download: holes come back as holes
      const items: (Buffer | StreamHole)[] = [];
      for await (const it of await vol.download(0n, 0n, StorageVolDownloadFlags.SPARSE_STREAM))
        items.push(it instanceof Uint8Array ? Buffer.from(it) : it);
      const holes = items.filter((i): i is StreamHole => "hole" in i);
      assert.deepEqual(holes, [{ hole: 8 * MiB }, { hole: size - 11 * MiB }]);
      const rebuilt = Buffer.concat(items.map((i) => ("hole" in i ? Buffer.alloc(i.hole) : i)));
      assert.ok(rebuilt.equals(want));

      // a plain download whose reader starts late: the remote driver stops reading the socket
      // at 8 MiB buffered, and the daemon waits for the socket instead of queueing the rest of
      // the volume (it would drop a client with more than 4 MiB unsent)
      let got = 0;
      const hash = createHash("sha256");
      const slow = await vol.download(0n, 0n, 0);
      await new Promise((r) => setTimeout(r, 1000));
      for await (const it of slow) {
        assert.ok(it instanceof Uint8Array, "no holes on a plain stream");
        hash.update(it);
        got += it.length;
      }
      assert.equal(got, size);
      assert.equal(hash.digest("hex"), createHash("sha256").update(want).digest("hex"));

      // a hole on a stream opened without the sparse flag: the daemon's error
      const plain = await vol.upload(0n, 0n, 0);
      await plain.write({ hole: MiB }).catch(() => undefined);
      await assert.rejects(plain.finish(), /Unexpected stream hole/);

      // an aborted upload leaves the connection usable
      const ab = await vol.upload(0n, 0n, 0);
      await ab.write(data.subarray(0, 1024));
      await ab.abort();
      assert.equal((await vol.getInfo()).capacity, size);
    } finally {
      await c.close();
    }
  });
});

test("an upload into a slow volume holds the sender back instead of filling the daemon's memory", async () => {
  await withFileServer(async () => {
    const size = 16 * MiB;
    await makeFileVolume("slow.img", size);
    const data = randomBytes(size);
    const c = await connect(fileURI);
    fileStorage.writeDelayMs = 15; // per 256 KiB packet: about a second for the volume
    try {
      const vol = await (await c.storagePoolLookupByName("files")).storageVolLookupByName("slow.img");
      const start = Date.now();
      const up = await vol.upload(0n, 0n, 0);
      for (let off = 0; off < size; off += MiB) await up.write(data.subarray(off, off + MiB));
      const written = Date.now() - start;
      await up.finish();
      const total = Date.now() - start;
      // the daemon stops reading while the volume lags (its packets count as requests in
      // flight): the sender's last write returns near the end, not at once
      assert.ok(written > total * 0.6, `writes done after ${written} ms of ${total} ms`);
      assert.ok(readFileSync(join(fileStorage.dir, "slow.img")).equals(data));
    } finally {
      fileStorage.writeDelayMs = 0;
      await c.close();
    }
  });
});

test("a client gone in the middle of an upload or a download: the daemon releases both volumes", async () => {
  await withFileServer(async () => {
    await makeFileVolume("gone.img", 16 * MiB);
    const c = await connect(fileURI);
    const vol = await (await c.storagePoolLookupByName("files")).storageVolLookupByName("gone.img");
    const up = await vol.upload(0n, 0n, 0);
    await up.write(randomBytes(MiB));
    const down = await vol.download(0n, 0n, 0);
    const it = down[Symbol.asyncIterator]();
    await it.next();
    assert.equal(fileStorageLog.openStreams, 2);
    await c.close(); // no finish, no abort: the socket just goes
    const deadline = Date.now() + 5000;
    while (openStreams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(openStreams(), 0);
    // an abort and a finish release them too, and the connection stays usable
    const c2 = await connect(fileURI);
    try {
      const v2 = await (await c2.storagePoolLookupByName("files")).storageVolLookupByName("gone.img");
      const d2 = await v2.download(0n, 0n, 0);
      await d2.close();
      const u2 = await v2.upload(0n, 0n, 0);
      await u2.abort();
      const u3 = await v2.upload(0n, 0n, 0);
      await u3.write(Buffer.from("hello"));
      await u3.finish();
      assert.equal(openStreams(), 0);
      assert.equal((await v2.getInfo()).capacity, 16 * MiB);
    } finally {
      await c2.close();
    }
  });
});

test("python3-libvirt: vol upload and download streams through the daemon", async (t) => {
  const py = pythonLibvirtOrSkip(t);
  if (!py) return;
  await withFileServer(async () => {
    await makeFileVolume("py.img", 4 * MiB);
    const payload = randomBytes(3 * MiB + 123);
    writeFileSync(src, payload);
    const script = `
import sys, hashlib, libvirt
c = libvirt.open(sys.argv[1])
v = c.storagePoolLookupByName('files').storageVolLookupByName('py.img')
data = open(sys.argv[2], 'rb').read()
st = c.newStream(0)
v.upload(st, 0, len(data), 0)
off = 0
while off < len(data):
    off += st.send(data[off:off + 100000])
st.finish()
st = c.newStream(0)
v.download(st, 0, len(data), 0)
got = b''
while True:
    b = st.recv(1 << 18)
    if not b:
        break
    got += b
st.finish()
print(hashlib.sha256(got).hexdigest())
`;
    const r = await run(py, ["-c", script, fileURI, src], { env, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), createHash("sha256").update(payload).digest("hex"));
    assert.deepEqual(readFileSync(join(fileStorage.dir, "py.img")).subarray(0, payload.length), payload);
  });
});
