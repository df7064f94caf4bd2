/**
 * `virsh console` over the wire: stock virsh (in a pseudo-terminal, as it requires) attaches to a
 * domain's console through tvirtd's server, sees the guest's output, types into it, and detaches
 * with ^] (abort confirmed by the server, the device side released). The domain comes from a
 * driver with a console (scheme `fake`), since the test driver has none, as in libvirt.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { registerDriver, unregisterDriver } from "../api/index.ts";
import {
  consoles,
  fakeConnectDriver,
  pythonLibvirtOrSkip,
  run,
  startTestServer,
  virshOrSkip,
  type TestServer,
} from "../testing/rpc/harness.ts";

let srv: TestServer;
before(async () => {
  registerDriver(fakeConnectDriver);
  srv = await startTestServer();
});
after(async () => {
  await srv.close();
  unregisterDriver(fakeConnectDriver);
});

const ptyScript = fileURLToPath(new URL("./pty-console.py", import.meta.url));

test("stock virsh console: output, input, ^] detaches", async (t) => {
  const virsh = virshOrSkip(t);
  const py = virsh ? pythonLibvirtOrSkip(t) : undefined;
  if (!virsh || !py) return;
  const before = consoles.length;
  const r = await run(py, [ptyScript, virsh, "-c", `fake+unix:///x?socket=${srv.path}`, "console", "fake"], {
    env: { ...process.env, LANG: "C", LC_ALL: "C" },
  });
  const res = JSON.parse(r.stdout) as { steps: boolean[]; status: number | null; transcript: string };
  assert.deepEqual(res.steps, [true, true], res.transcript);
  assert.equal(res.status, 0, res.transcript);
  assert.match(
    res.transcript,
    /Connected to domain 'fake'\r?\nEscape character is \^\] \(Ctrl \+ \]\)\r?\nlogin: HELLO/,
  );
  assert.equal(consoles.length, before + 1);
  const until = Date.now() + 2000;
  while (!consoles.at(-1)!.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(consoles.at(-1)!.closed, true, "the device side was not released");
});

test("tvirsh console through the remote driver: the same", async (t) => {
  const py = pythonLibvirtOrSkip(t);
  if (!py) return;
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const r = await run(
    py,
    [
      ptyScript,
      process.execPath,
      "--import",
      "tsx",
      "--import",
      "./src/rpc/register.ts",
      "bin/tvirsh.js",
      "-c",
      `fake+unix:///x?socket=${srv.path}`,
      "console",
      "fake",
    ],
    { cwd: root, env: { ...process.env, LANG: "C", LC_ALL: "C" } },
  );
  const res = JSON.parse(r.stdout) as { steps: boolean[]; status: number | null; transcript: string };
  assert.deepEqual(res.steps, [true, true], res.transcript);
  assert.equal(res.status, 0, res.transcript);
  assert.match(
    res.transcript,
    /Connected to domain 'fake'\r?\nEscape character is \^\] \(Ctrl \+ \]\)\r?\nlogin: HELLO/,
  );
  const until = Date.now() + 2000;
  while (!consoles.at(-1)!.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(consoles.at(-1)!.closed, true);
});

test("stock virsh qemu-monitor-command goes through the QEMU program", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const u = `fake+unix:///x?socket=${srv.path}`;
  const hmp = await run(virsh, ["-c", u, "qemu-monitor-command", "fake", "--hmp", "info registers"], {
    env: { ...process.env, LANG: "C" },
  });
  assert.deepEqual(hmp, { code: 0, stdout: "fake:hmp:info registers\n\n", stderr: "" });
  const qmp = await run(virsh, ["-c", u, "qemu-monitor-command", "fake", '{"execute":"query-status"}'], {
    env: { ...process.env, LANG: "C" },
  });
  assert.deepEqual(qmp, { code: 0, stdout: 'fake:qmp:{"execute":"query-status"}\n\n', stderr: "" });
  const none = await run(virsh, ["-c", srv.uri, "qemu-monitor-command", "test", "--hmp", "info registers"], {
    env: { ...process.env, LANG: "C" },
  });
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    "error: this function is not supported by the connection driver: virDomainQemuMonitorCommand\n",
  );
});
