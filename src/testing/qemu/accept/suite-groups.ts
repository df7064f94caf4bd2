/**
 * For the suite-wide acceptance run: which cases to start, and the reasons the ones that did not
 * start cleanly are grouped by ("needs KVM", "QEMU 7.2 lacks device X", what QEMU or tvirt said,
 * with paths and numbers blurred so that one cause is one group).
 */
import type { CaseOutcome } from "./case.ts";
import type { NeedCode } from "./prepare.ts";

/**
 * From the names in a qemuxmlconfdata folder (a latest-only view): the cases with a plain
 * `.x86_64-latest.args` (libvirt accepts them), sorted, and those with only an `.err` (skipped).
 */
export function selectCases(files: readonly string[]): {
  names: string[];
  skipped: { name: string; why: string }[];
} {
  const args = new Set<string>();
  const errs = new Set<string>();
  for (const f of files) {
    const m = /^(.+)\.x86_64-latest\.(args|err)$/.exec(f);
    if (m?.[1] === undefined) continue;
    (m[2] === "args" ? args : errs).add(m[1]);
  }
  const names = [...args].sort();
  const skipped = [...errs]
    .filter((n) => !args.has(n))
    .sort()
    .map((name) => ({ name, why: "libvirt rejects it (.err)" }));
  return { names, skipped };
}

const NEED_LABEL: Readonly<Record<NeedCode, string>> = {
  kvm: "needs KVM (host CPU model)",
  sev: "needs AMD SEV",
  vfio: "needs vfio (PCI/mdev assignment)",
  "usb-host": "needs a host USB device",
  openvswitch: "needs Open vSwitch",
  "vhost-net": "needs vhost-net",
  "hugepage-size": "needs a huge page size this host lacks",
  "hugepage-amount": "uses huge pages, which this test does not reserve",
  "hugepage-pool": "the kernel could not reserve the huge pages now",
  "host-numa": "needs host NUMA nodes this host lacks",
  "qemu-device": "QEMU lacks a device",
  "qemu-fsdriver": "QEMU lacks a 9p fsdriver",
  "memory-amount": "preallocates more guest memory than the test allows",
  negative: "negative case",
};

/** One line of text with temp paths, hex and long numbers blurred, clipped. */
export function blur(text: string, n = 110): string {
  const one = text
    .replace(/\s+/g, " ")
    .replace(/\/tmp\/[^\s,'"}]*/g, "<tmp>")
    .replace(/0x[0-9a-f]+/gi, "<hex>")
    .replace(/\b\d{3,}\b/g, "<n>")
    .trim();
  return one.length > n ? `${one.slice(0, n - 3)}...` : one;
}

/** QEMU's own error line from its stderr, without the program name and the echoed option. */
export function qemuError(stderr: string): string | undefined {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /qemu-system-\S+: /.test(l) && !/warning:/i.test(l));
  // Without a "qemu-system-x86_64: " line (a module that is not installed): its first line.
  // (only QEMU's warnings: no error of its own, e.g. it was still starting when the time ran out)
  const own = /qemu-system-\S+: /.test(stderr);
  const line =
    lines[0] ??
    (own
      ? undefined
      : stderr
          .split("\n")
          .find((l) => l.trim() !== "")
          ?.trim());
  if (line === undefined) return undefined;
  let msg = line.replace(/^.*?qemu-system-[^:\s]+: /, "");
  // "-device {...}: Property ... not found": drop the echoed option and its value.
  const echoed = /^-[\w-]+ (?:\{.*?\}|\S+?): (.+)$/.exec(msg);
  if (echoed?.[1] !== undefined) msg = echoed[1];
  return msg;
}

/** The group a case that did not start cleanly belongs to. */
export function reasonOf(o: CaseOutcome, qemuVersion: string): string {
  switch (o.status) {
    case "accepted":
      return "started";
    case "not-runnable": {
      const parts = [
        ...new Set(
          o.needs.map((n) =>
            n.code === "qemu-device" && n.subject
              ? `QEMU ${qemuVersion} lacks device ${n.subject}`
              : NEED_LABEL[n.code],
          ),
        ),
      ];
      return parts.sort().join(" + ");
    }
    case "failed": {
      if (o.error.startsWith("tvirt refuses to build"))
        return `tvirt refuses to build it for QEMU ${qemuVersion}'s caps: ${blur(o.error.replace(/^tvirt refuses to build the command line: /, ""))}`;
      if (o.error.startsWith("tvirt cannot parse"))
        return `tvirt cannot parse it with QEMU ${qemuVersion}'s caps: ${blur(o.error.replace(/^tvirt cannot parse it[^:]*: /, ""))}`;
      if (o.error.startsWith("the argv still names host paths"))
        return "the test does not swap a host path it names";
      const q = o.stderr !== undefined ? qemuError(o.stderr) : undefined;
      if (q !== undefined) return `QEMU ${qemuVersion} refuses: ${blur(q)}`;
      return blur(o.error);
    }
  }
}

export interface Group {
  readonly reason: string;
  readonly names: string[];
}

/** Cases that did not start cleanly, by reason, largest group first. */
export function groupOutcomes(outcomes: ReadonlyMap<string, CaseOutcome>, qemuVersion: string): Group[] {
  const by = new Map<string, string[]>();
  for (const [name, o] of outcomes) {
    if (o.status === "accepted") continue;
    const r = reasonOf(o, qemuVersion);
    by.set(r, [...(by.get(r) ?? []), name]);
  }
  return [...by]
    .map(([reason, names]) => ({ reason, names: names.sort() }))
    .sort((a, b) => b.names.length - a.names.length || (a.reason < b.reason ? -1 : 1));
}
