import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  checkSuite,
  debianMirrorsFromAptSources,
  machineDebianMirrors,
  SELECTION,
  STAMP,
  suiteDir,
  TARBALL_SHA256,
  TARBALL_SIZE,
  wanted,
} from "../../scripts/fetch-libvirt-suite.js";
import { repoRoot } from "./corpus.ts";
import {
  libvirtSuiteOrSkip,
  sampleShapedView,
  type SuiteCase,
  x86Cases,
  x86Outputs,
} from "./libvirt-suite.ts";

const script = join(repoRoot, "scripts", "fetch-libvirt-suite.js");

function tempDir(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), "tvirt-suite-"));
  t.after(() => {
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

/** Runs the fetch script with a cache under `xdg` and the given tarball; never reaches a network. */
function runFetch(xdg: string, tarball: string): { status: number | null; stderr: string } {
  const env = { ...process.env, XDG_CACHE_HOME: xdg, TVIRT_LIBVIRT_TARBALL: tarball };
  const r = spawnSync(process.execPath, [script], { env, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

function assertNothingComplete(xdg: string): void {
  const dir = join(xdg, "tvirt", "libvirt-11.3.0");
  assert.equal(existsSync(dir), false, `${dir} must not exist`);
  assert.equal(checkSuite(dir).ok, false);
  // No temporary folder is left behind either.
  assert.deepEqual(readdirSync(join(xdg, "tvirt")), []);
}

test("the fetch refuses a tarball of the wrong size, before extracting anything", (t) => {
  const xdg = tempDir(t);
  const fake = join(xdg, "libvirt-11.3.0.tar.xz");
  writeFileSync(fake, "not a tarball\n");
  const r = runFetch(xdg, fake);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /is 14 bytes, not libvirt-11\.3\.0\.tar\.xz's 9801572: refused/);
  assertNothingComplete(xdg);
  assert.ok(existsSync(fake), "the user's file is not deleted");
});

test("the fetch refuses a tarball of the right size with the wrong sha256", (t) => {
  const xdg = tempDir(t);
  const fake = join(xdg, "libvirt-11.3.0.tar.xz");
  writeFileSync(fake, "");
  truncateSync(fake, TARBALL_SIZE);
  const r = runFetch(xdg, fake);
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /has sha256 [0-9a-f]{64}, not libvirt-11\.3\.0\.tar\.xz's 6bcb0c42/);
  assert.match(r.stderr, /TVIRT_LIBVIRT_TARBALL must name/);
  assertNothingComplete(xdg);
});

test("the fetch says in one line when TVIRT_LIBVIRT_TARBALL names no file", (t) => {
  const xdg = tempDir(t);
  const r = runFetch(xdg, join(xdg, "nowhere.tar.xz"));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^fetch-libvirt-suite: TVIRT_LIBVIRT_TARBALL=\S+nowhere\.tar\.xz does not exist;/);
  assertNothingComplete(xdg);
});

test("without a tarball, each source's failure is named in one line, and a download is checked too", async (t) => {
  const xdg = tempDir(t);
  const etc = join(xdg, "apt");
  mkdirSync(etc);
  // A stand-in for libvirt's download site that serves the wrong file.
  const server = createServer((_req, res) => res.end("x".repeat(100)));
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/libvirt-11.3.0.tar.xz`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CACHE_HOME: xdg,
    TVIRT_APT_ETC: etc,
    TVIRT_LIBVIRT_URL: url,
  };
  delete env.TVIRT_LIBVIRT_TARBALL;
  const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = execFile(process.execPath, [script], { env }, (_e, _out, stderr) => {
      done({ code: child.exitCode, stderr });
    });
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /Debian trixie: no Debian mirror with main in the machine's apt sources/);
  assert.match(r.stderr, /libvirt\.org: \S+ is 100 bytes, not libvirt-11\.3\.0\.tar\.xz's 9801572: refused/);
  assert.match(r.stderr, /set TVIRT_LIBVIRT_TARBALL=PATH/);
  assert.equal(existsSync(join(xdg, "tvirt", "libvirt-11.3.0")), false);
  // The refused download is not left behind.
  assert.deepEqual(readdirSync(join(xdg, "tvirt")), []);
});

test("a killed run's temporary folder is cleared once it is an hour old, a newer one is left", (t) => {
  const xdg = tempDir(t);
  const old = join(xdg, "tvirt", ".libvirt-11.3.0.tmp-old");
  const fresh = join(xdg, "tvirt", ".libvirt-11.3.0.tmp-new");
  mkdirSync(old, { recursive: true });
  mkdirSync(fresh);
  const twoHoursAgo = new Date(Date.now() - 7_200_000);
  utimesSync(old, twoHoursAgo, twoHoursAgo);
  assert.equal(runFetch(xdg, join(xdg, "nowhere.tar.xz")).status, 1);
  assert.deepEqual(readdirSync(join(xdg, "tvirt")), [".libvirt-11.3.0.tmp-new"]);
});

test("a cache folder is complete only with a stamp naming the sha256 and all its files", (t) => {
  const dir = join(tempDir(t), "libvirt-11.3.0");
  mkdirSync(join(dir, "tests"), { recursive: true });
  writeFileSync(join(dir, "tests", "a.xml"), "<a/>");
  assert.match((checkSuite(dir) as { why: string }).why, /no readable/);
  const stamp = (sha256: string, files: number, selection = SELECTION): void => {
    writeFileSync(
      join(dir, STAMP),
      JSON.stringify({ tarball: "x", size: TARBALL_SIZE, sha256, selection, files }),
    );
  };
  stamp("0".repeat(64), 1);
  assert.match((checkSuite(dir) as { why: string }).why, /another tarball/);
  stamp(TARBALL_SHA256, 1, SELECTION - 1);
  assert.match((checkSuite(dir) as { why: string }).why, /older selection/);
  stamp(TARBALL_SHA256, 2);
  assert.match((checkSuite(dir) as { why: string }).why, /holds 1 files, its stamp says 2/);
  stamp(TARBALL_SHA256, 1);
  assert.equal(checkSuite(dir).ok, true);
});

test("the cache is $XDG_CACHE_HOME/tvirt/libvirt-11.3.0, else ~/.cache (a relative XDG_CACHE_HOME is ignored)", () => {
  assert.equal(suiteDir({ XDG_CACHE_HOME: "/c" }), "/c/tvirt/libvirt-11.3.0");
  assert.match(suiteDir({ XDG_CACHE_HOME: "rel" }), /\/\.cache\/tvirt\/libvirt-11\.3\.0$/);
  assert.match(suiteDir({}), /\/\.cache\/tvirt\/libvirt-11\.3\.0$/);
});

test("Debian mirrors are read from deb822 .sources and one-line .list entries", () => {
  const deb822 = [
    "Types: deb",
    "# a comment",
    "URIs: http://one.example/debian",
    "Suites: bookworm bookworm-updates",
    "Components: main contrib",
    "",
    "Types: deb",
    "URIs: http://security.example/debian-security",
    "Suites: bookworm-security",
    "Components: main",
    "",
    "Types: deb deb-src",
    "URIs: https://two.example/debian/",
    "Suites: trixie",
    "Components: main",
    "Enabled: no",
    "",
    "Types: deb",
    "URIs: https://three.example/debian/",
    "Suites: bookworm",
    "Components: contrib",
  ].join("\n");
  assert.deepEqual(debianMirrorsFromAptSources(deb822, true), ["http://one.example/debian"]);
  const list = [
    "# deb http://commented.example/debian bookworm main",
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg arch=amd64] http://four.example/debian/ bookworm main non-free",
    "deb http://security.example/debian-security bookworm-security main",
    "deb-src https://five.example/debian sid main # trailing comment",
    "deb cdrom:[Debian]/ bookworm main",
  ].join("\n");
  assert.deepEqual(debianMirrorsFromAptSources(list, false), [
    "http://four.example/debian",
    "https://five.example/debian",
  ]);
});

test("the machine's Debian mirrors come from sources.list and sources.list.d (.list and .sources)", (t) => {
  const etc = tempDir(t);
  mkdirSync(join(etc, "sources.list.d"));
  writeFileSync(join(etc, "sources.list"), "deb http://a.example/debian bookworm main\n");
  writeFileSync(join(etc, "sources.list.d", "b.list"), "deb http://b.example/debian bookworm main\n");
  writeFileSync(
    join(etc, "sources.list.d", "c.sources"),
    "Types: deb\nURIs: http://c.example/debian http://a.example/debian\nSuites: bookworm\nComponents: main\n",
  );
  writeFileSync(
    join(etc, "sources.list.d", "d.list.disabled"),
    "deb http://d.example/debian bookworm main\n",
  );
  assert.deepEqual(machineDebianMirrors(etc), [
    "http://a.example/debian",
    "http://b.example/debian",
    "http://c.example/debian",
  ]);
});

test("only the listed test data is taken from the tarball", () => {
  for (const keep of [
    "tests/qemuxmlconftest.c",
    "tests/testutilsqemu.c",
    "tests/qemuxml2argvmock.c",
    "COPYING.LESSER",
    "tests/qemuxmlconfdata/disk-virtio.xml",
    "tests/qemuxmlconfdata/aarch64-default-cpu-kvm-virt-4.2.xml",
    "tests/qemuxmlconfdata/disk-virtio.x86_64-latest.args",
    "tests/qemuxmlconfdata/x86_64-pc-minimal.x86_64-latest.abi-update.xml",
    "tests/qemuxmlconfdata/cpu-host-model-kvm.x86_64-7.2.0.args",
    "tests/qemuxmlconfdata/launch-security-sev.x86_64-latest+amdsev.args",
    "tests/qemuxmlconfdata/hugepages-default-5M.x86_64-latest.err",
    "tests/qemucapabilitiesdata/caps_10.0.0_x86_64.xml",
    "tests/qemucapabilitiesdata/caps_9.2.0_x86_64+amdsev.replies",
    "tests/domaincapsdata/qemu_10.0.0-q35.x86_64.xml",
    "tests/qemufirmwaredata/etc/qemu/firmware/20-bios.json",
    "tests/qemustatusxml2xmldata/modern-in.xml",
    "tests/networkxml2xmlin/nat-network.xml",
    "tests/storagepoolxml2xmlin/pool-dir.xml",
    "tests/virnetworkportxml2xmldata/plug-network-basic.xml",
  ])
    assert.equal(wanted(keep), true, keep);
  for (const drop of [
    "tests/qemuxmlconfdata/aarch64-virt-minimal.aarch64-latest.args",
    "tests/qemuxmlconfdata/s390-minimal.s390x-latest.xml",
    "tests/qemuxmlconfdata/pseries-basic.ppc64-latest.err",
    "tests/qemuxmlconfdata/x.s390x-8.1.0.args",
    "tests/qemucapabilitiesdata/caps_10.0.0_aarch64.xml",
    "tests/domaincapsdata/qemu_10.0.0-virt.aarch64.xml",
    "tests/testutils.c",
    "tests/vircaps2xmldata/linux-basic/system/node/online",
    "src/qemu/qemu_command.c",
    "COPYING",
  ])
    assert.equal(wanted(drop), false, drop);
});

test("x86Cases: inputs with an x86_64 .args or .err output, by variant", (t) => {
  const d = tempDir(t);
  for (const f of [
    "a.xml",
    "a.x86_64-latest.args",
    "a.x86_64-latest.xml",
    "a.x86_64-7.2.0.args",
    "b-4.2.xml",
    "b-4.2.x86_64-latest.err",
    "c.xml",
    "c.x86_64-latest+amdsev.args",
    "d.xml",
    "d.aarch64-latest.args",
    "e.xml",
    "e.x86_64-latest.xml",
    "orphan.x86_64-latest.args",
  ])
    writeFileSync(join(d, f), "");
  const cases = x86Cases(d);
  assert.deepEqual(
    cases.map((c) => c.name),
    ["a", "b-4.2", "c"],
  );
  assert.deepEqual([...cases[0]!.variants.keys()].sort(), ["7.2.0", "latest"]);
  assert.deepEqual([...cases[0]!.variants.get("latest")!].sort(), ["args", "xml"]);
  assert.deepEqual([...cases[2]!.variants.keys()], ["latest+amdsev"]);
  // One entry per output with an .args or .err, variants in order.
  assert.deepEqual(
    x86Outputs(d).map((o) => `${o.name} ${o.variant} ${[...o.kinds].sort().join(",")}`),
    ["a 7.2.0 args", "a latest args,xml", "b-4.2 latest err", "c latest+amdsev args"],
  );
});

test("the fetched suite has the expected shape (required under CI)", (t) => {
  const dir = libvirtSuiteOrSkip(t);
  if (dir === undefined) return;
  const stamp = JSON.parse(readFileSync(join(dir, STAMP), "utf8")) as { sha256: string; size: number };
  assert.equal(stamp.sha256, TARBALL_SHA256);
  assert.equal(stamp.size, TARBALL_SIZE);
  for (const f of ["qemuxmlconftest.c", "testutilsqemu.c", "testutilsqemu.h", "qemuxml2argvmock.c"])
    assert.ok(existsSync(join(dir, "tests", f)), f);
  assert.ok(existsSync(join(dir, "COPYING.LESSER")));

  const conf = join(dir, "tests", "qemuxmlconfdata");
  const files = readdirSync(conf);
  const cases = x86Cases(conf);
  const hasArgsOrErr = (c: SuiteCase, variant: (v: string) => boolean): boolean =>
    [...c.variants].some(([v, kinds]) => variant(v) && (kinds.has("args") || kinds.has("err")));
  // Any x86_64 .args/.err: also four cases tested only with older QEMU capabilities.
  assert.equal(cases.length, 945);
  assert.deepEqual(
    cases.filter((c) => !hasArgsOrErr(c, (v) => v.startsWith("latest"))).map((c) => c.name),
    ["cpu-fallback", "cpu-nofallback", "disk-network-gluster", "sgx-epc"],
  );
  // The 941: an .args/.err with the latest capabilities (plain, .abi-update or +amdsev).
  assert.equal(cases.filter((c) => hasArgsOrErr(c, (v) => v.startsWith("latest"))).length, 941);
  // Plain .x86_64-latest.args/.err, the sample corpus' kind of case (conformance.ts reads these).
  assert.equal(cases.filter((c) => hasArgsOrErr(c, (v) => v === "latest")).length, 937);
  assert.equal(files.filter((f) => /\.x86_64-\d+\.\d+\.\d+\.(args|xml|err)$/.test(f)).length, 97);
  // What the golden ratchet judges: 951 outputs with the latest capabilities, 51 versioned ones.
  const outputs = x86Outputs(conf);
  assert.equal(outputs.filter((o) => o.variant.startsWith("latest")).length, 951);
  assert.equal(outputs.filter((o) => !o.variant.startsWith("latest")).length, 51);
  assert.equal(files.filter((f) => f.includes(".x86_64-latest+amdsev.")).length, 8);
  // No other architecture's outputs.
  assert.deepEqual(
    files.filter((f) => /\.(aarch64|s390x|ppc64|ppc|riscv64|loongarch64|armv7l)-/.test(f)),
    [],
  );

  const caps = readdirSync(join(dir, "tests", "qemucapabilitiesdata"));
  assert.equal(caps.length, 28);
  assert.ok(caps.every((f) => f.includes("x86_64")));
  assert.ok(caps.includes("caps_10.0.0_x86_64.xml") && caps.includes("caps_7.2.0_x86_64.replies"));
  const testDirs = readdirSync(join(dir, "tests"));
  assert.equal(testDirs.filter((f) => f.startsWith("network")).length, 6);
  assert.equal(testDirs.filter((f) => f.startsWith("storage")).length, 9);
});

test("sampleShapedView lays the suite out like the sample corpus", (t) => {
  const dir = libvirtSuiteOrSkip(t);
  if (dir === undefined) return;
  const view = sampleShapedView(dir, join(tempDir(t), "view"));
  for (const f of [
    "qemuxmlconfdata/disk-virtio.x86_64-latest.args",
    "caps/caps_10.0.0_x86_64.xml",
    "aux/networkxml2xmlin/nat-network.xml",
    "aux/virnetworkportxml2xmldata/plug-network-basic.xml",
    "aux/storagepoolxml2xmlout/pool-dir.xml",
    "qemuxmlconfdata/aarch64-virt-minimal.xml",
  ])
    assert.ok(existsSync(join(view, f)), f);

  // Only the plain x86_64-latest cases: what `npm run conformance -- --corpus VIEW` judges.
  const latest = sampleShapedView(dir, join(tempDir(t), "latest"), { latestOnly: true });
  const files = readdirSync(join(latest, "qemuxmlconfdata"));
  const inputs = files.filter((f) => f.endsWith(".xml") && !f.includes(".x86_64-"));
  assert.equal(inputs.length, 937);
  assert.ok(files.includes("x86_64-pc-minimal.x86_64-latest.abi-update.args"));
  assert.ok(files.includes("cpu-host-model-kvm.x86_64-7.2.0.args"));
  assert.ok(!files.some((f) => f.startsWith("aarch64-virt-minimal.")));
  assert.ok(!files.some((f) => f.startsWith("sgx-epc.")), "a case with only versioned outputs");
  assert.ok(existsSync(join(latest, "caps", "caps_10.0.0_x86_64.xml")));
});
