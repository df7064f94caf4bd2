/**
 * Domain XML → `DomainDef`: reads the document, fills post-parse defaults and validates.
 * Only `VirtError`s leave this module; anything else is a bug and is wrapped as one.
 */
import { parseXml, unusedWarnings, type XmlElement, type XmlWarning } from "../xml.ts";
import { VirtError, toVirtError } from "../../util/errors/index.ts";
import type { DomainDef, DomainFacts, DomainVirtType, IdMapEntry } from "./types.ts";
import { idmapEntries } from "./parse-fs.ts";
import {
  parseClock,
  parseFeatures,
  parseLaunchSecurity,
  parseLifecycle,
  parseMemoryBacking,
  parseNumatune,
  parseVcpus,
  resolveNumaPlacement,
  parsePm,
  parseSeclabel,
  parseVcpu,
  rawElement,
  uuidText,
} from "./parse-general.ts";
import { parseCpu } from "./parse-cpu.ts";
import { parseOs } from "./parse-os.ts";
import { parseDevices } from "./parse-devices.ts";
import {
  enumAttr,
  limitText,
  missingAttr,
  missingChild,
  sizeText,
  str,
  structural,
  uintAttr,
  onOff,
} from "./reader.ts";
import { applyDefaults } from "./defaults.ts";
import { parseQemuNamespace } from "./parse-qemu-ns.ts";
import { validateDomain } from "./validate.ts";
import { validateStorageCaps } from "./validate-storage.ts";
import { parseBlkiotune, parseCputune, parseThreadSched } from "./tune.ts";
import { withStatusAliases } from "./parse-address.ts";
import { parseSysinfo } from "./sysinfo.ts";
import { parseThrottleGroups } from "./throttle.ts";
import { parseIothreads } from "./iothreads.ts";

export interface ParseOptions {
  document?: string;
  facts?: DomainFacts | ((def: DomainDef) => DomainFacts);
  noDefaults?: boolean;
  abiUpdate?: boolean;
  status?: boolean;
  /** `<portForward>` on the SLIRP backend of `type='user'` (a tvirt extension; see ParseDomainOptions). */
  slirpPortForwards?: boolean;
}

const VIRT_TYPES = [
  "qemu",
  "kvm",
  "kqemu",
  "xen",
  "lxc",
  "uml",
  "openvz",
  "test",
  "vmware",
  "hyperv",
  "vbox",
  "phyp",
  "parallels",
  "bhyve",
  "vz",
  "none",
  "hvf",
] as const satisfies readonly DomainVirtType[];

/** Single-element text children (`<name>`, `<title>`, ...). */
function text(root: XmlElement, name: string): string | undefined {
  return root.childText(name);
}

function parseName(root: XmlElement): string {
  const el = root.child("name");
  if (!el) throw missingChild(root, "name");
  return el.text;
}

function parseMemory(root: XmlElement, def: DomainDef): void {
  const max = root.child("maxMemory");
  if (max) {
    def.maxMemory = { size: sizeText(max) };
    const slots = uintAttr(max, "slots", { hex: false, max: 0xffffffff });
    if (slots !== undefined) def.maxMemory.slots = slots;
  }
  const mem = root.child("memory");
  if (mem) {
    def.memory = sizeText(mem);
    const dc = onOff(mem, "dumpCore");
    if (dc !== undefined) def.memoryDumpCore = dc;
  }
  const cur = root.child("currentMemory");
  if (cur) def.currentMemory = sizeText(cur);
  const bt = root.child("blkiotune");
  if (bt) def.blkiotune = parseBlkiotune(bt);
  const mt = root.child("memtune");
  if (mt) {
    def.memtune = {};
    for (const k of ["hard_limit", "soft_limit", "min_guarantee", "swap_hard_limit"] as const) {
      const c = mt.child(k);
      if (c) def.memtune[k] = limitText(c);
    }
  }
  const mb = root.child("memoryBacking");
  if (mb) def.memoryBacking = parseMemoryBacking(mb);
}

function parseLifecycleAll(root: XmlElement, def: DomainDef): void {
  const p = parseLifecycle(root.child("on_poweroff"));
  const r = parseLifecycle(root.child("on_reboot"));
  const c = parseLifecycle(root.child("on_crash"));
  if (p) def.onPoweroff = p;
  if (r) def.onReboot = r;
  if (c) def.onCrash = c;
  const lf = root.child("on_lockfailure");
  if (lf) {
    const v = lf.content;
    if (v === "poweroff" || v === "restart" || v === "pause" || v === "ignore") def.onLockfailure = v;
    else throw structural(lf, `on_lockfailure '${v}' is not one of poweroff, restart, pause, ignore`);
  }
}

/** `<resource><partition/><fibrechannel appid=/>` (libvirt's virDomainResourceDefParse). */
function parseResource(el: XmlElement): NonNullable<DomainDef["resource"]> {
  const r: NonNullable<DomainDef["resource"]> = {};
  const partition = el.childText("partition");
  if (partition !== undefined && partition !== "") {
    if (!partition.startsWith("/"))
      throw structural(el, `resource partition '${partition}' must start with '/'`);
    r.partition = partition;
  }
  const fc = el.child("fibrechannel");
  if (fc) {
    const appid = str(fc, "appid");
    if (appid === undefined) throw missingAttr(fc, "appid");
    r.fibrechannelAppid = appid;
  }
  return r;
}

/** The namespace URI of an element, from the `xmlns` declarations in scope; undefined when none. */
function namespaceOf(el: XmlElement): string | undefined {
  const colon = el.name.indexOf(":");
  const decl = colon < 0 ? "xmlns" : `xmlns:${el.name.slice(0, colon)}`;
  for (let e: XmlElement | undefined = el; e; e = e.parent) {
    const v = e.attrNode(decl)?.value;
    if (v !== undefined) return v === "" ? undefined : v;
  }
  return undefined;
}

