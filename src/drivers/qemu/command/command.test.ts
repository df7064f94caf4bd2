/**
 * Golden test against libvirt's corpus: every `<case>.x86_64-latest.args` (and abi-update
 * variant) is rebuilt from `<case>.xml` with the QEMU 10.0 capabilities and libvirt's test
 * harness context, then compared with `compareArgs` (as strict as libvirt's own test). The
 * verdict counts are asserted exactly, so a case cannot slide from exact to equivalent unseen;
 * known differences are listed with their reason, and a listed case that starts passing fails
 * the test (so the list stays honest), as does an unlisted regression. The QEMU 7.2.0 outputs
 * (`-no-acpi`, `-no-hpet`, raw format nodes, versioned machine names) are checked byte for byte.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import type { DomainFacts } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { loadCapsFile } from "../capabilities/load.ts";
import { domainFactsFromCaps } from "../capabilities/facts.ts";
import { buildQemuCommand, compareArgs, formatArgsFile } from "./index.ts";
import type { CommandContext } from "./types.ts";
import { corpusHarnessContext } from "../../../testing/qemu/command-harness.ts";
import { harnessIncoming } from "../../../testing/qemu/command-harness-incoming.ts";
import { installedCpuMap, loadInstalledCpuMap } from "../../../testing/qemu/cpu-map.ts";

// host-model needs a CPU map, which libvirt's capability files lack: the installed QEMU's
before(async () => {
  await loadInstalledCpuMap();
});

/** Cases whose output is known to differ from libvirt's, with the reason. */
const KNOWN_DIFFERENCES: Record<string, string> = {};

/** Cases whose `.err` is produced by the command-line builder, with the catalogue code we give. */
const BUILD_ERRORS: Record<string, string> = {
  "hugepages-default-5M": "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE",
};

/** Facts from the capabilities; the `latest` harness keeps machine aliases as written. */
function factsFor(caps: QemuCaps, canonicalise: boolean): DomainFacts {
  const facts = domainFactsFromCaps(caps);
  return canonicalise ? facts : { ...facts, canonicalMachine: () => undefined };
}

interface Outcome {
  name: string;
  verdict: "exact" | "equivalent" | "differs" | "error";
  detail?: string;
  /** Our `.args` text, when the build succeeded. */
  actual?: string;
}

/** Our `.args` text for a corpus case. */
function build(
  dir: string,
  caseName: string,
  caps: QemuCaps,
  canonicalise: boolean,
  tweak: Partial<CommandContext> = {},
): string {
  const xml = readFileSync(join(dir, "qemuxmlconfdata", `${caseName}.xml`), "utf8");
  const { def } = parseDomainXML(xml, { document: `${caseName}.xml`, facts: factsFor(caps, canonicalise) });
  const ctx = corpusHarnessContext(def, { caps, corpusDir: dir, incoming: harnessIncoming(caseName) });
  return formatArgsFile(buildQemuCommand(def, { ...ctx, ...tweak }));
}

