/**
 * Domain capabilities against libvirt 11.3's own answers: each x86_64 `domaincapsdata` output
 * is rebuilt from the capability file libvirt's test used (`caps_<version>_x86_64.xml`), with
 * the firmware descriptors of its `qemufirmwaredata` tree and the host facts its test mocks
 * (VFIO usable, swtpm 2.0, 64 physical address bits, two fake configured firmware images).
 *
 * The CPU section needs a CPU map, which libvirt's capability files do not carry: the installed
 * QEMU's probed map stands in (a model it lacks is no host-model candidate), and the host-model
 * CPU must be libvirt's for every file; where the installed QEMU is the file's version (7.2
 * here) the whole document must be libvirt's. The named models are read from the file's
 * recorded QMP replies with the probe's own parser (so canonical names, QEMU's `alias-of`, come
 * as for a probed QEMU); their vendors come from the map's expansions (domcaps.ts), and the list
 * is cut to the models libvirt 11.3's map knows, as libvirt does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDomainCaps } from "../../../conf/domcaps/index.ts";
import { libvirtSuiteOrSkip } from "../../../testing/libvirt-suite.ts";
import { loadFirmwareDescriptors, supportedFirmware } from "../firmware.ts";
import { buildDomainCaps, resolveMachine, type DomainCapsOptions, type VirtType } from "./domcaps.ts";
import { loadCapsFile } from "./load.ts";
import { getQemuCaps } from "./cache.ts";
import { qemuBinaryPath } from "../../../testing/qemu/capabilities.ts";
import { TEST_CAPS_CACHE } from "../../../testing/qemu/driver.ts";
import { cpuModelsFromQmp } from "./probe.ts";
import { parseQmpReplies } from "../../../testing/qemu/monitor-fake-server.ts";
import type { Accel, AccelCaps, CpuDefinition, CpuModelInfo, QemuCaps } from "./types.ts";

interface Case {
  file: string;
  caps: string;
  virtType: VirtType;
  machine?: string;
}

/**
 * The x86_64 outputs that have a capability file: per file the default machine under KVM, q35
 * and TCG; the macOS host's file under HVF and TCG.
 */
function cases(suite: string): Case[] {
  const dir = join(suite, "tests", "domaincapsdata");
  const out: Case[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^qemu_(\d+\.\d+\.\d+)(?:-(q35|tcg|hvf))?\.x86_64(\+amdsev|\+hvf)?\.xml$/.exec(f);
    if (!m) continue;
    const caps = join(suite, "tests", "qemucapabilitiesdata", `caps_${m[1]}_x86_64${m[3] ?? ""}.xml`);
    if (!existsSync(caps)) continue;
    out.push({
      file: join(dir, f),
      caps,
      virtType: m[2] === "tcg" ? "qemu" : m[2] === "hvf" ? "hvf" : "kvm",
      ...(m[2] === "q35" ? { machine: "q35" } : {}),
    });
  }
  return out;
}

/**
 * A capability file with each accelerator's CPU models as the probe reads them from QEMU's
 * answers recorded beside the file (`query-cpu-definitions` in the `.replies`, one per probe
 * session: the accelerated one first, then TCG): the file keeps usability and blockers, the
 * answers also the versioned model each alias stands for (`alias-of`).
 */
function loadWithReplies(capsFile: string): QemuCaps {
  const caps = loadCapsFile(capsFile, { hvf: true });
  const answers = parseQmpReplies(readFileSync(capsFile.replace(/\.xml$/, ".replies"), "utf8"))
    .filter((x) => x.request.execute === "query-cpu-definitions")
    .map((x) => x.reply.return);
  const order = (Object.keys(caps.accel) as Accel[]).sort(
    (a, b) => Number(a === "tcg") - Number(b === "tcg"),
  );
  assert.equal(answers.length, order.length, `${capsFile}: one query-cpu-definitions per accelerator`);
  const accel: Partial<Record<Accel, AccelCaps>> = {};
  order.forEach((k, i) => {
    const a = caps.accel[k]!;
    const cpuModels = cpuModelsFromQmp(answers[i] as unknown[]);
    // The same models, usability and blockers as libvirt's reading of the same answer.
    const facts = (ms: readonly CpuModelInfo[]): string[] =>
      ms.map((m) => `${m.name} ${m.usable} ${[...(m.blockers ?? [])].sort().join(",")}`).sort();
    assert.deepEqual(facts(cpuModels), facts(a.cpuModels), `${capsFile}: ${k} models`);
    accel[k] = { ...a, cpuModels };
  });
  return { ...caps, accel };
}