/**
 * `<metadata>`'s children as libvirt keeps them: each needs a namespace, and only the first
 * element of a namespace stays (virXMLNodeSanitizeNamespaces).
 */
function metadataElements(metadata: XmlElement): XmlElement[] {
  const seen = new Set<string>();
  const kept: XmlElement[] = [];
  for (const c of metadata.children) {
    c.markAllUsed();
    const ns = namespaceOf(c);
    if (ns === undefined || seen.has(ns)) continue;
    seen.add(ns);
    kept.push(c);
  }
  return kept;
}

/** Reads the `<domain>` element into a definition (no defaults yet). */
export function readDomain(root: XmlElement): DomainDef {
  if (root.name !== "domain") {
    throw new VirtError(
      "XML_UNEXPECTED_ROOT",
      { expected: "domain", found: root.name },
      { xpath: `/${root.name}`, line: root.line, column: root.column },
    );
  }
  if (!root.hasAttr("type")) throw missingAttr(root, "type");
  const type = enumAttr(root, "type", VIRT_TYPES)!;
  const osEl = root.child("os");
  if (!osEl) throw missingChild(root, "os");
  const def: DomainDef = {
    type,
    name: parseName(root),
    uuid: "",
    memory: 0,
    currentMemory: 0,
    vcpu: parseVcpu(root.child("vcpu")),
    os: parseOs(osEl),
    clock: { offset: "utc", timers: [] },
    onPoweroff: "destroy",
    onReboot: "restart",
    onCrash: "destroy",
    devices: parseDevices(root.child("devices")),
    seclabels: root.all("seclabel").map(parseSeclabel),
  };
  const vcpus = root.child("vcpus");
  if (vcpus) parseVcpus(vcpus, def.vcpu);
  const id = str(root, "id");
  if (id !== undefined && /^[0-9]+$/.test(id)) def.id = Number(id);
  const uuid = root.child("uuid");
  if (uuid) def.uuid = uuidText(uuid);
  const genid = root.child("genid");
  if (genid) def.genid = genid.content;
  const title = text(root, "title");
  if (title !== undefined) def.title = title;
  const description = root.child("description");
  if (description) def.description = description.text;
  const metadata = root.child("metadata");
  if (metadata) def.metadata = metadataElements(metadata).map(rawElement);
  parseMemory(root, def);
  parseIothreads(root, def);
  const cputune = root.child("cputune");
  if (cputune) {
    def.cputune = parseCputune(cputune);
    const ids = root.child("iothreadids")?.all("iothread");
    parseThreadSched(
      cputune,
      def,
      ids?.map((t) => Number(t.attr("id"))),
    );
  }
  const throttleGroups = root.child("throttlegroups");
  if (throttleGroups) def.throttleGroups = parseThrottleGroups(throttleGroups);
  const numatune = root.child("numatune");
  if (numatune) def.numatune = parseNumatune(numatune);
  resolveNumaPlacement(def);
  const resource = root.child("resource");
  if (resource) def.resource = parseResource(resource);
  const sysinfoEls = root.all("sysinfo");
  if (sysinfoEls.length > 0) {
    const domainUuid = { value: def.uuid };
    def.sysinfo = parseSysinfo(sysinfoEls, domainUuid);
    def.uuid = domainUuid.value;
  }
  const idmap = root.child("idmap");
  if (idmap) def.idmap = parseDomainIdmap(idmap);
  const features = root.child("features");
  if (features) def.features = parseFeatures(features);
  const cpu = root.child("cpu");
  if (cpu) def.cpu = parseCpu(cpu);
  const clock = root.child("clock");
  if (clock) def.clock = parseClock(clock);
  parseLifecycleAll(root, def);
  const pm = root.child("pm");
  if (pm) def.pm = parsePm(pm);
  const ls = root.child("launchSecurity");
  if (ls) def.launchSecurity = parseLaunchSecurity(ls);
  const qemu = parseQemuNamespace(root);
  if (qemu) def.qemu = qemu;
  return def;
}

/**
 * The domain's `<idmap>` (virDomainIdmapDefParseXML): each list sorted by start, and a list
 * must map the container's root (start 0).
 */
function parseDomainIdmap(el: XmlElement): NonNullable<DomainDef["idmap"]> {
  const list = (name: "uid" | "gid"): IdMapEntry[] => {
    const entries = idmapEntries(el, name).sort((a, b) => a.start - b.start);
    if (entries.length > 0 && entries[0]!.start !== 0)
      throw structural(el, `the container's root ${name} 0 is not mapped`);
    return entries;
  };
  return { uids: list("uid"), gids: list("gid") };
}

export function parseDomain(
  xml: string,
  options: ParseOptions = {},
): { def: DomainDef; warnings: XmlWarning[] } {
  try {
    const root = parseXml(xml, options.document ?? "(domain_definition)");
    const def = withStatusAliases(options.status ?? false, () => readDomain(root));
    const warnings = unusedWarnings(root);
    let facts: DomainFacts = {};
    if (!options.noDefaults) {
      facts = typeof options.facts === "function" ? options.facts(def) : (options.facts ?? {});
      applyDefaults(def, { facts, abiUpdate: options.abiUpdate ?? false });
    }
    validateDomain(def, root, options.noDefaults ?? false, options.abiUpdate ?? false, {
      slirpPortForwards: options.slirpPortForwards ?? false,
      facts,
    });
    // a running domain's status is not validated again (libvirt skips validation there)
    if (options.noDefaults !== true && options.status !== true) validateStorageCaps(def, facts);
    return { def, warnings };
  } catch (e) {
    throw toVirtError(e);
  }
}
