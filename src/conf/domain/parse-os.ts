/**
 * `<os>`: guest type, firmware, loader, NVRAM, direct kernel boot, boot order and menu.
 */
import type { XmlElement } from "../xml.ts";
import type { BootDev, OsDef } from "./types.ts";
import { parseDiskSource } from "./parse-disk.ts";
import { enumAttr, intAttr, missingChild, reqEnum, str, structural, uintAttr, yesNo } from "./reader.ts";

const BOOT_DEVS = ["fd", "cdrom", "hd", "network"] as const;

function parseLoader(el: XmlElement): NonNullable<OsDef["loader"]> {
  const l: NonNullable<OsDef["loader"]> = {};
  const path = el.content;
  if (path !== "") l.path = path;
  const ro = yesNo(el, "readonly");
  const secure = yesNo(el, "secure");
  const type = enumAttr(el, "type", ["rom", "pflash"] as const);
  const stateless = yesNo(el, "stateless");
  const format = str(el, "format");
  if (ro !== undefined) l.readonly = ro;
  if (secure !== undefined) l.secure = secure;
  if (type) l.type = type;
  if (stateless !== undefined) l.stateless = stateless;
  if (format !== undefined) l.format = format;
  return l;
}

function parseNvram(el: XmlElement): NonNullable<OsDef["nvram"]> {
  const n: NonNullable<OsDef["nvram"]> = {};
  // `<nvram type='file'|'block'>` names its store in a `<source>`, the plain form in its text
  // (network stores are not modelled yet: their source is left out, as before)
  const typeAttr = str(el, "type");
  const type = typeAttr === "file" || typeAttr === "block" ? typeAttr : undefined;
  const src = el.child("source");
  if (typeAttr === "network" && src) {
    n.type = "network";
    const s = parseDiskSource(src, "network");
    if (s) n.source = s;
  } else if (type) {
    n.type = type;
    const src = el.child("source");
    const path = src ? str(src, type === "file" ? "file" : "dev") : undefined;
    if (path !== undefined && path !== "") n.path = path;
  } else {
    const path = el.content;
    if (path !== "") n.path = path;
  }
  const template = str(el, "template");
  const format = str(el, "format");
  const tf = str(el, "templateFormat");
  if (template !== undefined) n.template = template;
  if (format !== undefined) n.format = format;
  if (tf !== undefined) n.templateFormat = tf;
  return n;
}

function parseBootmenu(el: XmlElement): NonNullable<OsDef["bootmenu"]> {
  const enable = yesNo(el, "enable");
  if (enable === undefined) throw structural(el, "bootmenu needs enable='yes|no'");
  const menu: NonNullable<OsDef["bootmenu"]> = { enable };
  // The range is the validation's (virDomainDefBootValidate), not the parser's. A disabled
  // menu has no timeout: libvirt does not read it then.
  const timeout = enable ? uintAttr(el, "timeout", { hex: false, max: 0xffffffff }) : undefined;
  el.markAllUsed();
  if (timeout !== undefined) menu.timeout = timeout;
  return menu;
}

export function parseOs(el: XmlElement): OsDef {
  const typeEl = el.child("type");
  if (!typeEl) throw missingChild(el, "type");
  const os: OsDef = { type: typeEl.content, boot: [] };
  if (os.type === "") throw missingChild(el, "type");
  const arch = str(typeEl, "arch");
  const machine = str(typeEl, "machine");
  if (arch !== undefined) os.arch = arch;
  if (machine !== undefined && machine !== "") os.machine = machine;
  const fw = enumAttr(el, "firmware", ["bios", "efi"] as const);
  if (fw) os.firmware = fw;
  const fwEl = el.child("firmware");
  if (fwEl) {
    os.firmwareFeatures = fwEl.all("feature").map((f) => ({
      name: str(f, "name") ?? "",
      enabled: yesNo(f, "enabled") ?? false,
    }));
  }
  const loader = el.child("loader");
  if (loader) os.loader = parseLoader(loader);
  const nvram = el.child("nvram");
  if (nvram) os.nvram = parseNvram(nvram);
  for (const key of ["kernel", "initrd", "cmdline", "shim", "dtb"] as const) {
    const v = el.childText(key);
    if (v !== undefined && v !== "") os[key] = v;
  }
  for (const b of el.all("boot")) {
    const dev: BootDev = reqEnum(b, "dev", BOOT_DEVS);
    os.boot.push(dev);
  }
  const menu = el.child("bootmenu");
  if (menu) os.bootmenu = parseBootmenu(menu);
  const bios = el.child("bios");
  if (bios) {
    os.bios = {};
    const us = yesNo(bios, "useserial");
    const rt = intAttr(bios, "rebootTimeout", { min: -1, max: 65535 });
    if (us !== undefined) os.bios.useserial = us;
    if (rt !== undefined) os.bios.rebootTimeout = rt;
  }
  const smbios = el.child("smbios");
  if (smbios) os.smbios = { mode: reqEnum(smbios, "mode", ["emulate", "host", "sysinfo"] as const) };
  const acpi = el.child("acpi");
  if (acpi) {
    os.acpiTables = acpi.all("table").map((t) => ({ type: str(t, "type") ?? "", path: t.content }));
  }
  return os;
}