/**
 * The models libvirt 11.3's own CPU map describes (libvirt lists no other): those of QEMU 9.2,
 * the newest QEMU before that libvirt, and the unversioned models of older QEMUs (libvirt wrote
 * versioned models only for the lines QEMU still had, so Icelake-Client, gone in QEMU 7.1, has
 * none). Models QEMU 10.0 added are not in it.
 */
const mapModels = new Map<string, ReadonlySet<string>>();
function libvirtMapModels(suite: string): ReadonlySet<string> {
  const known = mapModels.get(suite);
  if (known) return known;
  const dir = join(suite, "tests", "qemucapabilitiesdata");
  const out = new Set<string>();
  for (const f of readdirSync(dir)) {
    const m = /^caps_(\d+)\.(\d+)\.\d+_x86_64\.xml$/.exec(f);
    if (!m) continue;
    const version = Number(m[1]) * 1000 + Number(m[2]);
    if (version > 9_002) continue;
    for (const [k, a] of Object.entries(loadCapsFile(join(dir, f)).accel)) {
      if (k !== "tcg") continue;
      for (const x of a.cpuModels) if (version === 9_002 || !/-v\d+$/.test(x.name)) out.add(x.name);
    }
  }
  mapModels.set(suite, out);
  return out;
}

/** The installed QEMU's CPU map and version, when QEMU is installed. */
async function installedMap(): Promise<{ map: readonly CpuDefinition[]; version: number } | undefined> {
  let live: QemuCaps;
  try {
    live = await getQemuCaps(qemuBinaryPath(), { cacheDir: TEST_CAPS_CACHE });
  } catch {
    return undefined;
  }
  return live.cpuDefinitions ? { map: live.cpuDefinitions, version: live.version } : undefined;
}

const sameRelease = (a: number, b: number): boolean => Math.floor(a / 1000) === Math.floor(b / 1000);

function optionsFor(
  suite: string,
  caps: QemuCaps,
  c: Case,
  cpuDefinitions?: readonly CpuDefinition[],
): DomainCapsOptions {
  const fwRoot = join(suite, "tests", "qemufirmwaredata");
  const descriptors = loadFirmwareDescriptors([
    join(fwRoot, "home/user/.config/qemu/firmware"),
    join(fwRoot, "etc/qemu/firmware"),
    join(fwRoot, "usr/share/qemu/firmware"),
  ]);
  const machine = resolveMachine(caps, c.virtType, c.machine).name;
  return {
    virtType: c.virtType,
    ...(c.machine !== undefined ? { machine: c.machine } : {}),
    firmware: supportedFirmware(descriptors, caps.arch, machine),
    loaderImages: ["/obviously/fake/firmware1.fd", "/obviously/fake/firmware2.fd"],
    vfio: true,
    // libvirt's test mocks swtpm per QEMU version.
    swtpmVersions: caps.version < 7_000_000 ? ["1.2", "2.0"] : ["2.0"],
    hostPhysBits: 64,
    // libvirt's test mocks CPUID 0x8000001F of an AMD host with SEV.
    sevGuests: { max: 59, maxES: 450 },
    ...(cpuDefinitions ? { cpuDefinitions } : {}),
    cpuMapModels: libvirtMapModels(suite),
  };
}

/** The document without its `<cpu>` element, and the `<cpu>` element's lines. */
function split(xml: string): { rest: string[]; cpu: string[] } {
  const lines = xml.split("\n");
  const a = lines.indexOf("  <cpu>");
  const b = lines.indexOf("  </cpu>");
  if (a < 0 || b < a) return { rest: lines, cpu: [] };
  return { rest: [...lines.slice(0, a), ...lines.slice(b + 1)], cpu: lines.slice(a, b + 1) };
}

