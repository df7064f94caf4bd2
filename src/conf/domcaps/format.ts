/**
 * Writes `DomainCaps` as libvirt's `<domainCapabilities>` XML (the layout of libvirt's
 * domain_capabilities.c): an unsupported element is written self-closed with
 * `supported='no'` and nothing inside; enums keep their order and are written even when empty.
 */
import { XmlWriter } from "../xml.ts";
import type {
  DomainCaps,
  DomainCapsCpu,
  DomainCapsEnum,
  DomainCapsGroup,
  DomainCapsFeature,
  DomainCapsNode,
  DomainCapsOs,
} from "./types.ts";

const yn = (b: boolean): string => (b ? "yes" : "no");

function writeEnum(w: XmlWriter, e: DomainCapsEnum): void {
  w.elem("enum", { name: e.name }, () => {
    for (const v of e.values) w.text("value", v);
  });
}

function writeNode(w: XmlWriter, n: DomainCapsNode): void {
  if (n.children) {
    w.elem(n.name, n.attrs, () => {
      for (const c of n.children ?? []) writeNode(w, c);
    });
  } else if (n.text !== undefined) w.text(n.name, n.text, n.attrs);
  else w.empty(n.name, n.attrs);
}

function writeGroup(w: XmlWriter, g: DomainCapsGroup | DomainCapsFeature): void {
  w.elem(g.name, { supported: yn(g.supported) }, () => {
    if (!g.supported) return;
    if ("values" in g && g.values) for (const v of g.values) writeNode(w, v);
    for (const e of g.enums) writeEnum(w, e);
  });
}

function writeOs(w: XmlWriter, os: DomainCapsOs): void {
  w.elem("os", { supported: yn(os.supported) }, () => {
    if (!os.supported) return;
    writeEnum(w, { name: "firmware", values: os.firmware });
    const l = os.loader;
    if (!l) return;
    w.elem("loader", { supported: yn(l.supported) }, () => {
      if (!l.supported) return;
      for (const v of l.values) w.text("value", v);
      for (const e of l.enums) writeEnum(w, e);
    });
  });
}

function writeCpu(w: XmlWriter, cpu: DomainCapsCpu): void {
  w.elem("cpu", undefined, () => {
    const pass = (name: string, enumName: string, m: DomainCapsCpu["maximum"]): void => {
      w.elem("mode", { name, supported: yn(m.supported) }, () => {
        if (m.supported) writeEnum(w, { name: enumName, values: m.migratable });
      });
    };
    pass("host-passthrough", "hostPassthroughMigratable", cpu.hostPassthrough);
    pass("maximum", "maximumMigratable", cpu.maximum);
    const hm = cpu.hostModel;
    w.elem("mode", { name: "host-model", supported: yn(hm.supported) }, () => {
      if (!hm.supported) return;
      if (hm.model !== undefined) w.text("model", hm.model, { fallback: hm.fallback });
      if (hm.vendor !== undefined) w.text("vendor", hm.vendor);
      if (hm.maxphysaddr) w.empty("maxphysaddr", { mode: hm.maxphysaddr.mode, limit: hm.maxphysaddr.limit });
      for (const f of hm.features) w.empty("feature", { policy: f.policy, name: f.name });
    });
    const custom = cpu.custom;
    w.elem("mode", { name: "custom", supported: yn(custom.supported) }, () => {
      if (!custom.supported) return;
      for (const m of custom.models) {
        w.text("model", m.name, {
          usable: m.usable,
          deprecated: m.deprecated === true ? "yes" : undefined,
          vendor: m.vendor,
          canonical: m.canonical,
        });
        if (m.blockers.length > 0) {
          w.elem("blockers", { model: m.name }, () => {
            for (const b of m.blockers) w.empty("feature", { name: b });
          });
        }
      }
    });
  });
}

/** libvirt's `<domainCapabilities>` document for `caps`, ending in a newline. */
export function formatDomainCaps(caps: DomainCaps): string {
  const w = new XmlWriter();
  w.elem("domainCapabilities", undefined, () => {
    w.text("path", caps.path);
    w.text("domain", caps.domain);
    if (caps.machine !== undefined) w.text("machine", caps.machine);
    w.text("arch", caps.arch);
    if (caps.vcpuMax !== undefined) w.empty("vcpu", { max: caps.vcpuMax });
    if (caps.iothreads !== undefined) w.empty("iothreads", { supported: yn(caps.iothreads) });
    writeOs(w, caps.os);
    writeCpu(w, caps.cpu);
    const mb = caps.memoryBacking;
    if (mb) {
      w.elem("memoryBacking", { supported: yn(mb.supported) }, () => {
        if (mb.supported) writeEnum(w, { name: "sourceType", values: mb.sourceTypes });
      });
    }
    w.elem("devices", undefined, () => {
      for (const d of caps.devices) writeGroup(w, d);
    });
    w.elem("features", undefined, () => {
      for (const f of caps.features) writeGroup(w, f);
    });
  });
  return w.toString();
}
