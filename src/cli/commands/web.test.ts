/**
 * `tvirsh web-token` and `tvirsh web`: tokens made by the CLI open the API that `web` serves,
 * over TCP on loopback and over a Unix socket, until SIGINT.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { selfSignedCert, webRequest } from "../../testing/web.ts";
import { startArgv } from "../../util/spawn.ts";
import { main } from "../main.ts";
import { BufferIo } from "../output.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { parseListen } from "./web.ts";

const tvirsh = join(import.meta.dirname, "../../../bin/tvirsh.js");

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = new BufferIo();
  const code = await main(argv, io, {});
  return { code, out: io.stdout, err: io.stderr };
}

function get(
  target: { port: number } | { socketPath: string },
  path: string,
  token?: string,
  method = "GET",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...("port" in target ? { host: "127.0.0.1", port: target.port } : { socketPath: target.socketPath }),
        path,
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

test("parseListen: loopback default, IPv6, unix sockets, clear errors", () => {
  assert.deepEqual(parseListen("8080"), { host: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseListen("0.0.0.0:80"), { host: "0.0.0.0", port: 80 });
  assert.deepEqual(parseListen("[::1]:9"), { host: "::1", port: 9 });
  assert.deepEqual(parseListen("unix:/run/x.sock"), { path: "/run/x.sock" });
  assert.throws(() => parseListen("unix:rel"), { code: "WEB_LISTEN" });
  assert.throws(() => parseListen("host.example:80"), { code: "WEB_LISTEN" });
  assert.throws(() => parseListen("1.2.3.4:70000"), { code: "WEB_LISTEN" });
});

test("web-token create|list|revoke", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-web-"));
  try {
    const f = join(dir, "tokens.json");
    const c = await run(["web-token", "create", "--token-file", f, "ops", "--read-only"]);
    assert.equal(c.code, 0, c.err);
    const token = c.out.trimEnd().split("\n").at(-1) ?? "";
    assert.match(token, /^tvirt_/);
    assert.equal((await stat(f)).mode & 0o777, 0o600);
    assert.ok(!(await readFile(f, "utf8")).includes(token));
    const l = await run(["web-token", "list", "--token-file", f]);
    assert.match(l.out, /^ ops +read-only +\d{4}-/m);
    const dup = await run(["web-token", "create", "--token-file", f, "ops"]);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /web token 'ops' already exists/);
    assert.equal((await run(["web-token", "revoke", "--token-file", f, "ops"])).code, 0);
    const gone = await run(["web-token", "revoke", "--token-file", f, "ops"]);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /no web token named 'ops'/);
    const j = await run(["web-token", "list", "--token-file", f, "--json"]);
    assert.deepEqual(JSON.parse(j.out), { tokens: [] });
    for (const argv of [
      ["create", "--token-file", f, "j1", "--json"],
      ["list", "--token-file", f, "--json"],
      ["revoke", "--token-file", f, "j1", "--json"],
    ]) {
      const r = await run(["web-token", ...argv]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(validate(JSON.parse(r.out), commandSchemas["web-token"]!), [], r.out);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Starts `tvirsh web` and waits for its "Serving" line. */
