/**
 * Benchmark (issue 12, virtual networks), inside a network namespace of its own (the script
 * re-runs itself under `unshare --net`; nothing of the host's interfaces or firewall is touched):
 *
 * (a) net-start alone, and net-start → the first DHCP lease of a TCG test guest booting on the
 *     network (the tiny guest's shell runs busybox udhcpc on its virtio NIC once booted; the
 *     lease is seen through the API / `virsh net-dhcp-leases`), also the DHCP exchange alone
 *     (udhcpc typed → lease seen): tvirt (embedded driver, API) against a private libvirtd
 *     (bench/libvirtd.ts, its own namespace, `virsh` over its socket) in the same run;
 * (b) guest → host TCP throughput through NAT: the guest pipes `dd` into busybox `nc` towards a
 *     TCP server in a second namespace behind a veth (so the traffic is forwarded and
 *     masqueraded, as to the outside world); a tvirt guest (`<interface type='network'>`)
 *     against a raw QEMU started by hand with a tap made by hand on the same bridge (the same
 *     virtio-net, no vhost): the manager should cost nothing on the data path.
 *
 * Prints a table with medians and ratios.
 *
 *   npm run bench:network [-- --rounds N --mib M]
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../src/api/index.ts";
import { ensureTestGuest, guestDomainXML, QEMU_BINARY, rawQemuArgs } from "../src/testing/guest/index.ts";
import { median } from "./stats.ts";
import { libvirtdUnavailable, startLibvirtd, type PrivateLibvirtd } from "./libvirtd.ts";

const here = fileURLToPath(import.meta.url);
const { values } = parseArgs({ options: { rounds: { type: "string" }, mib: { type: "string" } } });
const rounds = Number(values.rounds ?? 3);
const mib = Number(values.mib ?? 32);

if (process.env.TVIRT_BENCH_NETNS !== "1") {
  // The outer run: the same script in a new network namespace.
  const r = spawnSync(
    "unshare",
    ["--net", process.execPath, "--import", "tsx", here, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: { ...process.env, TVIRT_BENCH_NETNS: "1" },
    },
  );
  process.exit(r.status ?? 1);
}

function sh(...argv: string[]): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const links = (): string[] =>
  (JSON.parse(sh("ip", "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname);
if (links().join(",") !== "lo") throw new Error("not in a fresh network namespace: refusing to run");
sh("ip", "link", "set", "lo", "up");

const work = mkdtempSync(join(tmpdir(), "tvirt-netbench-"));
const children: ChildProcess[] = [];
const SERVER_IP = "10.250.0.2";
const PORT = 5001;
const NET = "benchnat";
const netXML = (bridge: string): string =>
  `<network><name>${NET}</name><forward mode='nat'/><bridge name='${bridge}'/>` +
  "<ip address='192.168.150.1' netmask='255.255.255.0'><dhcp><range start='192.168.150.10' end='192.168.150.200'/></dhcp></ip></network>";

/** The guest's serial console on a unix socket: output collected, lines typed. */
class Console {
  out = "";
  #sock: Socket | undefined;
  static async open(path: string, timeoutMs = 30_000): Promise<Console> {
    const c = new Console();
    const end = performance.now() + timeoutMs;
    for (;;) {
      try {
        c.#sock = await new Promise<Socket>((res, rej) => {
          const s = netConnect(path, () => {
            res(s);
          });
          s.once("error", rej);
        });
        break;
      } catch (e) {
        if (performance.now() > end) throw e;
        await sleep(20);
      }
    }
    c.#sock.on("data", (b: Buffer) => (c.out += b.toString()));
    c.#sock.on("error", () => undefined);
    return c;
  }
  static fromChild(p: ChildProcess): Console {
    const c = new Console();
    p.stdout?.on("data", (b: Buffer) => (c.out += b.toString()));
    c.write = (s: string) => void p.stdin?.write(s);
    return c;
  }
  write(s: string): void {
    this.#sock?.write(s);
  }
  async wait(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (performance.now() > end)
        throw new Error(`no ${String(re)} on the console:\n${this.out.slice(-2000)}`);
      await sleep(5);
    }
  }
  close(): void {
    this.#sock?.destroy();
  }
}