/** One mode's lines of a `<cpu>` block. */
function mode(cpu: string[], name: string): string[] {
  const a = cpu.findIndex((l) => l.startsWith(`    <mode name='${name}'`));
  if (a < 0) return [];
  if (cpu[a]!.endsWith("/>")) return [cpu[a]!];
  const b = cpu.indexOf("    </mode>", a);
  return cpu.slice(a, b + 1);
}

/** Custom models' lines without what only a CPU map knows (vendor). */
const modelFacts = (lines: string[]): string[] => lines.map((l) => l.replace(/ vendor='[^']*'/, ""));

/**
 * Whole documents identical to libvirt's, of the 41 (a ratchet: raise it when more match). The
 * four that differ are the AMD SEV host's KVM host-model, which libvirt decodes to EPYC-Genoa,
 * a model the installed QEMU 7.2 does not define.
 */
const IDENTICAL = 37;

void test("domain capabilities match libvirt 11.3's domaincapsdata (whole documents, and section by section)", async (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const all = cases(suite);
  assert.ok(all.length >= 30, `found ${all.length} cases`);
  let exact = 0;
  let restSame = 0;
  let passSame = 0;
  let customSame = 0;
  let hostModelSame = 0;
  let newerModel = 0;
  let sameVersion = 0;
  const installed = await installedMap();
  if (!installed) t.diagnostic("QEMU is not installed: the CPU section has no map to be checked with");
  const failures: string[] = [];
  for (const c of all) {
    const caps = loadWithReplies(c.caps);
    const ours = formatDomainCaps(buildDomainCaps(caps, optionsFor(suite, caps, c, installed?.map)));
    const theirs = readFileSync(c.file, "utf8");
    if (ours === theirs) exact++;
    const o = split(ours);
    const e = split(theirs);
    const name = c.file.split("/").pop()!;
    if (JSON.stringify(o.rest) === JSON.stringify(e.rest)) restSame++;
    else {
      const diff = o.rest.filter((l, i) => l !== e.rest[i]);
      failures.push(`${name}: first differing line ${JSON.stringify(diff[0])}`);
    }
    const pass = ["host-passthrough", "maximum"].every(
      (m) => JSON.stringify(mode(o.cpu, m)) === JSON.stringify(mode(e.cpu, m)),
    );
    if (pass) passSame++;
    else failures.push(`${name}: host-passthrough/maximum modes differ`);
    const custom = (x: string[]): string => JSON.stringify(installed ? x : modelFacts(x));
    if (custom(mode(o.cpu, "custom")) === custom(mode(e.cpu, "custom"))) customSame++;
    else failures.push(`${name}: custom models differ`);
    if (JSON.stringify(mode(o.cpu, "host-model")) === JSON.stringify(mode(e.cpu, "host-model")))
      hostModelSame++;
    else {
      // A host-model libvirt decoded to a model newer than the installed QEMU cannot be matched
      // with that QEMU's map (EPYC-Genoa of the SEV host needs QEMU 8.1).
      const want = /<model fallback='[a-z]+'>([^<]+)</.exec(mode(e.cpu, "host-model").join("\n"))?.[1];
      if (installed && want !== undefined && installed.map.some((d) => d.name === want))
        failures.push(`${name}: host-model differs`);
      else newerModel++;
    }
    if (installed && sameRelease(installed.version, caps.version)) {
      sameVersion++;
      if (ours !== theirs) failures.push(`${name}: not identical with the same QEMU's CPU map`);
    }
  }
  t.diagnostic(
    `${all.length} cases: ${exact} identical (${sameVersion} of the installed QEMU's version), ${restSame} identical outside ` +
      `<cpu>, ${passSame} with identical host-passthrough/maximum, ${hostModelSame} with identical ` +
      `host-model (${newerModel} more need a newer QEMU's map), ${customSame} with identical custom models (names, usability, deprecation, blockers, canonical` +
      `${installed ? ", vendor" : ""})`,
  );
  assert.deepEqual(failures, []);
  if (installed) assert.ok(exact >= IDENTICAL, `${exact} identical documents, fewer than ${IDENTICAL}`);
});

void test("QEMU 7.2: libvirt's document line for line (the CPU section with the installed 7.2's map)", async (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const installed = await installedMap();
  const map = installed && sameRelease(installed.version, 7_002_000) ? installed.map : undefined;
  // KVM, q35, TCG; and the macOS host's file (the same QEMU) under HVF and TCG.
  for (const variant of ["", "-q35", "-tcg", "-hvf.x86_64+hvf", "-tcg.x86_64+hvf"]) {
    const file = `qemu_7.2.0${variant.includes("+") ? variant : `${variant}.x86_64`}.xml`;
    const c: Case = cases(suite).find((x) => x.file.endsWith(`/${file}`))!;
    const caps = loadWithReplies(c.caps);
    const doc = formatDomainCaps(buildDomainCaps(caps, optionsFor(suite, caps, c, map)));
    const expected: string = readFileSync(c.file, "utf8");
    if (map) {
      assert.equal(doc, expected, variant);
      continue;
    }
    const ours = split(doc);
    const theirs = split(expected);
    assert.deepEqual(ours.rest, theirs.rest, variant);
    for (const m of ["host-passthrough", "maximum"]) assert.deepEqual(mode(ours.cpu, m), mode(theirs.cpu, m));
  }
  if (!map) t.diagnostic("the installed QEMU is not 7.2: its CPU section was not compared");
});

void test("machine types resolve by alias; an unknown one names the emulator", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const caps = loadCapsFile(join(suite, "tests", "qemucapabilitiesdata", "caps_7.2.0_x86_64.xml"));
  assert.equal(resolveMachine(caps, "qemu", "q35").name, "pc-q35-7.2");
  assert.equal(resolveMachine(caps, "kvm").name, "pc-i440fx-7.2");
  assert.throws(
    () => resolveMachine(caps, "qemu", "pc-nosuch"),
    /the machine 'pc-nosuch' is not supported by emulator '\/usr\/bin\/qemu-system-x86_64'/,
  );
  const tcgOnly: QemuCaps = { ...caps, accel: { tcg: caps.accel.tcg! } };
  assert.throws(() => buildDomainCaps(tcgOnly, { virtType: "kvm" }), /virt type 'kvm' is not supported/);
});

