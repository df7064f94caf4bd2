/**
 * Domain capabilities against libvirt 11.3's own answers: each x86_64 `domaincapsdata` output
 * is rebuilt from the capability file libvirt's test used (`caps_<version>_x86_64.xml`), with
 * the firmware descriptors of its `qemufirmwaredata` tree and the host facts its test mocks
 * (VFIO usable, swtpm 2.0, 64 physical address bits, two fake configured firmware images).
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
import type { QemuCaps } from "./types.ts";

interface Case {
  file: string;
  caps: string;
  virtType: VirtType;
  machine?: string;
}

/** The x86_64 outputs that have a capability file (hvf and AMD SEV hosts left out). */
function cases(suite: string): Case[] {
  const dir = join(suite, "tests", "domaincapsdata");
  const out: Case[] = [];
  for (const f of readdirSync(dir).sort()) {
    const m = /^qemu_(\d+\.\d+\.\d+)(?:-(q35|tcg))?\.x86_64\.xml$/.exec(f);
    if (!m) continue;
    const caps = join(suite, "tests", "qemucapabilitiesdata", `caps_${m[1]}_x86_64.xml`);
    if (!existsSync(caps)) continue;
    out.push({
      file: join(dir, f),
      caps,
      virtType: m[2] === "tcg" ? "qemu" : "kvm",
      ...(m[2] === "q35" ? { machine: "q35" } : {}),
    });
  }
  return out;
}

function optionsFor(suite: string, caps: QemuCaps, c: Case): DomainCapsOptions {
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

/** Custom models' lines without what only a CPU map knows (vendor, canonical). */
const modelFacts = (lines: string[]): string[] =>
  lines.map((l) => l.replace(/ vendor='[^']*'/, "").replace(/ canonical='[^']*'/, ""));

void test("domain capabilities match libvirt 11.3's domaincapsdata outside the CPU section", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  const all = cases(suite);
  assert.ok(all.length >= 30, `found ${all.length} cases`);
  let exact = 0;
  let restSame = 0;
  let passSame = 0;
  let customSame = 0;
  const failures: string[] = [];
  for (const c of all) {
    const caps = loadCapsFile(c.caps);
    const ours = formatDomainCaps(buildDomainCaps(caps, optionsFor(suite, caps, c)));
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
    if (
      JSON.stringify(modelFacts(mode(o.cpu, "custom"))) === JSON.stringify(modelFacts(mode(e.cpu, "custom")))
    )
      customSame++;
  }
  t.diagnostic(
    `${all.length} cases: ${exact} identical, ${restSame} identical outside <cpu>, ` +
      `${passSame} with identical host-passthrough/maximum, ${customSame} with identical custom models ` +
      `(names, usability, deprecation, blockers)`,
  );
  assert.deepEqual(failures, []);
});

void test("QEMU 7.2: the document around the CPU is libvirt's, line for line", (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (!suite) return;
  for (const variant of ["", "-q35", "-tcg"]) {
    const c = cases(suite).find((x) => x.file.endsWith(`qemu_7.2.0${variant}.x86_64.xml`))!;
    const caps = loadCapsFile(c.caps);
    const ours = split(formatDomainCaps(buildDomainCaps(caps, optionsFor(suite, caps, c))));
    const theirs = split(readFileSync(c.file, "utf8"));
    assert.deepEqual(ours.rest, theirs.rest, variant);
    for (const m of ["host-passthrough", "maximum"]) assert.deepEqual(mode(ours.cpu, m), mode(theirs.cpu, m));
  }
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