/** The TCP sink in a second namespace: one JSON line per connection ({bytes, ms}). */
function startServer(): { results: { bytes: number; ms: number }[]; pid: number } {
  const holder = spawn("unshare", ["--net", "sleep", "100000"], { stdio: "ignore" });
  children.push(holder);
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${holder.pid!}/exe`).endsWith("/sleep")) break;
    } catch {
      // not yet
    }
    spawnSync("sleep", ["0.02"]);
  }
  const ns = `/proc/${holder.pid!}/ns/net`;
  sh("ip", "link", "add", "tvout", "type", "veth", "peer", "name", "eth0", "netns", String(holder.pid!));
  sh("ip", "addr", "add", "10.250.0.1/24", "dev", "tvout");
  sh("ip", "link", "set", "dev", "tvout", "up");
  sh("nsenter", `--net=${ns}`, "ip", "addr", "add", `${SERVER_IP}/24`, "dev", "eth0");
  sh("nsenter", `--net=${ns}`, "ip", "link", "set", "dev", "eth0", "up");
  sh("nsenter", `--net=${ns}`, "ip", "link", "set", "dev", "lo", "up");
  const script = join(work, "sink.mjs");
  writeFileSync(
    script,
    `import { createServer } from "node:net";
createServer((s) => {
  let bytes = 0, t0 = 0;
  s.on("data", (b) => { if (bytes === 0) t0 = performance.now(); bytes += b.length; });
  s.on("end", () => { console.log(JSON.stringify({ bytes, ms: performance.now() - t0 })); s.end(); });
  s.on("error", () => {});
}).listen(${PORT}, "${SERVER_IP}");
`,
  );
  const srv = spawn("nsenter", [`--net=${ns}`, process.execPath, script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(srv);
  const results: { bytes: number; ms: number }[] = [];
  let buf = "";
  srv.stdout.on("data", (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      results.push(JSON.parse(buf.slice(0, i)) as { bytes: number; ms: number });
      buf = buf.slice(i + 1);
    }
  });
  return { results, pid: holder.pid! };
}

const server = startServer();

/** Types the DHCP client; returns when typed (performance.now()). */
function typeDhcp(c: Console): number {
  c.write("ip link set eth0 up; udhcpc -i eth0 -n -q -f -t 60 -T 1 -s /bin/true; echo UDHCPC-DONE $?\n");
  return performance.now();
}

/**
 * Sends `mib` MiB from the guest to the sink through NAT (the guest needs a default route:
 * udhcpc's script is /bin/true, so it is set by hand). Returns Mbit/s as the sink measured it.
 */
/** User + system CPU seconds of a process so far (`/proc/PID/stat`, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** The QEMU process of a tvirt guest (`-name guest=NAME,`). */
function qemuPidOf(name: string): number {
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`guest=${name},`)) return Number(p);
    } catch {
      // gone
    }
  }
  throw new Error(`no QEMU process for ${name}`);
}

/** QEMU's CPU use during the transfers (share of one core), per runner. */
const cpuShare: Record<"tvirt" | "raw", number[]> = { tvirt: [], raw: [] };

async function throughput(
  c: Console,
  gw: string,
  addr: string,
  qemu: { pid: number; who: "tvirt" | "raw" },
): Promise<number> {
  const before = server.results.length;
  const from = c.out.length;
  const cpu0 = cpuSeconds(qemu.pid);
  const t0 = performance.now();
  c.write(
    `ip addr add ${addr}/24 dev eth0 2>/dev/null; ip route add default via ${gw} 2>/dev/null; ` +
      `dd if=/dev/zero bs=65536 count=${mib * 16} 2>/dev/null | nc ${SERVER_IP} ${PORT}; echo NC-DONE $?\n`,
  );
  await c.wait(/NC-DONE (\d+)/, 300_000, from);
  cpuShare[qemu.who].push((cpuSeconds(qemu.pid) - cpu0) / ((performance.now() - t0) / 1000));
  for (let i = 0; i < 500 && server.results.length === before; i++) await sleep(10);
  const r = server.results[before];
  if (!r) throw new Error("the sink saw no connection");
  if (r.bytes !== mib * 1024 * 1024) throw new Error(`the sink got ${r.bytes} bytes, not ${mib} MiB`);
  return (r.bytes * 8) / (r.ms / 1000) / 1e6;
}

function guestXML(name: string, sock: string, iface: string, kernel: string, initrd: string): string {
  const xml = guestDomainXML({ name, mode: "shell", kernel, initrd, memoryMiB: 128, extraDevicesXML: iface });
  // The console on a unix socket the bench connects to (type into the shell, read its output).
  return xml.replace(
    /<serial type='pty'>[\s\S]*?<\/console>/,
    `<serial type='unix'><source mode='bind' path='${sock}'/><target port='0'/></serial>` +
      `<console type='unix'><source mode='bind' path='${sock}'/><target type='serial' port='0'/></console>`,
  );
}

interface Figures {
  netStart: number[];
  toLease: number[];
  dhcp: number[];
  mbps: number[];
}

const guest = await ensureTestGuest();
const iface = (mac: string): string =>
  `<interface type='network'><source network='${NET}'/><mac address='${mac}'/><model type='virtio'/></interface>`;

/**
 * tvirt, per round: net-start, a guest on the network until its lease, its throughput; then,
 * on the same running bridge, raw QEMU with a tap made by hand, its throughput (alternating
 * within a round, so that a busy moment of the machine hits both).
 */
async function benchTvirt(): Promise<Figures & { raw: number[] }> {
  const f = {
    netStart: [] as number[],
    toLease: [] as number[],
    dhcp: [] as number[],
    mbps: [] as number[],
    raw: [] as number[],
  };
  const root = join(work, "tvirt");
  const conn = await connect(`qemu:///embed?root=${root}`);
  try {
    const net = await conn.networkDefineXML(netXML("tvbrb0"));
    for (let i = 0; i < rounds; i++) {
      const mac = `52:54:00:00:10:${String(10 + i)}`;
      const t0 = performance.now();
      await net.create();
      f.netStart.push(performance.now() - t0);
      const sock = join(work, `tvirt-${i}.sock`);
      const dom = await conn.createXML(guestXML(`g${i}`, sock, iface(mac), guest.kernel, guest.initrd));
      const c = await Console.open(sock);
      await c.wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
      const typed = typeDhcp(c);
      let leaseAt = 0;
      let ip = "";
      while (leaseAt === 0) {
        const l = await net.getDHCPLeases(mac);
        if (l.length > 0) {
          leaseAt = performance.now();
          ip = l[0]!.ipaddr;
        } else await sleep(10);
        if (performance.now() - typed > 120_000) throw new Error(`no lease:\n${c.out.slice(-2000)}`);
      }
      f.toLease.push(leaseAt - t0);
      f.dhcp.push(leaseAt - typed);
      await c.wait(/UDHCPC-DONE 0/, 60_000);
      f.mbps.push(await throughput(c, "192.168.150.1", ip, { pid: qemuPidOf(`g${i}`), who: "tvirt" }));
      c.close();
      await dom.destroy();
      f.raw.push(await rawRound("tvbrb0", i));
      await net.destroy();
    }
    await net.undefine();
  } finally {
    await conn.close();
  }
  return f;
}

