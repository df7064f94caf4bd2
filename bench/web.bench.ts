/**
 * Benchmark of tvirtd's web face against its RPC, side by side in one run on the same daemon:
 * the domain list with state, vCPUs and memory of DOMAINS domains (test:///default), as
 *
 * - REST `GET /api/domains` over the web face's Unix socket, over loopback TCP and over HTTPS
 *   (keep-alive connections; the daemon answers from its in-process connection);
 * - RPC through tvirt's remote driver, the way a client builds the same list:
 *   `listAllDomains` then `getInfo` + `isPersistent` per domain (2 N + 1 calls), and
 *   `getAllDomainStats(STATE | VCPU | BALLOON)`, libvirt's one-call bulk form.
 *
 * Each round runs every path once, in turn, so a busy moment of the shared machine hits all of
 * them; the table shows the medians, lists per second and the ratio to REST over the Unix
 * socket. The last columns time CONCURRENCY lists at once per path (median batch), also
 * alternating.
 *
 *   npm run bench:web          (DOMAINS=1000 ROUNDS=25 CONCURRENCY=4 to change sizes)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, DomainStatsTypes, type Connection } from "../src/api/index.ts";
import "../src/rpc/register.ts";
import { spawnDaemon } from "../src/testing/rpc/harness.ts";
import { selfSignedCert, webRequest, type WebTarget } from "../src/testing/web.ts";
import { createToken } from "../src/web/tokens.ts";
import { median } from "./stats.ts";

const DOMAINS = Number(process.env.DOMAINS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 25);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => {
        resolve(a !== null && typeof a === "object" ? a.port : 0);
      });
    });
  });
}

interface Path {
  readonly name: string;
  readonly calls: string;
  /** One full list; returns the number of domains seen (checked against DOMAINS). */
  readonly list: () => Promise<number>;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-web-"));
  const pem = await selfSignedCert(dir);
  if (!pem) throw new Error("openssl is missing: the HTTPS path needs a certificate");
  const tokens = join(dir, "tokens.json");
  const token = (await createToken(tokens, "bench", true)).token;
  const rpcSock = join(dir, "tvirt-sock");
  const webSock = join(dir, "tvirt-web.sock");
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  // two daemons' worth of web listeners is one web face: plain loopback TCP and HTTPS are
  // measured on two daemons serving the same kind of state, each with DOMAINS domains
  const conf = (tcp: string, tls: boolean): string => {
    const f = join(dir, `tvirtd-${tls ? "tls" : "plain"}.conf`);
    writeFileSync(
      f,
      `web_listen_unix = "${tls ? webSock + ".tls" : webSock}"\nweb_listen_tcp = "${tcp}"\n` +
        (tls ? `web_tls_cert = "${pem.cert}"\nweb_tls_key = "${pem.key}"\n` : "") +
        `web_token_file = "${tokens}"\n`,
    );
    return f;
  };
  const env = { ...process.env, LANG: "C", LC_ALL: "C" };
  const plainD = await spawnDaemon(
    ["--listen", rpcSock, "--uri", "test:///default", "-f", conf(`127.0.0.1:${httpPort}`, false)],
    [rpcSock, webSock],
    { env },
  );
  const tlsD = await spawnDaemon(
    ["--listen", rpcSock + ".tls", "--uri", "test:///default", "-f", conf(`127.0.0.1:${httpsPort}`, true)],
    [rpcSock + ".tls"],
    { env },
  );
  const conns: Connection[] = [];
  try {
    // DOMAINS domains (the test driver's own "test" among them) on both daemons
    for (const sock of [rpcSock, rpcSock + ".tls"]) {
      const c = await connect(`test+unix:///default?socket=${sock}`);
      conns.push(c);
      const have = (await c.listAllDomains()).length;
      const pending: Promise<unknown>[] = [];
      for (let i = have; i < DOMAINS; i++) {
        pending.push(
          c.defineXML(
            `<domain type='test'><name>bench${i}</name><memory unit='KiB'>131072</memory>` +
              `<vcpu>1</vcpu><os><type>hvm</type></os></domain>`,
          ),
        );
        if (pending.length >= 50) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    }
    const rpc = conns[0]!;
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
    const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: CONCURRENCY });
    const rest = (target: WebTarget, agent: HttpAgent) => async (): Promise<number> => {
      const r = await webRequest(target, "GET", "/api/domains", { token, agent });
      if (r.status !== 200) throw new Error(`GET /api/domains: ${r.status} ${r.body}`);
      return (JSON.parse(r.body) as { domains: unknown[] }).domains.length;
    };
    const paths: Path[] = [
      {
        name: "REST GET /api/domains, Unix socket",
        calls: "1 HTTP request",
        list: rest({ socketPath: webSock }, httpAgent),
      },
      {
        name: "REST GET /api/domains, TCP 127.0.0.1",
        calls: "1 HTTP request",
        list: rest({ host: "127.0.0.1", port: httpPort }, httpAgent),
      },
      {
        name: "REST GET /api/domains, HTTPS 127.0.0.1",
        calls: "1 HTTPS request",
        list: rest({ host: "127.0.0.1", port: httpsPort, tls: { ca: readFileSync(pem.cert) } }, httpsAgent),
      },
      {
        name: "RPC listAllDomains + getInfo + isPersistent",
        calls: `${2 * DOMAINS + 1} RPC calls`,
        async list() {
          const doms = await rpc.listAllDomains();
          await Promise.all(doms.map(async (d) => [await d.getInfo(), await d.isPersistent()]));
          return doms.length;
        },
      },
      {
        name: "RPC getAllDomainStats(state,vcpu,balloon)",
        calls: "1 RPC call",
        async list() {
          return (
            await rpc.getAllDomainStats(
              DomainStatsTypes.STATE | DomainStatsTypes.VCPU | DomainStatsTypes.BALLOON,
            )
          ).length;
        },
      },
    ];
    // warm-up (JIT, connections), and the check that each path sees every domain
    for (const p of paths) {
      const n = await p.list();
      if (n !== DOMAINS) throw new Error(`${p.name}: ${n} domains, expected ${DOMAINS}`);
    }
    const times = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of paths) {
        const t0 = performance.now();
        await p.list();
        times.get(p.name)!.push(performance.now() - t0);
      }
    }
    // CONCURRENCY lists at once per path, the paths again alternating round by round
    const batches = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    for (let r = 0; r < Math.max(3, Math.ceil(ROUNDS / 2)); r++) {
      for (const p of paths) {
        const t0 = performance.now();
        await Promise.all(Array.from({ length: CONCURRENCY }, () => p.list()));
        batches.get(p.name)!.push(performance.now() - t0);
      }
    }
    const conc = new Map<string, number>(
      paths.map((p) => [p.name, (CONCURRENCY * 1000) / median(batches.get(p.name)!)]),
    );
    const base = median(times.get(paths[0]!.name)!);
    const baseConc = conc.get(paths[0]!.name)!;
    const w = Math.max(...paths.map((p) => p.name.length));
    const lines = [
      `tvirtd (test:///default, ${DOMAINS} domains): the domain list with state, vCPUs and memory`,
      `${ROUNDS} rounds, paths alternating; ${CONCURRENCY} concurrent clients for the last columns`,
      "",
      `| ${"path".padEnd(w)} | calls per list   | median ms | lists/s | ×REST unix | lists/s ×${CONCURRENCY} | ×REST unix |`,
      `|${"-".repeat(w + 2)}|------------------|-----------|---------|------------|------------|------------|`,
    ];
    for (const p of paths) {
      const m = median(times.get(p.name)!);
      const c = conc.get(p.name)!;
      lines.push(
        `| ${p.name.padEnd(w)} | ${p.calls.padEnd(16)} | ${m.toFixed(1).padStart(9)} | ${(1000 / m)
          .toFixed(1)
          .padStart(7)} | ${(m / base).toFixed(2).padStart(9)}× | ${c.toFixed(1).padStart(10)} | ${(
          baseConc / c
        )
          .toFixed(2)
          .padStart(9)}× |`,
      );
    }
    lines.push(
      "",
      "×REST unix: how many times longer (first) or slower (second) than REST over the Unix socket.",
    );
    console.log(lines.join("\n"));
    httpAgent.destroy();
    httpsAgent.destroy();
  } finally {
    for (const c of conns) await c.close().catch(() => undefined);
    await plainD.stop();
    await tlsD.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