function runCase(
  dir: string,
  caseName: string,
  suffix: string,
  caps: QemuCaps,
  canonicalise: boolean,
  tweak: Partial<CommandContext> = {},
): Outcome {
  const name = `${caseName}.${suffix}`;
  const expected = readFileSync(join(dir, "qemuxmlconfdata", `${name}.args`), "utf8");
  try {
    const actual = build(dir, caseName, caps, canonicalise, tweak);
    const r = compareArgs(expected, actual);
    return { name, verdict: r.verdict, detail: r.firstDifference, actual };
  } catch (e) {
    return { name, verdict: "error", detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

function caseNames(dir: string): { caseName: string; suffix: string }[] {
  const out: { caseName: string; suffix: string }[] = [];
  for (const f of readdirSync(join(dir, "qemuxmlconfdata")).sort()) {
    const m = /^(.*)\.(x86_64-latest(?:\.abi-update)?)\.args$/.exec(f);
    if (m) out.push({ caseName: m[1]!, suffix: m[2]! });
  }
  return out;
}

test("libvirt corpus: x86_64-latest command lines", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  const outcomes = caseNames(dir).map(({ caseName, suffix }) => runCase(dir, caseName, suffix, caps, false));
  const counts = { exact: 0, equivalent: 0, differs: 0, error: 0 };
  for (const o of outcomes) counts[o.verdict]++;
  t.diagnostic(
    `${outcomes.length} cases: ${counts.exact} exact, ${counts.equivalent} equivalent, ${counts.differs} differ, ${counts.error} errors`,
  );
  // 44 `.x86_64-latest.args` and 2 abi-update variants. Moving a case between columns must be a
  // deliberate edit here.
  assert.equal(outcomes.length, 46);
  assert.deepEqual(counts, { exact: 46, equivalent: 0, differs: 0, error: 0 });
  const problems: string[] = [];
  for (const o of outcomes) {
    const known = KNOWN_DIFFERENCES[o.name];
    const ok = o.verdict === "exact" || o.verdict === "equivalent";
    if (!ok) t.diagnostic(`${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
    if (ok && known !== undefined)
      problems.push(`${o.name} now passes (${o.verdict}): remove it from KNOWN_DIFFERENCES`);
    if (!ok && known === undefined) problems.push(`${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
  }
  assert.deepEqual(problems, []);
});

const CAPS_FILE: Record<string, string> = {
  "x86_64-latest": "caps_10.0.0_x86_64.xml",
  "x86_64-7.2.0": "caps_7.2.0_x86_64.xml",
};

test("libvirt corpus: cpu-host-model-kvm is exact for 10.0 and 7.2.0 from the host CPU and the CPU map", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  if (!installedCpuMap()) {
    if (process.env.CI === "true") assert.fail("the installed QEMU's CPU map is required under CI");
    t.skip("no QEMU installed to give the CPU map");
    return;
  }
  for (const suffix of Object.keys(CAPS_FILE)) {
    const caps = loadCapsFile(join(dir, "caps", CAPS_FILE[suffix]!));
    // the `latest` harness keeps machine aliases; the 7.2.0 one expands them (pc-q35-7.2)
    const o = runCase(dir, "cpu-host-model-kvm", suffix, caps, suffix !== "x86_64-latest");
    assert.equal(o.verdict, "exact", `${o.name}: ${o.verdict}: ${o.detail ?? ""}`);
    assert.equal(
      o.actual,
      readFileSync(join(dir, "qemuxmlconfdata", `cpu-host-model-kvm.${suffix}.args`), "utf8"),
    );
    assert.ok(o.actual.includes("\n-cpu EPYC-Rome,x2apic=on,tsc-deadline=on,hypervisor=on,tsc-adjust=on,"));
  }
  // without a CPU map (capabilities as libvirt records them) the builder refuses rather than guess
  const caps = loadCapsFile(join(dir, "caps", CAPS_FILE["x86_64-7.2.0"]!));
  const xml = readFileSync(join(dir, "qemuxmlconfdata", "cpu-host-model-kvm.xml"), "utf8");
  const { def } = parseDomainXML(xml, { document: "cpu-host-model-kvm.xml", facts: factsFor(caps, true) });
  const ctx = corpusHarnessContext(def, { caps, corpusDir: dir });
  assert.throws(
    () => buildQemuCommand(def, { ...ctx, caps }),
    (e: unknown) => e instanceof VirtError && e.code === "QEMU_CMD_HOST_MODEL_UNAVAILABLE",
  );
});

test("libvirt corpus: QEMU 7.2.0 spells ACPI off as -no-acpi, byte for byte", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  if (!installedCpuMap()) {
    if (process.env.CI === "true") assert.fail("the installed QEMU's CPU map is required under CI");
    t.skip("no QEMU installed to give the CPU map (the case is host-model)");
    return;
  }
  const caps = loadCapsFile(join(dir, "caps", CAPS_FILE["x86_64-7.2.0"]!));
  const actual = build(dir, "cpu-host-model-kvm", caps, true);
  const expected = readFileSync(join(dir, "qemuxmlconfdata", "cpu-host-model-kvm.x86_64-7.2.0.args"), "utf8");
  assert.equal(actual, expected);
  assert.ok(actual.includes("\n-machine pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram \\\n"));
  assert.ok(actual.includes("\n-no-shutdown \\\n-no-acpi \\\n-boot strict=on \\\n"));
  assert.ok(!actual.includes("acpi=off"));
});

/**
 * The corpus ships 7.2.0 outputs for one case only, so for `-no-hpet` and raw format nodes the
 * expected 7.2.0 text is the case's `latest` text with the 7.2 spellings written out here, line
 * by line (each replaced line must occur exactly once in the `latest` text).
 */
function respell(latest: string, edits: readonly [from: string, to: readonly string[]][]): string {
  const lines = latest.split("\n");
  for (const [from, to] of edits) {
    const at = lines.indexOf(from);
    assert.ok(at >= 0 && lines.indexOf(from, at + 1) < 0, `expected exactly one line ${from}`);
    lines.splice(at, 1, ...to);
  }
  return lines.join("\n");
}

test("libvirt corpus: QEMU 7.2.0 spells HPET off as -no-hpet, byte for byte", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", CAPS_FILE["x86_64-7.2.0"]!));
  const latest = readFileSync(join(dir, "qemuxmlconfdata", "x86_64-q35-headless.x86_64-latest.args"), "utf8");
  // 7.2 has neither machine-hpet nor per-machine ACPI reporting: both leave -machine
  const expected = respell(latest, [
    [
      "-machine q35,usb=off,dump-guest-core=off,memory-backend=pc.ram,hpet=off,acpi=on \\",
      ["-machine pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram \\"],
    ],
    [
      "-global kvm-pit.lost_tick_policy=delay \\",
      ["-global kvm-pit.lost_tick_policy=delay \\", "-no-hpet \\"],
    ],
  ]);
  const actual = build(dir, "x86_64-q35-headless", caps, true);
  assert.equal(actual, expected);
  assert.ok(actual.includes("\n-no-hpet \\\n"));
  assert.equal(compareArgs(expected, actual).verdict, "exact");
});

test("libvirt corpus: QEMU 7.2.0 keeps raw format nodes over the storage nodes, byte for byte", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", CAPS_FILE["x86_64-7.2.0"]!));
  const latest = readFileSync(join(dir, "qemuxmlconfdata", "disk-virtio.x86_64-latest.args"), "utf8");
  /** One disk: latest's single protocol node becomes a storage node plus a raw format node. */
  const disk = (
    n: number,
    driver: string,
    file: string,
    readOnly: boolean,
    device: string,
  ): [string, string[]][] => {
    const storage = `"driver":"${driver}","filename":"${file}","node-name":"libvirt-${n}-storage"`;
    return [
      [
        `-blockdev '{${storage},"read-only":${readOnly}}' \\`,
        [
          `-blockdev '{${storage},"auto-read-only":true,"discard":"unmap"}' \\`,
          `-blockdev '{"node-name":"libvirt-${n}-format","read-only":${readOnly},"driver":"raw","file":"libvirt-${n}-storage"}' \\`,
        ],
      ],
      [
        `-device '{${device.replace("@", `"drive":"libvirt-${n}-storage"`)}}' \\`,
        [`-device '{${device.replace("@", `"drive":"libvirt-${n}-format"`)}}' \\`],
      ],
    ];
  };
  const expected = respell(latest, [
    [
      "-machine pc,usb=off,dump-guest-core=off,memory-backend=pc.ram,acpi=off \\",
      ["-machine pc-i440fx-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram \\"],
    ],
    ["-no-shutdown \\", ["-no-shutdown \\", "-no-acpi \\"]],
    ...disk(
      4,
      "host_device",
      "/dev/HostVG/QEMUGuest1",
      false,
      `"driver":"ide-hd","bus":"ide.0","unit":0,@,"id":"ide0-0-0","bootindex":1`,
    ),
    ...disk(
      3,
      "host_device",
      "/dev/HostVG/QEMUGuest2",
      true,
      `"driver":"ide-cd","bus":"ide.1","unit":0,@,"id":"ide0-1-0"`,
    ),
    ...disk(
      2,
      "file",
      "/tmp/data.img",
      false,
      `"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x2",@,"id":"virtio-disk0"`,
    ),
    ...disk(
      1,
      "file",
      "/tmp/logs.img",
      false,
      `"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x3",@,"id":"virtio-disk1"`,
    ),
  ]);
  const actual = build(dir, "disk-virtio", caps, true);
  assert.equal(actual, expected);
  assert.match(actual, /\n-blockdev '\{"node-name":"libvirt-1-format","read-only":false,"driver":"raw",/);
  assert.equal(compareArgs(expected, actual).verdict, "exact");
});

test("libvirt corpus: build-time errors are catalogued", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const caps = loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  for (const [caseName, code] of Object.entries(BUILD_ERRORS)) {
    const xml = readFileSync(join(dir, "qemuxmlconfdata", `${caseName}.xml`), "utf8");
    const { def } = parseDomainXML(xml, { document: `${caseName}.xml` });
    const ctx = corpusHarnessContext(def, { caps, corpusDir: dir });
    assert.throws(
      () => buildQemuCommand(def, ctx),
      (e: unknown) => {
        assert.ok(e instanceof VirtError, `${caseName}: expected a VirtError, got ${String(e)}`);
        assert.equal(e.code, code);
        assert.notEqual(e.kind, "bug");
        t.diagnostic(`${caseName}: ${e.message}`);
        return true;
      },
    );
  }
});