/** Raw QEMU on a running network's bridge, with a tap made by hand: its throughput. */
async function rawRound(bridge: string, i: number): Promise<number> {
  sh("ip", "tuntap", "add", "dev", "tvraw0", "mode", "tap");
  sh("ip", "link", "set", "dev", "tvraw0", "master", bridge, "up");
  const mac = `52:54:00:00:20:${String(10 + i)}`;
  const q = spawn(
    QEMU_BINARY,
    rawQemuArgs({
      kernel: guest.kernel,
      initrd: guest.initrd,
      mode: "shell",
      extraArgs: [
        "-netdev",
        "tap,id=n0,ifname=tvraw0,script=no,downscript=no",
        "-device",
        `virtio-net-pci,netdev=n0,mac=${mac}`,
      ],
    }),
    // Its own session, as tvirt starts QEMU (detached): with the kernel's autogroup scheduling
    // each session is one scheduling group, so a QEMU left in the bench's session would get a
    // different share of a loaded machine than tvirt's and the ratio would measure that, not
    // the data path.
    { stdio: ["pipe", "pipe", "inherit"], detached: true },
  );
  children.push(q);
  const c = Console.fromChild(q);
  try {
    await c.wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
    typeDhcp(c);
    const m = await c.wait(/lease of (192\.168\.150\.\d+) obtained/, 120_000);
    await c.wait(/UDHCPC-DONE 0/, 60_000);
    return await throughput(c, "192.168.150.1", m[1]!, { pid: q.pid!, who: "raw" });
  } finally {
    q.kill("SIGKILL");
    await new Promise((r) => q.once("exit", r));
    spawnSync("ip", ["link", "del", "tvraw0"]);
  }
}

