/**
 * Stock virsh 9.0 and python3-libvirt against tvirtd for virtual networks: a private tvirtd
 * serves `test:///default`; net-list / net-info / net-dumpxml / net-define / net-start /
 * net-autostart / net-destroy / net-undefine through the daemon must print exactly what virsh
 * prints on `test:///default` directly (one virsh process each, so both see the same sequence),
 * tvirsh through the daemon the same; a read-only socket refuses changes with libvirt's error;
 * python3-libvirt lists networks, reads the XML, the old name lists and counts, DHCP leases, and
 * receives the lifecycle events (CONNECT_NETWORK_EVENT_REGISTER_ANY, NETWORK_EVENT_LIFECYCLE).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { connect, registerDriver, unregisterDriver } from "../api/index.ts";
import type { ConnectDriver, HypervisorDriver } from "../drivers/driver.ts";
import {
  IPAddrType,
  type NetworkDHCPLease,
  type NetworkDriver,
  type NetworkRef,
} from "../drivers/network-driver.ts";
import { VirtError } from "../util/errors/index.ts";
import "./register.ts";
import {
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  startTestServer,
  virshOrSkip,
  type DaemonProcess,
  type RunResult,
} from "../testing/rpc/harness.ts";

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));
const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };

const netXML = `<network>
  <name>rpcnet</name>
  <uuid>5a1c9e3e-3c1b-4f55-9a9e-0d6c2a8f7b11</uuid>
  <forward mode='nat'/>
  <bridge name='virbr9'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.150.2' end='192.168.150.254'/></dhcp>
  </ip>
</network>
`;

let dir = "";
let sock = "";
let roSock = "";
let uri = "";
let roURI = "";
let daemon: DaemonProcess;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-net-interop-"));
  sock = join(dir, "sock");
  roSock = join(dir, "sock-ro");
  uri = `test+unix:///default?socket=${sock}`;
  roURI = `test+unix:///default?socket=${roSock}`;
  writeFileSync(join(dir, "net.xml"), netXML);
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

/** virsh through tvirtd, virsh on test:///default directly and tvirsh through tvirtd: same output. */
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

test("virsh net-list / net-info / net-dumpxml / net-uuid through tvirtd = virsh on test:///default", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const list = await same(virsh, "net-list --all");
  assert.match(list.stdout, /^ default +active +no +yes$/m);
  const info = await same(virsh, "net-info default");
  assert.match(info.stdout, /^Bridge: +virbr0$/m);
  const xml = await same(virsh, "net-dumpxml default");
  assert.match(xml.stdout, /<bridge name='virbr0'/);
  await same(virsh, "net-dumpxml --inactive default");
  assert.equal((await same(virsh, "net-uuid default")).stdout, "dd8fe884-6c02-601e-7551-cca97df1c5df\n\n");
  assert.equal((await same(virsh, "net-name dd8fe884-6c02-601e-7551-cca97df1c5df")).stdout, "default\n\n");
  const leases = await same(virsh, "net-dhcp-leases default");
  assert.match(leases.stderr, /not supported by the connection driver: virNetworkGetDHCPLeases/);
  const nf = await same(virsh, "net-info nosuch");
  assert.equal(nf.code, 1);
  assert.match(nf.stderr, /Network not found: no network with matching name 'nosuch'/);
});

test("virsh net-define / start / autostart / destroy / undefine through tvirtd = virsh on test:///default", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const r = await same(
    virsh,
    [
      "net-define net.xml",
      "net-list --all",
      "net-info rpcnet",
      "net-start rpcnet",
      "net-autostart rpcnet",
      "net-list --all --autostart",
      "net-dumpxml rpcnet",
      "net-destroy rpcnet",
      "net-undefine rpcnet",
      "net-list --all",
    ].join("; "),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ rpcnet +inactive +no +yes$/m);
  assert.match(r.stdout, /^ rpcnet +active +yes +yes$/m);
  assert.match(r.stdout, /<bridge name='virbr9' stp='on' delay='0'\/>/);
  assert.match(r.stdout, /Network rpcnet has been undefined/);
  // the daemon's state is back: rpcnet is gone
  assert.doesNotMatch((await same(virsh, "net-list --all")).stdout, /rpcnet/);
  // transient: net-create, then destroy makes it disappear
  const tr = await same(virsh, "net-create net.xml; net-list --all; net-destroy rpcnet; net-list --all");
  assert.equal(tr.code, 0, tr.stderr);
  assert.match(tr.stdout, /^ rpcnet +active +no +no$/m);
});