void test("custom models: vendor from the map's expansion of the model or its line, canonical only when listed", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const caps = loadWithReplies(join(suite, "tests", "qemucapabilitiesdata", "caps_10.0.0_x86_64.xml"));
  // A one-model map: EPYC-Rome as QEMU expands it (its vendor is all that matters here).
  const map: CpuDefinition[] = [{ name: "EPYC-Rome", vendor: "AuthenticAMD", features: [] }];
  const models = (opts: Partial<DomainCapsOptions>) =>
    buildDomainCaps(caps, { virtType: "qemu", cpuDefinitions: map, ...opts }).cpu.custom.models;
  const all = models({});
  const vendor = (name: string): string | undefined => all.find((m) => m.name === name)?.vendor;
  assert.equal(vendor("EPYC-Rome"), "AMD");
  assert.equal(vendor("EPYC-Rome-v4"), "AMD", "a version takes its line's vendor");
  assert.equal(vendor("EPYC-Genoa-v1"), "AMD", "a line the map lacks: the documented table");
  assert.equal(vendor("qemu64"), "unknown", "generic models have none in libvirt's eyes");
  assert.equal(vendor("Haswell"), "unknown", "neither the map nor the table knows Haswell here");
  assert.equal(all.find((m) => m.name === "EPYC-Rome")?.canonical, "EPYC-Rome-v1");
  // Without EPYC-Rome-v1 in the map's models, EPYC-Rome is listed without a canonical name.
  const cut = models({ cpuMapModels: new Set(["EPYC-Rome", "qemu64"]) });
  assert.deepEqual(
    cut.map((m) => [m.name, m.canonical]),
    [
      ["EPYC-Rome", undefined],
      ["qemu64", undefined],
    ],
  );
  // No map at all: no vendors (a capability file alone cannot say).
  const bare = buildDomainCaps(caps, { virtType: "qemu" }).cpu.custom.models;
  assert.ok(bare.length > 0 && bare.every((m) => m.vendor === undefined));
});
