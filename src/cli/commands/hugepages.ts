/**
 * `hugepages` (a tvirt extension, like `hugeadm --explain`): this host's hugetlbfs mounts, each
 * page size's pool (configured, free, reserved, surplus, overcommit, per NUMA node) and advice
 * with the commands that act on it. It reads the machine tvirsh runs on, whatever the
 * connection. With `--json`: the report as data (`HugepageReport`).
 */
import { hugepageReport, pageSizeText } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

function mib(kib: number): string {
  return `${String(Math.floor(kib / 1024))} MiB`;
}

export const hugepages: Cmd = {
  name: "hugepages",
  group: "tvirt",
  help: "explain this host's huge page pools and mounts",
  desc:
    "Shows the hugetlbfs mounts, each huge page size's pool (configured, free, reserved,\n" +
    "    surplus, overcommit, per NUMA node) and advice for guests with <hugepages>, like\n" +
    "    'hugeadm --explain'. Reads the host tvirsh runs on.",
  opts: [],
  noConnect: true,
  run(ctx) {
    const r = hugepageReport();
    let s = `Total memory: ${mib(r.memTotalKiB)}\n`;
    s += `Default huge page size: ${r.defaultSizeKiB !== undefined ? pageSizeText(r.defaultSizeKiB) : "(none)"}\n\n`;
    if (r.mounts.length === 0) s += "No hugetlbfs is mounted.\n";
    else {
      s += `${"Mount point".padEnd(32)} Page size\n`;
      for (const m of r.mounts)
        s += `${m.path.padEnd(32)} ${pageSizeText(m.sizeKiB)}${m.default ? " (default)" : ""}\n`;
    }
    s += "\nHuge page pools:\n";
    s += `${"Size".padStart(6)} ${"Total".padStart(8)} ${"Free".padStart(8)} ${"Reserved".padStart(8)} ${"Surplus".padStart(8)} ${"Overcommit".padStart(10)}  Default\n`;
    for (const p of r.pools) {
      s +=
        `${pageSizeText(p.sizeKiB).padStart(6)} ${String(p.total).padStart(8)} ${String(p.free).padStart(8)} ` +
        `${String(p.reserved).padStart(8)} ${String(p.surplus).padStart(8)} ${String(p.overcommit).padStart(10)}  ${p.default ? "*" : ""}\n`;
    }
    const nodes = r.pools.flatMap((p) => p.nodes.map((n) => ({ ...n, size: p.sizeKiB })));
    if (nodes.length > 0) {
      s += "\nPer NUMA node:\n";
      s += `${"Node".padStart(5)} ${"Size".padStart(6)} ${"Total".padStart(8)} ${"Free".padStart(8)} ${"Surplus".padStart(8)}\n`;
      for (const n of nodes) {
        s += `${String(n.node).padStart(5)} ${pageSizeText(n.size).padStart(6)} ${String(n.total).padStart(8)} ${String(n.free).padStart(8)} ${String(n.surplus).padStart(8)}\n`;
      }
    }
    if (r.transparent !== undefined) s += `\nTransparent huge pages: ${r.transparent}\n`;
    if (r.advice.length === 0) s += "\nNo advice: the pools and mounts fit together.\n";
    for (const a of r.advice) {
      s += `\n${a.severity}: ${a.message}\n`;
      if (a.fix.length > 0) s += "  fix:\n" + a.fix.map((c) => `    ${c}\n`).join("");
    }
    // no trailing blanks where a last column is empty
    ctx.print(
      s
        .split("\n")
        .map((l) => l.trimEnd())
        .join("\n"),
    );
    ctx.emit(r);
    return Promise.resolve(true);
  },
};
