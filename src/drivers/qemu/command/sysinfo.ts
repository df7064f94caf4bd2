/**
 * `<os><smbios mode='sysinfo'/>` and `<sysinfo>`: `-smbios type=0/1/2/3/11` from the SMBIOS
 * tables, `-fw_cfg` for the firmware config files (libvirt's qemuBuildSmbiosCommandLine and
 * qemuBuildSysinfoCommandLine).
 */
import type { SysinfoSmbios } from "../../../conf/domain/sysinfo.ts";
import type { Build } from "./build.ts";
import { escapeComma } from "./escape.ts";

/** `type=N,key=value,...` with the set fields in `keys` order; undefined when none is set. */
function smbiosTable<K extends string>(
  type: number,
  t: Partial<Record<K, string>> | undefined,
  keys: readonly K[],
): string | undefined {
  if (!t) return undefined;
  const parts = keys.flatMap((k) => (t[k] === undefined ? [] : [`${k}=${escapeComma(t[k])}`]));
  return parts.length === 0 ? undefined : [`type=${type}`, ...parts].join(",");
}

function smbiosArgs(s: SysinfoSmbios): string[] {
  const out: string[] = [];
  const push = (v: string | undefined): void => {
    if (v !== undefined) out.push("-smbios", v);
  };
  push(smbiosTable(0, s.bios, ["vendor", "version", "date", "release"]));
  push(smbiosTable(1, s.system, ["manufacturer", "product", "version", "serial", "uuid", "sku", "family"]));
  for (const bb of s.baseBoards)
    push(smbiosTable(2, bb, ["manufacturer", "product", "version", "serial", "asset", "location"]));
  push(smbiosTable(3, s.chassis, ["manufacturer", "version", "serial", "asset", "sku"]));
  if (s.oemStrings.length > 0)
    push(["type=11", ...s.oemStrings.map((v) => `value=${escapeComma(v)}`)].join(","));
  return out;
}

/** The `-smbios` options (mode `sysinfo`) and the `-fw_cfg` files, after `-uuid`. */
export function buildSysinfo(b: Build): void {
  const sysinfo = b.def.sysinfo ?? [];
  if (b.def.os.smbios?.mode === "sysinfo") {
    const smbios = sysinfo.find((s): s is SysinfoSmbios => s.type === "smbios");
    if (!smbios)
      b.fail("QEMU_CMD_UNSUPPORTED", {
        element: "<smbios mode='sysinfo'>",
        reason: `domain '${b.def.name}' has no <sysinfo type='smbios'> to take the tables from`,
      });
    b.add(...smbiosArgs(smbios));
  }
  for (const s of sysinfo) {
    if (s.type !== "fwcfg") continue;
    for (const e of s.entries) {
      // QEMU reserves names outside opt/ for its own files
      if (!e.name.startsWith("opt/"))
        b.fail("QEMU_CMD_INVALID_VALUE", {
          element: `fw_cfg entry name '${e.name}'`,
          reason: "names must start with 'opt/'",
        });
      const what =
        e.file !== undefined ? `file=${escapeComma(e.file)}` : `string=${escapeComma(e.value ?? "")}`;
      b.add("-fw_cfg", `name=${escapeComma(e.name)},${what}`);
    }
  }
}