test("virsh net-update through tvirtd = virsh on test:///default (NETWORK_UPDATE, both field orders)", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  // rpcnet comes and goes within the sequence, so the daemon's test driver ends as it began.
  const host = "<host mac='52:54:00:00:00:01' name='a' ip='192.168.150.10'/>";
  const r = await same(
    virsh,
    [
      "net-define net.xml",
      `net-update rpcnet add ip-dhcp-host "${host}"`,
      "net-start rpcnet",
      `net-update rpcnet add-first ip-dhcp-host "<host mac='52:54:00:00:00:02' name='b' ip='192.168.150.11'/>" --config`,
      `net-update rpcnet modify ip-dhcp-host "<host mac='52:54:00:00:00:01' name='a2' ip='192.168.150.12'/>" --live`,
      `net-update rpcnet add dns-host "<host ip='192.168.150.5'><hostname>foo</hostname></host>"`,
      `net-update rpcnet delete ip-dhcp-range "<range start='192.168.150.2' end='192.168.150.254'/>"`,
      "net-dumpxml rpcnet",
      `net-update rpcnet add ip-dhcp-host "${host.replace("a'", "c'")}"`,
      `net-update rpcnet add bridge "<bridge name='x'/>"`,
      `net-update rpcnet add ip-dhcp-host "<host"`,
      `net-update nosuch add ip-dhcp-host "${host}"`,
      "net-destroy rpcnet",
      `net-update rpcnet delete ip-dhcp-host "<host name='b'/>"`,
      `net-update rpcnet add ip-dhcp-host "${host}" --live`,
      "net-dumpxml rpcnet",
      "net-undefine rpcnet",
    ].join("; "),
  );
  assert.match(r.stdout, /^Updated network rpcnet live state$/m);
  assert.match(r.stdout, /<host mac='52:54:00:00:00:01' name='a2' ip='192.168.150.12'\/>/);
  assert.match(r.stderr, /there is an existing dhcp host entry in network 'rpcnet'/);
  assert.match(r.stderr, /can't update 'bridge' section of network 'rpcnet'/);
  assert.match(r.stderr, /network is not running/);
});

test("virsh net-port-list / net-port-create through tvirtd = virsh on test:///default (no ports there)", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const r = await same(
    virsh,
    "net-port-list default; net-port-list --uuid default; net-port-create default net.xml",
  );
  assert.match(r.stderr, /not supported by the connection driver: virNetworkListAllPorts/);
  assert.match(r.stderr, /not supported by the connection driver: virNetworkPortCreateXML/);
});

test("virsh net-event through tvirtd prints the lifecycle events another client causes", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  for (const bin of [virsh, "tvirsh"]) {
    const argv =
      bin === "tvirsh" ? [process.execPath, [tvirshBin, "-c", uri]] : ([virsh, ["-c", uri]] as const);
    const waiting = run(
      argv[0] as string,
      [
        ...(argv[1] as string[]),
        "net-event --event lifecycle --loop --timeout 8; net-event --event lifecycle --network nosuch --timeout 1",
      ],
      { env, cwd: dir, timeoutMs: 60_000 },
    );
    // The listener registers within a few seconds (tvirsh loads its TypeScript first); then
    // another connection stops and starts default.
    await new Promise((res) => setTimeout(res, 4000));
    const conn = await connect(uri);
    try {
      const net = await conn.networkLookupByName("default");
      await net.destroy();
      await net.create();
    } finally {
      await conn.close();
    }
    const r = await waiting;
    assert.equal(
      r.stdout,
      "event 'lifecycle' for network default: Stopped\n" +
        "event 'lifecycle' for network default: Started\n" +
        "event loop timed out\nevents received: 2\n\n" +
        "event loop timed out\nevents received: 0\n\n",
      `${bin}: ${r.stderr}`,
    );
    assert.equal(
      r.stderr,
      "error: failed to get network 'nosuch'\nerror: Network not found: no network with matching name 'nosuch'\n",
    );
    assert.equal(r.code, 1);
  }
});

