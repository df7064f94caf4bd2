/**
 * `<sysinfo>`: the SMBIOS tables (`type='smbios'`) and the firmware config files
 * (`type='fwcfg'`) a guest is given. Parse and format in libvirt's way (virsysinfo.c and
 * domain_conf.c): entries are read by name, unknown names are ignored, a table whose entries
 * are all empty is dropped, and the formatted order is libvirt's fixed order per table.
 */
import type { XmlElement, XmlWriter } from "../xml.ts";
import { VirtError } from "../../util/errors/index.ts";
import { parseUuid } from "./parse-general.ts";

export interface SysinfoBios {
  vendor?: string;
  version?: string;
  date?: string;
  release?: string;
}

export interface SysinfoSystem {
  manufacturer?: string;
  product?: string;
  version?: string;
  serial?: string;
  uuid?: string;
  sku?: string;
  family?: string;
}

export interface SysinfoBaseBoard {
  manufacturer?: string;
  product?: string;
  version?: string;
  serial?: string;
  asset?: string;
  location?: string;
}

export interface SysinfoChassis {
  manufacturer?: string;
  version?: string;
  serial?: string;
  asset?: string;
  sku?: string;
}

/** One `-fw_cfg` file: a string value or a host file. */
export interface SysinfoFwCfg {
  name: string;
  value?: string;
  file?: string;
}

export interface SysinfoSmbios {
  type: "smbios";
  bios?: SysinfoBios;
  system?: SysinfoSystem;
  baseBoards: SysinfoBaseBoard[];
  chassis?: SysinfoChassis;
  oemStrings: string[];
}

export interface SysinfoFwCfgDef {
  type: "fwcfg";
  entries: SysinfoFwCfg[];
}

export type SysinfoDef = SysinfoSmbios | SysinfoFwCfgDef;

const BIOS_KEYS = ["vendor", "version", "date", "release"] as const;
const SYSTEM_KEYS = ["manufacturer", "product", "version", "serial", "uuid", "sku", "family"] as const;
const BASEBOARD_KEYS = ["manufacturer", "product", "version", "serial", "asset", "location"] as const;
const CHASSIS_KEYS = ["manufacturer", "version", "serial", "asset", "sku"] as const;

/**
 * The entries of one table, by name, in `keys` order; undefined when none is set. As libvirt's
 * `string(entry[@name='x'])`, the first entry of a name counts and an empty one is unset.
 */
function table<K extends string>(
  el: XmlElement | undefined,
  keys: readonly K[],
): Partial<Record<K, string>> | undefined {
  if (!el) return undefined;
  const entries = el.all("entry");
  const out: Partial<Record<K, string>> = {};
  let any = false;
  for (const k of keys) {
    const e = entries.find((x) => x.attrNode("name")?.value === k);
    if (!e) continue;
    e.markAllUsed();
    // libvirt takes the text as written (its XPath string() does not trim)
    const v = e.text;
    if (v !== "") {
      out[k] = v;
      any = true;
    }
  }
  for (const e of entries) e.markAllUsed();
  return any ? out : undefined;
}

