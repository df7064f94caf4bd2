/**
 * The systemd units of systemd/ pass `systemd-analyze verify`, and say what tvirtd expects of
 * them: the socket paths and modes of the issue, FileDescriptorName= matching the names
 * activation.ts maps to roles, Type=notify with NotifyAccess=all (READY=1 comes from
 * systemd-notify, tvirtd's child), KillMode=process (guests outlive the daemon), ExecReload by
 * SIGHUP, and no hardening option that breaks QEMU.
 *
 * verify checks that ExecStart's program exists: until the package installs /usr/bin/tvirtd,
 * the copy verified here runs the clone's launcher (bin/tvirtd.js) instead, every other line
 * unchanged. `--man=no` while the man pages are not installed.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { runArgv } from "../util/spawn.ts";
import { tvirtdBin } from "../testing/rpc/harness.ts";

const unitsDir = fileURLToPath(new URL("../../systemd/", import.meta.url));
const guestsBin = fileURLToPath(new URL("../../bin/tvirt-guests.js", import.meta.url));
const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));

function analyzeOrSkip(t: TestContext): string | undefined {
  if (analyze) return analyze;
  if (process.env.CI === "true") assert.fail("systemd-analyze is missing (apt-get install systemd)");
  t.skip("systemd-analyze is missing (apt-get install systemd)");
  return undefined;
}

/** Parses a unit file: section → key → values (in order). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = new Map();
      out.set(m[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(section && eq > 0, `unit line outside a section or without '=': ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const unit = (name: string): Map<string, Map<string, string[]>> =>
  parseUnit(readFileSync(join(unitsDir, name), "utf8"));

test("systemd/ holds the service, its two sockets (tvirtd has no admin socket) and tvirt-guests", () => {
  assert.deepEqual(readdirSync(unitsDir).sort(), [
    "tvirt-guests.service",
    "tvirtd-ro.socket",
    "tvirtd.service",
    "tvirtd.socket",
  ]);
});

test("systemd-analyze verify passes on every unit, and fails on a broken one", async (t) => {
  const bin = analyzeOrSkip(t);
  if (!bin) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-units-"));
  try {
    const installed = existsSync("/usr/bin/tvirtd");
    const guestsInstalled = existsSync("/usr/bin/tvirt-guests");
    for (const f of readdirSync(unitsDir)) {
      let text = readFileSync(join(unitsDir, f), "utf8");
      if (!installed) text = text.replace(/^ExecStart=\/usr\/bin\/tvirtd /m, `ExecStart=${tvirtdBin} `);
      if (!guestsInstalled) text = text.replace(/^(Exec\w+)=\/usr\/bin\/tvirt-guests /gm, `$1=${guestsBin} `);
      writeFileSync(join(dir, f), text);
    }
    const man = (await runArgv(["man", "-w", "tvirtd"]).catch(() => ({ code: 1 }))).code === 0;
    const files = readdirSync(dir).map((f) => join(dir, f));
    const r = await runArgv([bin, "verify", `--man=${man ? "yes" : "no"}`, ...files], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", SYSTEMD_LOG_LEVEL: "notice" },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "no warning either");

    // the same check catches a broken unit
    copyFileSync(join(dir, "tvirtd.socket"), join(dir, "broken.socket"));
    writeFileSync(
      join(dir, "broken.socket"),
      readFileSync(join(dir, "broken.socket"), "utf8").replace(
        "Service=tvirtd.service",
        "Service=nowhere.service",
      ),
    );
    const bad = await runArgv([bin, "verify", "--man=no", join(dir, "broken.socket")], {
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /nowhere\.service/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the sockets: paths, modes and the names tvirtd maps to roles", () => {
  const rw = unit("tvirtd.socket").get("Socket")!;
  assert.deepEqual(rw.get("ListenStream"), ["/run/tvirt/tvirt-sock"]);
  assert.deepEqual(rw.get("SocketMode"), ["0660"]);
  assert.deepEqual(rw.get("SocketGroup"), ["tvirt"]);
  assert.deepEqual(rw.get("FileDescriptorName"), ["tvirtd.socket"]);
  assert.deepEqual(rw.get("Service"), ["tvirtd.service"]);
  const ro = unit("tvirtd-ro.socket").get("Socket")!;
  assert.deepEqual(ro.get("ListenStream"), ["/run/tvirt/tvirt-sock-ro"]);
  assert.deepEqual(ro.get("SocketMode"), ["0666"]);
  assert.deepEqual(ro.get("FileDescriptorName"), ["tvirtd-ro.socket"]);
  assert.deepEqual(ro.get("Service"), ["tvirtd.service"]);
});

test("the service: notify, reload by SIGHUP, guests outlive it, no hardening that breaks QEMU", () => {
  const u = unit("tvirtd.service");
  const s = u.get("Service")!;
  assert.deepEqual(s.get("Type"), ["notify"]);
  assert.deepEqual(s.get("NotifyAccess"), ["all"]);
  assert.deepEqual(s.get("ExecReload"), ["/bin/kill -HUP $MAINPID"]);
  assert.deepEqual(s.get("KillMode"), ["process"]);
  assert.match(s.get("ExecStart")![0]!, /^\/usr\/bin\/tvirtd \$TVIRTD_ARGS$/);
  assert.deepEqual(s.get("Environment"), ['TVIRTD_ARGS="--timeout 120"']);
  for (const k of [
    "PrivateDevices",
    "PrivateTmp",
    "ProtectHome",
    "ProtectKernelTunables",
    "ProtectKernelModules",
    "MemoryDenyWriteExecute",
    "NoNewPrivileges",
    "DevicePolicy",
    "ProtectClock",
    "RestrictNamespaces",
    "PrivateNetwork",
  ])
    assert.equal(s.get(k), undefined, `${k} breaks guests (see the unit's comment)`);
  assert.deepEqual(s.get("ProtectSystem"), ["yes"], "full/strict would make /etc/tvirt read-only");
  const wants = u.get("Unit")!.get("Wants") ?? [];
  assert.deepEqual(wants.sort(), ["tvirtd-ro.socket", "tvirtd.socket"]);
  assert.deepEqual(u.get("Install")!.get("WantedBy"), ["multi-user.target"]);
});

test("tvirt-guests.service: a oneshot that stays active, stops before tvirtd and waits for the saves", () => {
  const u = unit("tvirt-guests.service");
  const s = u.get("Service")!;
  assert.deepEqual(s.get("Type"), ["oneshot"]);
  assert.deepEqual(s.get("RemainAfterExit"), ["yes"]);
  assert.deepEqual(s.get("ExecStart"), ["/usr/bin/tvirt-guests start"]);
  assert.deepEqual(s.get("ExecStop"), ["/usr/bin/tvirt-guests stop"]);
  assert.deepEqual(s.get("TimeoutStopSec"), ["0"]);
  assert.deepEqual(s.get("EnvironmentFile"), ["-/etc/default/tvirt-guests"]);
  // stopped before tvirtd at shutdown (units stop in the reverse of their start order)
  assert.ok(u.get("Unit")!.get("After")!.includes("tvirtd.service"));
  assert.deepEqual(u.get("Install")!.get("WantedBy"), ["multi-user.target"]);
});