test("a read-only socket refuses network changes with libvirt's error", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const r = await same(virsh, "net-undefine default", true);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /operation forbidden: read only access prevents virNetworkUndefine/);
  assert.match((await same(virsh, "net-list --all", true)).stdout, /^ default +active/m);
});

test("python3-libvirt: networks, XML, name lists, leases and lifecycle events through tvirtd", async (t) => {
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
def cb(conn, net, event, detail, opaque):
    events.append([net.name(), event, detail])
cid = c.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, cb, None)
d = c.networkLookupByName('default')
out = {
  'all': [n.name() for n in c.listAllNetworks()],
  'active': c.listNetworks(), 'numActive': c.numOfNetworks(),
  'defined': c.listDefinedNetworks(), 'numDefined': c.numOfDefinedNetworks(),
  'xml': d.XMLDesc(), 'bridge': d.bridgeName(), 'uuid': d.UUIDString(),
  'byUUID': c.networkLookupByUUIDString(d.UUIDString()).name(),
  'isActive': d.isActive(), 'isPersistent': d.isPersistent(), 'autostart': d.autostart(),
}
try:
    out['leases'] = d.DHCPLeases()
except libvirt.libvirtError as e:
    out['leases'] = [e.get_error_code(), e.get_error_message()]
n = c.networkDefineXML(open(sys.argv[2]).read())
out['defined2'] = c.listDefinedNetworks()
n.create(); n.destroy(); n.undefine()
deadline = time.time() + 10
while len(events) < 4 and time.time() < deadline:
    time.sleep(0.05)
c.networkEventDeregisterAny(cid)
out['events'] = events
print(json.dumps(out))
`;
  const r = await run(py, ["-c", script, uri, join(dir, "net.xml")], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  const direct = await run(virshOrSkip(t) ?? "virsh", ["-c", "test:///default", "net-dumpxml default"], {
    env,
  });
  assert.equal(`${String(out.xml)}\n`, direct.stdout);
  assert.deepEqual(
    { ...out, xml: undefined },
    {
      all: ["default"],
      active: ["default"],
      numActive: 1,
      defined: [],
      numDefined: 0,
      xml: undefined,
      bridge: "virbr0",
      uuid: "dd8fe884-6c02-601e-7551-cca97df1c5df",
      byUUID: "default",
      isActive: 1,
      isPersistent: 1,
      autostart: 0,
      // libvirt 9.0's test driver has no lease entry: its error, through the daemon
      leases: [3, "this function is not supported by the connection driver: virNetworkGetDHCPLeases"],
      defined2: ["rpcnet"],
      // defined, started, stopped, undefined
      events: [
        ["rpcnet", 0, 0],
        ["rpcnet", 2, 0],
        ["rpcnet", 3, 0],
        ["rpcnet", 1, 0],
      ],
    },
  );
});

test("procprobe.py: every network procedure virt-manager, nova, ansible and terraform use is known", async (t) => {
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
  const networkProcs = [...new Set(Object.values(used).flat())].filter((p) => /NETWORK/.test(p));
  assert.ok(networkProcs.includes("CONNECT_LIST_ALL_NETWORKS"), networkProcs.join(" "));
  assert.deepEqual(
    networkProcs.filter((p) => missing.includes(p)),
    [],
  );
});

// --- DHCP leases over the wire (test:///default has none: a driver that has some) ---------------

const leases: NetworkDHCPLease[] = [
  {
    iface: "virbr0",
    expirytime: 1893456000,
    type: IPAddrType.IPV4,
    mac: "52:54:00:ab:cd:ef",
    iaid: null,
    ipaddr: "192.168.122.45",
    prefix: 24,
    hostname: "guest1",
    clientid: "01:52:54:00:ab:cd:ef",
  },
  {
    iface: "virbr0",
    expirytime: 0,
    type: IPAddrType.IPV6,
    // never null for virsh: its lease sorter compares MACs with strcmp
    mac: "52:54:00:00:00:46",
    iaid: "1234",
    ipaddr: "fd00::45",
    prefix: 64,
    hostname: null,
    clientid: "00:04:aa",
  },
];
const leaseNet: NetworkRef = { name: "leasy", uuid: "0b9f7d4c-1e4e-4c52-9a0e-5a8f3d2b7c61" };
const macsAsked: (string | null)[] = [];

class LeaseDriver implements HypervisorDriver, NetworkDriver {
  readonly name = "LEASE";
  connectClose(): Promise<void> {
    return Promise.resolve();
  }
  networkLookupByName(name: string): Promise<NetworkRef> {
    if (name !== leaseNet.name)
      return Promise.reject(new VirtError("NETWORK_NOT_FOUND", { key: "name", value: name }));
    return Promise.resolve({ ...leaseNet });
  }
  networkGetDHCPLeases(_net: NetworkRef, mac: string | null): Promise<NetworkDHCPLease[]> {
    macsAsked.push(mac);
    return Promise.resolve(mac === null ? leases : leases.filter((l) => l.mac === mac));
  }
}

const leaseConnectDriver: ConnectDriver = {
  name: "lease",
  uriSchemes: ["lease"],
  localOnly: true,
  open: () => Promise.resolve(new LeaseDriver()),
};

test("DHCP leases travel intact: tvirt's remote driver and python3-libvirt decode NETWORK_GET_DHCP_LEASES", async (t) => {
  registerDriver(leaseConnectDriver);
  const srv = await startTestServer();
  const leaseURI = `lease+unix:///x?socket=${srv.path}`;
  try {
    macsAsked.length = 0;
    const c = await connect(leaseURI);
    try {
      const n = await c.networkLookupByName("leasy");
      assert.deepEqual(n.toJSON(), leaseNet);
      assert.deepEqual(await n.getDHCPLeases(), leases);
      assert.deepEqual(await n.getDHCPLeases("52:54:00:ab:cd:ef"), [leases[0]]);
      await assert.rejects(
        c.networkLookupByName("nosuch"),
        /Network not found: no network with matching name 'nosuch'/,
      );
    } finally {
      await c.close();
    }
    assert.deepEqual(macsAsked, [null, "52:54:00:ab:cd:ef"]);
    const virsh = virshOrSkip(t);
    if (virsh) {
      for (const cmd of ["net-dhcp-leases leasy", "net-dhcp-leases leasy --mac 52:54:00:ab:cd:ef"]) {
        const v = await run(virsh, ["-c", leaseURI, cmd], { env, timeoutMs: 30_000 });
        const tv = await run(process.execPath, [tvirshBin, "-c", leaseURI, cmd], { env, timeoutMs: 30_000 });
        assert.equal(v.code, 0, JSON.stringify(v));
        assert.equal(tv.stdout, v.stdout, `stdout of '${cmd}'`);
        assert.equal(tv.stderr, v.stderr, `stderr of '${cmd}'`);
        assert.match(
          v.stdout,
          /52:54:00:ab:cd:ef +ipv4 +192\.168\.122\.45\/24 +guest1 +01:52:54:00:ab:cd:ef/,
        );
      }
    }
    const py = pythonLibvirtOrSkip(t);
    if (!py) return;
    const script = [
      "import json, sys, libvirt",
      "c = libvirt.open(sys.argv[1])",
      "print(json.dumps(c.networkLookupByName('leasy').DHCPLeases()))",
    ].join("\n");
    const r = await run(py, ["-c", script, leaseURI], { env, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), leases);
  } finally {
    await srv.close();
    unregisterDriver(leaseConnectDriver);
  }
});