/** libvirt's check of a BIOS date: mm/dd/yy or mm/dd/yyyy (a year of 1900 or later). */
function validBiosDate(date: string): boolean {
  const m = /^\s*([+-]?\d+)\/([+-]?\d+)\/([+-]?\d+)$/.exec(date);
  if (!m) return false;
  const month = Number(m[1]);
  const day = Number(m[2]);
  const year = Number(m[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && year >= 0 && (year < 100 || year >= 1900);
}

function parseSmbios(el: XmlElement, domainUuid: { value: string }): SysinfoSmbios {
  const def: SysinfoSmbios = { type: "smbios", baseBoards: [], oemStrings: [] };
  const bios = table(el.child("bios"), BIOS_KEYS);
  if (bios) {
    if (bios.date !== undefined && !validBiosDate(bios.date))
      throw new VirtError("DOMAIN_SYSINFO_BIOS_DATE", {}, { xpath: `${el.xpath}/bios` });
    def.bios = bios;
  }
  const system = table(el.child("system"), SYSTEM_KEYS);
  if (system) {
    if (system.uuid !== undefined) {
      const u = parseUuid(system.uuid);
      if (!u) throw new VirtError("DOMAIN_SYSINFO_UUID_MALFORMED", {}, { xpath: `${el.xpath}/system` });
      // a domain without <uuid> takes the one of its SMBIOS system table
      if (domainUuid.value === "") domainUuid.value = u;
      else if (domainUuid.value !== u)
        throw new VirtError("DOMAIN_SYSINFO_UUID_MISMATCH", {}, { xpath: `${el.xpath}/system` });
      system.uuid = u;
    }
    def.system = system;
  }
  for (const bb of el.all("baseBoard")) {
    const t = table(bb, BASEBOARD_KEYS);
    if (t) def.baseBoards.push(t);
  }
  const chassis = table(el.child("chassis"), CHASSIS_KEYS);
  if (chassis) def.chassis = chassis;
  const oem = el.child("oemStrings");
  if (oem)
    for (const e of oem.all("entry")) {
      e.markAllUsed();
      def.oemStrings.push(e.text);
    }
  return def;
}

function parseFwCfg(el: XmlElement): SysinfoFwCfgDef {
  const entries: SysinfoFwCfg[] = [];
  for (const e of el.all("entry")) {
    const name = e.attr("name");
    if (name === undefined) throw new VirtError("DOMAIN_SYSINFO_FWCFG_NAME", {}, { xpath: e.xpath });
    const file = e.attr("file");
    const value = e.content === "" ? undefined : e.text;
    if (value === undefined && file === undefined)
      throw new VirtError("DOMAIN_SYSINFO_FWCFG_NO_VALUE", { name }, { xpath: e.xpath });
    if (value !== undefined && file !== undefined)
      throw new VirtError("DOMAIN_SYSINFO_FWCFG_BOTH", { name }, { xpath: e.xpath });
    entries.push(value !== undefined ? { name, value } : { name, file: file! });
  }
  return { type: "fwcfg", entries };
}

/**
 * The `<sysinfo>` elements of a domain. `domainUuid.value` is the domain's UUID ("" when the
 * XML has none): a system UUID must match it, or becomes it.
 */
export function parseSysinfo(els: readonly XmlElement[], domainUuid: { value: string }): SysinfoDef[] {
  return els.map((el) => {
    const type = el.attr("type");
    if (type === undefined) throw new VirtError("DOMAIN_SYSINFO_TYPE_MISSING", {}, { xpath: el.xpath });
    if (type === "smbios") return parseSmbios(el, domainUuid);
    if (type === "fwcfg") return parseFwCfg(el);
    throw new VirtError("DOMAIN_SYSINFO_TYPE_UNKNOWN", { type }, { xpath: `${el.xpath}/@type` });
  });
}

function formatTable<K extends string>(
  w: XmlWriter,
  name: string,
  t: Partial<Record<K, string>> | undefined,
  keys: readonly K[],
): void {
  if (!t) return;
  w.elem(name, undefined, () => {
    for (const k of keys) {
      const v = t[k];
      if (v !== undefined) w.text("entry", v, { name: k });
    }
  });
}

export function formatSysinfo(w: XmlWriter, defs: readonly SysinfoDef[]): void {
  for (const s of defs) {
    w.elem("sysinfo", { type: s.type }, () => {
      if (s.type === "fwcfg") {
        for (const e of s.entries) {
          if (e.file !== undefined) w.empty("entry", { name: e.name, file: e.file });
          else w.text("entry", e.value ?? "", { name: e.name });
        }
        return;
      }
      formatTable(w, "bios", s.bios, BIOS_KEYS);
      formatTable(w, "system", s.system, SYSTEM_KEYS);
      for (const bb of s.baseBoards) formatTable(w, "baseBoard", bb, BASEBOARD_KEYS);
      formatTable(w, "chassis", s.chassis, CHASSIS_KEYS);
      if (s.oemStrings.length > 0)
        w.elem("oemStrings", undefined, () => {
          for (const v of s.oemStrings) w.text("entry", v);
        });
    });
  }
}