/** The same with a private libvirtd (its own namespace; the sink is not reachable from there). */
async function benchLibvirt(): Promise<Figures | string> {
  const why = libvirtdUnavailable();
  if (why !== undefined) return why;
  let d: PrivateLibvirtd;
  try {
    d = await startLibvirtd(join(work, "libvirtd"));
  } catch (e) {
    return e instanceof Error ? e.message.split("\n")[0]! : String(e);
  }
  const uri = `qemu+unix:///system?socket=${d.socket}`;
  const virsh = (...args: string[]): string => {
    const r = spawnSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`virsh ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const f: Figures = { netStart: [], toLease: [], dhcp: [], mbps: [] };
  try {
    const x = join(work, "lnet.xml");
    writeFileSync(x, netXML("lvbrb0"));
    try {
      virsh("net-define", x);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    for (let i = 0; i < rounds; i++) {
      const mac = `52:54:00:00:30:${String(10 + i)}`;
      const t0 = performance.now();
      virsh("net-start", NET);
      f.netStart.push(performance.now() - t0);
      const sock = join(work, `libvirt-${i}.sock`);
      const gx = join(work, `lg${i}.xml`);
      writeFileSync(gx, guestXML(`lg${i}`, sock, iface(mac), guest.kernel, guest.initrd));
      virsh("create", gx);
      const c = await Console.open(sock);
      await c.wait(/TVIRT-GUEST-READY mode=shell/, 180_000);
      const typed = typeDhcp(c);
      let leaseAt = 0;
      while (leaseAt === 0) {
        if (virsh("net-dhcp-leases", NET, "--mac", mac).includes(mac)) leaseAt = performance.now();
        else await sleep(10);
        if (performance.now() - typed > 120_000) throw new Error(`no lease:\n${c.out.slice(-2000)}`);
      }
      f.toLease.push(leaseAt - t0);
      f.dhcp.push(leaseAt - typed);
      c.close();
      virsh("destroy", `lg${i}`);
      virsh("net-destroy", NET);
    }
    virsh("net-undefine", NET);
  } catch (e) {
    return `failed: ${e instanceof Error ? e.message.split("\n")[0]! : String(e)}`;
  } finally {
    await d.stop();
  }
  return f;
}

/** virsh's own start-up cost (a `virsh version` against the test driver), to read its column. */
function virshBaseline(): number {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    spawnSync("virsh", ["-q", "-c", "test:///default", "uri"]);
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : "-");
const ratio = (a: number, b: number): string =>
  Number.isFinite(a) && Number.isFinite(b) ? (a / b).toFixed(2) : "-";

try {
  const tv = await benchTvirt();
  const raw = tv.raw;
  const lv = await benchLibvirt();
  const lvf = typeof lv === "string" ? undefined : lv;
  const lvNote = typeof lv === "string" ? `libvirtd: not run (${lv})` : undefined;
  const rows: [string, string, string, string][] = [
    [
      "net-start alone (median)",
      ms(median(tv.netStart)),
      lvf ? ms(median(lvf.netStart)) : "-",
      lvf ? ratio(median(tv.netStart), median(lvf.netStart)) : "-",
    ],
    [
      "net-start -> first DHCP lease (guest boot incl.)",
      ms(median(tv.toLease)),
      lvf ? ms(median(lvf.toLease)) : "-",
      lvf ? ratio(median(tv.toLease), median(lvf.toLease)) : "-",
    ],
    [
      "udhcpc typed -> lease seen (DHCP exchange)",
      ms(median(tv.dhcp)),
      lvf ? ms(median(lvf.dhcp)) : "-",
      lvf ? ratio(median(tv.dhcp), median(lvf.dhcp)) : "-",
    ],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(
    `\n(a) DHCP on a NAT network, TCG guest, ${rounds} rounds (tvirt: API in-process; libvirt: virsh over its socket)`,
  );
  console.log(`${"".padEnd(w)} | tvirt      | libvirtd   | tvirt/libvirtd`);
  console.log(`${"-".repeat(w)}-|------------|------------|---------------`);
  for (const r of rows) console.log(`${r[0].padEnd(w)} | ${r[1].padEnd(10)} | ${r[2].padEnd(10)} | ${r[3]}`);
  if (lvNote) console.log(lvNote);
  else console.log(`(virsh's own start-up, included in its net-start: ${ms(virshBaseline())})`);
  const t = median(tv.mbps);
  const r0 = median(raw);
  console.log(
    `\n(b) guest -> host TCP through NAT, ${mib} MiB per run, ${rounds} runs, virtio-net (no vhost), TCG`,
  );
  console.log("                                  | median Mbit/s | runs");
  console.log("----------------------------------|---------------|-----------------------------");
  console.log(
    `tvirt guest (<interface network>) | ${t.toFixed(0).padEnd(13)} | ${tv.mbps.map((x) => x.toFixed(0)).join(", ")}`,
  );
  console.log(
    `raw QEMU, hand-made tap, same br  | ${r0.toFixed(0).padEnd(13)} | ${raw.map((x) => x.toFixed(0)).join(", ")}`,
  );
  console.log(`tvirt / raw                       | ${ratio(t, r0)}`);
  const pct = (xs: number[]): string => xs.map((x) => `${(x * 100).toFixed(0)}%`).join(", ");
  console.log(
    `QEMU CPU during the transfers (one core = 100%): tvirt ${pct(cpuShare.tvirt)}; raw ${pct(cpuShare.raw)}`,
  );
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
