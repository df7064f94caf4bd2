/**
 * tvirtd's web face from its configuration: the REST API on a Unix socket and on HTTPS (a
 * certificate made by openssl here), over the daemon's own drivers (a domain defined over RPC
 * is listed over HTTP and the other way round), tokens and the read-only role, the audit in
 * the daemon's log, and the configurations it refuses (TLS beyond loopback, half a TLS pair,
 * unreadable certificate files).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect } from "../api/index.ts";
import "../rpc/register.ts";
import { run, spawnDaemon, tvirtdBin } from "../testing/rpc/harness.ts";
import { selfSignedCert, webRequest } from "../testing/web.ts";
import { createToken } from "../web/tokens.ts";
import { applyConf, defaultConfig, parseConf } from "./config.ts";
import { defaultWebTokenFile } from "./web.ts";

const env = { ...process.env, LANG: "C", LC_ALL: "C" };

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

const conf = (text: string): ReturnType<typeof defaultConfig> =>
  applyConf(defaultConfig(), parseConf(text, "t.conf"), "t.conf");

test("web_* keys: off by default, TLS required beyond loopback, TLS files in pairs", () => {
  const d = conf("");
  assert.equal(d.webListenUnix, undefined);
  assert.equal(d.webListenTcp, undefined);
  const c = conf(
    'web_listen_unix = "/run/tvirt/tvirt-web.sock"\nweb_listen_tcp = "127.0.0.1:8443"\nweb_token_file = "/etc/t.json"\n',
  );
  assert.deepEqual(
    [c.webListenUnix, c.webListenTcp, c.webTokenFile, c.ignored],
    ["/run/tvirt/tvirt-web.sock", "127.0.0.1:8443", "/etc/t.json", []],
  );
  assert.throws(
    () => conf('web_listen_tcp = "0.0.0.0:8443"\n'),
    /t\.conf: web_listen_tcp: '0\.0\.0\.0:8443' is not a loopback address: set web_tls_cert and web_tls_key/,
  );
  assert.throws(() => conf('web_listen_tcp = "[::]:8443"\n'), /not a loopback address/);
  const tls = conf('web_listen_tcp = "0.0.0.0:8443"\nweb_tls_cert = "/c.pem"\nweb_tls_key = "/k.pem"\n');
  assert.equal(tls.webTlsCert, "/c.pem");
  assert.throws(
    () => conf('web_tls_cert = "/c.pem"\n'),
    /web_tls_key: web_tls_cert is set without web_tls_key: TLS needs both/,
  );
  assert.throws(() => conf('web_listen_unix = "rel.sock"\n'), /web_listen_unix: expected an absolute path/);
  assert.throws(() => conf('web_listen_tcp = "unix:/x"\n'), /a Unix socket goes in web_listen_unix/);
  assert.throws(() => conf('web_listen_tcp = "example.org:80"\n'), /'example\.org' is not an IP address/);
  assert.equal(defaultWebTokenFile("system", {}), "/etc/tvirt/web-tokens.json");
  assert.equal(
    defaultWebTokenFile("session", { XDG_CONFIG_HOME: "/home/u/.cfg" }),
    "/home/u/.cfg/tvirt/web-tokens.json",
  );
});

test("tvirtd serves the REST API on its Unix socket and over TLS, over its own drivers", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvirtd-web-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const pem = await selfSignedCert(dir);
  if (!pem) {
    if (process.env.CI === "true") assert.fail("openssl is missing (scripts/setup installs it)");
    t.skip("openssl is missing");
    return;
  }
  const tokens = join(dir, "tokens.json");
  const admin = (await createToken(tokens, "admin", false)).token;
  const viewer = (await createToken(tokens, "viewer", true)).token;
  const rpcSock = join(dir, "tvirt-sock");
  const webSock = join(dir, "tvirt-web.sock");
  const port = await freePort();
  const cfgFile = join(dir, "tvirtd.conf");
  writeFileSync(
    cfgFile,
    `web_listen_unix = "${webSock}"\nweb_listen_tcp = "127.0.0.1:${port}"\n` +
      `web_tls_cert = "${pem.cert}"\nweb_tls_key = "${pem.key}"\nweb_token_file = "${tokens}"\nlog_level = 2\n`,
  );
  const d = await spawnDaemon(
    ["--listen", rpcSock, "--uri", "test:///default", "-f", cfgFile],
    [rpcSock, webSock],
    {
      env,
    },
  );
  t.after(async () => {
    await d.stop();
  });
  const unix = { socketPath: webSock };
  const https = { host: "127.0.0.1", port, tls: { ca: readFileSync(pem.cert) } };

  // the socket is the daemon's, mode 0600
  const { statSync } = await import("node:fs");
  assert.equal(statSync(webSock).mode & 0o777, 0o600);

  for (const target of [unix, https]) {
    const none = await webRequest(target, "GET", "/api/domains");
    assert.equal(none.status, 401, none.body);
    assert.equal(none.json().code, "WEB_AUTH_REQUIRED");
    const list = await webRequest(target, "GET", "/api/domains", { token: viewer });
    assert.equal(list.status, 200, list.body);
    assert.deepEqual(
      (list.json() as { domains: { name: string }[] }).domains.map((x) => x.name),
      ["test"],
    );
    const denied = await webRequest(target, "POST", "/api/domains/test/suspend", { token: viewer });
    assert.equal(denied.status, 403, denied.body);
  }
  // TLS is real: a client that does not trust the certificate is refused during the handshake
  await assert.rejects(
    webRequest({ host: "127.0.0.1", port, tls: { ca: "" } }, "GET", "/api/openapi.json"),
    /self[- ]signed|unable to verify|certificate/i,
  );
  // plain HTTP to the TLS port gets no API
  const plain = await webRequest({ host: "127.0.0.1", port }, "GET", "/api/openapi.json").then(
    (r) => r.status,
    () => "refused",
  );
  assert.ok(plain === "refused" || plain === 400, `plain HTTP on the TLS port: ${String(plain)}`);

  // one set of drivers: a domain defined over RPC shows over HTTP, a change over HTTP over RPC
  const rpc = await connect(`test+unix:///default?socket=${rpcSock}`);
  try {
    await rpc.defineXML(
      "<domain type='test'><name>webd1</name><memory unit='KiB'>131072</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    );
    const got = await webRequest(https, "GET", "/api/domains/webd1", { token: admin });
    assert.equal(got.status, 200, got.body);
    const started = await webRequest(unix, "POST", "/api/domains/webd1/start", { token: admin });
    assert.equal(started.status, 200, started.body);
    assert.equal((await (await rpc.lookupDomainByName("webd1")).getInfo()).state, 1);
  } finally {
    await rpc.close();
  }
  // every change over HTTP is in the daemon's log with the token's name
  assert.match(d.stderr(), /web: token=admin POST \/api\/domains\/webd1\/start -> 200/);
  assert.match(d.stderr(), /web: denied token=viewer POST \/api\/domains\/test\/suspend \(read-only\)/);
  assert.match(d.stderr(), /web face for test:\/\/\/default on unix:.*, https:\/\/127\.0\.0\.1:\d+/);

  // SIGTERM closes the web face with the rest (an open event stream does not hold it)
  const events = webRequest(unix, "GET", "/api/events", { token: viewer }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await d.stop(), 0);
  await events;
});

test("tvirtd refuses to start with a web face it cannot serve", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvirtd-web-bad-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cfgFile = join(dir, "tvirtd.conf");
  const args = ["--listen", join(dir, "sock"), "--uri", "test:///default", "-f", cfgFile];
  writeFileSync(cfgFile, `web_listen_tcp = "0.0.0.0:${await freePort()}"\n`);
  const plain = await run(process.execPath, [tvirtdBin, ...args], { env });
  assert.equal(plain.code, 1);
  assert.match(plain.stderr, /web_listen_tcp: '0\.0\.0\.0:\d+' is not a loopback address/);
  writeFileSync(
    cfgFile,
    `web_listen_tcp = "127.0.0.1:${await freePort()}"\nweb_tls_cert = "${dir}/none.pem"\nweb_tls_key = "${dir}/none.key"\n` +
      `web_token_file = "${dir}/t.json"\n`,
  );
  const missing = await run(process.execPath, [tvirtdBin, ...args], { env });
  assert.doesNotMatch(missing.stderr, /no usable token/);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(
    missing.stderr,
    /cannot serve the web face: invalid argument: cannot serve TLS with certificate .*none\.pem and key .*none\.key: cannot read the certificate/,
  );
});

test("tvirtd serves a web face without tokens yet, and says why every request gets 401", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvirtd-web-none-"));
  t.after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const cfgFile = join(dir, "tvirtd.conf");
  const webSock = join(dir, "web.sock");
  const tokens = join(dir, "tokens.json");
  writeFileSync(cfgFile, `web_listen_unix = "${webSock}"\nweb_token_file = "${tokens}"\n`);
  const rpcSock = join(dir, "sock");
  const d = await spawnDaemon(
    ["--listen", rpcSock, "--uri", "test:///default", "-f", cfgFile],
    [rpcSock, webSock],
    {
      env,
    },
  );
  t.after(async () => {
    await d.stop();
  });
  // the warning follows the listeners by a moment
  for (let i = 0; i < 100 && !d.stderr().includes("no usable token"); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(
    d.stderr(),
    /web face: no usable token in .*tokens\.json .*every request gets 401 until 'tvirsh web-token create/,
  );
  assert.equal(
    (await webRequest({ socketPath: webSock }, "GET", "/api/domains", { token: "tvirt_x" })).status,
    401,
  );
  // a token made now is taken at once (the file is re-read when it changes)
  const token = (await createToken(tokens, "late", true)).token;
  assert.equal((await webRequest({ socketPath: webSock }, "GET", "/api/domains", { token })).status, 200);
});
