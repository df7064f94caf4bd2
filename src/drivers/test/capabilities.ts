/**
 * The host facts of the test driver's default node (libvirt's `defaultNodeInfo`, the two NUMA
 * cells of `testOpenDefault` and `testBuildCapabilities`) and their capabilities XML, formatted
 * the way libvirt's `virCapabilitiesFormatXML` prints them.
 */
import { hostHasIommu } from "../../host/facts.ts";
import type { NodeInfo } from "../driver.ts";
import { TEST_ARCH } from "./defaults.ts";

export const TEST_EMULATOR = "/usr/bin/test-hv";

export const defaultNodeInfo: Readonly<NodeInfo> = Object.freeze({
  model: TEST_ARCH,
  memory: 1024 * 1024 * 3,
  cpus: 16,
  mhz: 1400,
  nodes: 2,
  sockets: 2,
  cores: 2,
  threads: 2,
});

interface TestCell {
  /** KiB */
  mem: number;
  /** KiB */
  freeMem: number;
  cpus: { id: number; socketId: number; coreId: number; siblings: string }[];
}

/** The two cells of the default node: 8 CPUs each, 2 GiB and 4 GiB. */
export const defaultCells: readonly TestCell[] = [0, 1].map((i) => ({
  mem: (i + 1) * 2048 * 1024,
  freeMem: (i + 1) * 1024 * 1024,
  cpus: Array.from({ length: 8 }, (_, j) => {
    const id = i * 8 + j;
    return { id, socketId: i, coreId: j, siblings: String(id) };
  }),
}));

const pageSizes = [4, 8, 2048, 1024 * 1024];

export function testCapabilitiesXML(): string {
  const l: string[] = [];
  l.push("<capabilities>", "", "  <host>", "    <cpu>", `      <arch>${TEST_ARCH}</arch>`);
  l.push("      <features>", "        <pae/>", "        <nonpae/>", "      </features>");
  for (const size of pageSizes) l.push(`      <pages unit='KiB' size='${size}'/>`);
  l.push("    </cpu>", "    <power_management/>", `    <iommu support='${hostHasIommu() ? "yes" : "no"}'/>`);
  l.push("    <topology>", `      <cells num='${defaultCells.length}'>`);
  defaultCells.forEach((cell, i) => {
    l.push(`        <cell id='${i}'>`, `          <memory unit='KiB'>${cell.mem}</memory>`);
    // Cell 1's smallest page is 8 KiB, the others' 4 KiB (as testBuildCapabilities does).
    const first = i === 1 ? pageSizes[1]! : pageSizes[0]!;
    const sizes = [first, ...pageSizes.slice(2)];
    sizes.forEach((size, j) => {
      const avail = j === 0 ? Math.floor(cell.mem / size) : 0;
      l.push(`          <pages unit='KiB' size='${size}'>${avail}</pages>`);
    });
    l.push(`          <cpus num='${cell.cpus.length}'>`);
    for (const c of cell.cpus) {
      l.push(
        `            <cpu id='${c.id}' socket_id='${c.socketId}' die_id='0' core_id='${c.coreId}' siblings='${c.siblings}'/>`,
      );
    }
    l.push("          </cpus>", "        </cell>");
  });
  l.push("      </cells>", "    </topology>");
  l.push(
    "    <secmodel>",
    "      <model>testSecurity</model>",
    "      <doi></doi>",
    "    </secmodel>",
    "  </host>",
    "",
  );
  for (const osType of ["hvm", "xen"]) {
    l.push(
      "  <guest>",
      `    <os_type>${osType}</os_type>`,
      `    <arch name='${TEST_ARCH}'>`,
      "      <wordsize>32</wordsize>",
    );
    l.push(`      <emulator>${TEST_EMULATOR}</emulator>`, "      <domain type='test'/>", "    </arch>");
    l.push("    <features>", "      <pae/>", "      <nonpae/>", "    </features>", "  </guest>", "");
  }
  l.push("</capabilities>");
  return l.join("\n") + "\n";
}