async function serve(
  args: string[],
): Promise<{ stop: () => Promise<{ code: number | null; err: string }>; out: string }> {
  const child = startArgv([process.execPath, tvirsh, "-c", "test:///default", "web", ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((r) =>
    child.on("exit", (code) => {
      r(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`tvirsh web did not start: ${err}`));
    }, 30_000);
    child.stdout.on("data", (c: string) => {
      out += c;
      if (out.includes("Serving")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tvirsh web exited (${String(code)}): ${err}`));
    });
  });
  return {
    out,
    async stop() {
      // Only the child this test started, by its pid.
      if (child.pid !== undefined) process.kill(child.pid, "SIGINT");
      return { code: await exited, err };
    },
  };
}

test("tvirsh web serves the API on loopback TCP and on a Unix socket until SIGINT", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-web-"));
  try {
    const f = join(dir, "tokens.json");
    const none = await run(["-c", "test:///default", "web", "--token-file", f, "--listen", "0"]);
    assert.equal(none.code, 1);
    assert.match(none.err, /no tokens in/);
    const c = await run(["web-token", "create", "--token-file", f, "admin"]);
    const token = c.out.trimEnd().split("\n").at(-1) ?? "";

    const tcp = await serve(["--listen", "127.0.0.1:0", "--token-file", f]);
    const m = /at http:\/\/127\.0\.0\.1:(\d+)\/api\//.exec(tcp.out);
    assert.ok(m?.[1], tcp.out);
    const port = Number(m[1]);
    assert.equal((await get({ port }, "/api/domains")).status, 401);
    const ok = await get({ port }, "/api/domains", token);
    assert.equal(ok.status, 200);
    assert.equal((JSON.parse(ok.body) as { domains: { name: string }[] }).domains[0]?.name, "test");
    assert.equal((await get({ port }, "/api/domains/test/suspend", token, "POST")).status, 200);
    const t = await tcp.stop();
    assert.equal(t.code, 0, t.err);
    assert.match(t.err, /^web: token=admin POST \/api\/domains\/test\/suspend -> 200$/m);

    const sock = join(dir, "web.sock");
    const unix = await serve(["--listen", `unix:${sock}`, "--token-file", f]);
    assert.equal((await stat(sock)).mode & 0o777, 0o600);
    assert.equal((await get({ socketPath: sock }, "/api/host", token)).status, 200);
    assert.equal((await unix.stop()).code, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("tvirsh web refuses plain HTTP beyond loopback as tvirtd does, unless --insecure", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-web-clear-"));
  try {
    const f = join(dir, "tokens.json");
    const c = await run(["web-token", "create", "--token-file", f, "admin"]);
    const token = c.out.trimEnd().split("\n").at(-1) ?? "";
    for (const listen of ["0.0.0.0:0", "[::]:0"]) {
      const r = await run(["-c", "test:///default", "web", "--token-file", f, "--listen", listen]);
      assert.equal(r.code, 1, r.err);
      assert.equal(
        r.err,
        `error: invalid argument: '${listen}' is not a loopback address: set --tls-cert and --tls-key ` +
          "(bearer tokens must not cross the network in clear), or listen on 127.0.0.1, " +
          "or pass --insecure to serve it in clear knowingly\n",
      );
      const j = await run(["-c", "test:///default", "web", "--token-file", f, "--listen", listen, "--json"]);
      assert.equal(j.code, 1);
      assert.equal((JSON.parse(j.out) as { error: { code: string } }).error.code, "WEB_LISTEN_CLEAR");
    }
    // knowingly: served, with the warning on stderr (0.0.0.0 also answers on 127.0.0.1)
    const srv = await serve(["--listen", "0.0.0.0:0", "--token-file", f, "--insecure"]);
    const m = /at http:\/\/0\.0\.0\.0:(\d+)\/api\//.exec(srv.out);
    assert.ok(m?.[1], srv.out);
    assert.equal((await get({ port: Number(m[1]) }, "/api/domains", token)).status, 200);
    const s = await srv.stop();
    assert.equal(s.code, 0, s.err);
    assert.match(
      s.err,
      /^warning: serving on 0\.0\.0\.0:0 without TLS \(--insecure\): tokens and data cross/m,
    );
    // loopback and Unix sockets need neither TLS nor --insecure (the test above serves both)
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("tvirsh web --tls-cert --tls-key serves HTTPS; half a pair or a bad pair is refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-web-tls-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pem = await selfSignedCert(dir);
  if (!pem) {
    if (process.env.CI === "true") assert.fail("openssl is missing (scripts/setup installs it)");
    t.skip("openssl is missing");
    return;
  }
  const f = join(dir, "tokens.json");
  const c = await run(["web-token", "create", "--token-file", f, "admin"]);
  const token = c.out.trimEnd().split("\n").at(-1) ?? "";
  const half = await run(["-c", "test:///default", "web", "--token-file", f, "--tls-cert", pem.cert]);
  assert.equal(half.code, 1);
  assert.match(half.err, /--tls-cert and --tls-key go together/);
  const onUnix = await run([
    "-c",
    "test:///default",
    "web",
    "--token-file",
    f,
    "--listen",
    `unix:${join(dir, "s")}`,
    "--tls-cert",
    pem.cert,
    "--tls-key",
    pem.key,
  ]);
  assert.match(onUnix.err, /need a TCP --listen address/);
  // the certificate given as its own key: not a key, said with both file names
  const bad = await run([
    "-c",
    "test:///default",
    "web",
    "--token-file",
    f,
    "--listen",
    "127.0.0.1:0",
    "--tls-cert",
    pem.cert,
    "--tls-key",
    pem.cert,
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /cannot serve TLS with certificate .*cert\.pem and key .*cert\.pem: /);

  const srv = await serve([
    "--listen",
    "127.0.0.1:0",
    "--token-file",
    f,
    "--tls-cert",
    pem.cert,
    "--tls-key",
    pem.key,
  ]);
  const m = /at https:\/\/127\.0\.0\.1:(\d+)\/api\//.exec(srv.out);
  assert.ok(m?.[1], srv.out);
  const target = { host: "127.0.0.1", port: Number(m[1]), tls: { ca: await readFile(pem.cert) } };
  assert.equal((await webRequest(target, "GET", "/api/domains")).status, 401);
  const ok = await webRequest(target, "GET", "/api/domains", { token });
  assert.equal(ok.status, 200, ok.body);
  await assert.rejects(webRequest({ ...target, tls: { ca: "" } }, "GET", "/api/domains", { token }));
  assert.equal((await srv.stop()).code, 0);
});
