/**
 * Formatting of the top-level parts of a domain other than `<devices>`.
 */
import { escapeXml, type XmlWriter } from "../xml.ts";
import type {
  Clock,
  CpuDef,
  DomainDef,
  DomainFeatures,
  LaunchSecurity,
  MemoryBacking,
  Numatune,
  OsDef,
  RawXmlElement,
  SecLabel,
} from "./types.ts";
import { onOff, yesNo } from "./format-info.ts";
import { formatSourceOf } from "./format-storage.ts";

// ---------------------------------------------------------------------------------------------
// Metadata: libxml2's serialisation (double quotes, re-indented)
// ---------------------------------------------------------------------------------------------

function escapeAttrDq(s: string): string {
  return s.replace(/[&<>"\n\r\t]/g, (c) =>
    c === "&"
      ? "&amp;"
      : c === "<"
        ? "&lt;"
        : c === ">"
          ? "&gt;"
          : c === '"'
            ? "&quot;"
            : c === "\n"
              ? "&#10;"
              : c === "\r"
                ? "&#13;"
                : "&#9;",
  );
}

function escapeTextLx(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : "&gt;"));
}

function rawLines(el: RawXmlElement, depth: number, out: string[]): void {
  const pad = "  ".repeat(depth);
  const attrs = el.attrs.map((a) => ` ${a.name}="${escapeAttrDq(a.value)}"`).join("");
  const elems = el.children.filter((c): c is RawXmlElement => typeof c !== "string");
  const text = el.children.filter((c): c is string => typeof c === "string").join("");
  if (elems.length === 0 && text === "") out.push(`${pad}<${el.name}${attrs}/>`);
  else if (elems.length === 0) out.push(`${pad}<${el.name}${attrs}>${escapeTextLx(text)}</${el.name}>`);
  else {
    out.push(`${pad}<${el.name}${attrs}>`);
    for (const c of elems) rawLines(c, depth + 1, out);
    out.push(`${pad}</${el.name}>`);
  }
}

/** One verbatim element as text, two spaces per level (what virDomainGetMetadata returns). */
export function formatRawElement(el: RawXmlElement): string {
  const lines: string[] = [];
  rawLines(el, 0, lines);
  return lines.join("\n");
}

export function formatMetadata(w: XmlWriter, items: readonly RawXmlElement[]): void {
  w.elem("metadata", undefined, () => {
    for (const item of items) {
      const lines: string[] = [];
      rawLines(item, 0, lines);
      for (const l of lines) w.raw(l);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Memory, vCPU, NUMA tuning
// ---------------------------------------------------------------------------------------------

export function formatMemoryBacking(w: XmlWriter, mb: MemoryBacking): void {
  w.elem("memoryBacking", undefined, () => {
    if (mb.hugepages) {
      w.elem("hugepages", undefined, () => {
        for (const p of mb.hugepages!.pages)
          w.empty("page", { size: p.size, unit: "KiB", nodeset: p.nodeset });
      });
    }
    if (mb.nosharepages) w.empty("nosharepages");
    if (mb.locked) w.empty("locked");
    if (mb.source) w.empty("source", { type: mb.source.type });
    if (mb.access) w.empty("access", { mode: mb.access.mode });
    if (mb.allocation) w.empty("allocation", { mode: mb.allocation.mode, threads: mb.allocation.threads });
    if (mb.discard) w.empty("discard");
  });
}

export function formatVcpu(w: XmlWriter, def: DomainDef): void {
  const v = def.vcpu;
  const placement =
    v.placement ?? (def.numatune?.memory?.placement === "auto" && v.cpuset === undefined ? "auto" : "static");
  w.text("vcpu", v.count, {
    placement,
    cpuset: v.cpuset,
    current: v.current !== undefined && v.current !== v.count ? v.current : undefined,
  });
  if (v.vcpus) {
    w.elem("vcpus", undefined, () => {
      v.vcpus!.forEach((s, id) =>
        w.empty("vcpu", {
          id,
          enabled: s.enabled ? "yes" : "no",
          hotpluggable: s.hotpluggable ? "yes" : "no",
          order: s.order,
        }),
      );
    });
  }
}

export function formatNumatune(w: XmlWriter, nt: Numatune): void {
  w.elem("numatune", undefined, () => {
    const m = nt.memory;
    if (m) {
      const placement = m.nodeset !== undefined ? undefined : (m.placement ?? "auto");
      w.empty("memory", { mode: m.mode ?? "strict", nodeset: m.nodeset, placement });
    }
    for (const n of nt.memnodes) w.empty("memnode", { cellid: n.cellid, mode: n.mode, nodeset: n.nodeset });
  });
}

// ---------------------------------------------------------------------------------------------
// OS
// ---------------------------------------------------------------------------------------------

export function formatOs(w: XmlWriter, os: OsDef): void {
  w.elem("os", { firmware: os.firmware }, () => {
    w.text("type", os.type, { arch: os.arch, machine: os.machine });
    if (os.firmwareFeatures && os.firmwareFeatures.length > 0) {
      w.elem("firmware", undefined, () => {
        for (const f of os.firmwareFeatures!) w.empty("feature", { enabled: yesNo(f.enabled), name: f.name });
      });
    }
    const l = os.loader;
    if (l) {
      const attrs = {
        readonly: yesNo(l.readonly),
        secure: yesNo(l.secure),
        type: l.type,
        stateless: yesNo(l.stateless),
        format: l.format,
      };
      if (l.path === undefined) w.empty("loader", attrs);
      else w.text("loader", l.path, attrs);
    }
    const n = os.nvram;
    if (n) {
      const attrs = {
        template: n.template,
        templateFormat: n.templateFormat,
        type: n.type,
        format: n.format,
      };
      if (n.type === "network" && n.source) {
        const src = n.source;
        w.elem("nvram", attrs, () => {
          formatSourceOf(w, "network", src);
        });
      } else if (n.type === "file" || n.type === "block") {
        const key = n.type === "file" ? "file" : "dev";
        w.elem("nvram", attrs, () => w.empty("source", { [key]: n.path }));
      } else if (n.path === undefined) w.empty("nvram", attrs);
      else w.text("nvram", n.path, attrs);
    }
    for (const k of ["kernel", "initrd", "cmdline", "shim", "dtb"] as const) {
      const v = os[k];
      if (v !== undefined) w.text(k, v);
    }
    if (os.acpiTables && os.acpiTables.length > 0) {
      w.elem("acpi", undefined, () => {
        for (const t of os.acpiTables!) w.text("table", t.path, { type: t.type });
      });
    }
    for (const b of os.boot) w.empty("boot", { dev: b });
    if (os.bootmenu) w.empty("bootmenu", { enable: yesNo(os.bootmenu.enable), timeout: os.bootmenu.timeout });
    if (os.smbios) w.empty("smbios", { mode: os.smbios.mode });
    if (os.bios)
      w.empty("bios", { useserial: yesNo(os.bios.useserial), rebootTimeout: os.bios.rebootTimeout });
  });
}

// ---------------------------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------------------------

/** Bytes → the largest binary unit that divides exactly (libvirt's virFormatIntPretty). */
export function prettySize(kib: number): { value: number; unit: string } {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let v = kib;
  let i = 0;
  while (i < units.length - 1 && v !== 0 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return { value: v, unit: units[i]! };
}

function stateEl(w: XmlWriter, name: string, v: boolean | undefined): void {
  if (v !== undefined) w.empty(name, { state: onOff(v) });
}

function formatNamed(
  w: XmlWriter,
  f: { name: string; state?: boolean; value?: string; attrs?: Record<string, string> },
): void {
  w.empty(f.name, { state: onOff(f.state), ...f.attrs, value: f.value });
}

/**
 * `<hyperv mode=>`: libvirt names the mode (custom by default) and always writes an open and a
 * close tag, even with no enlightenment listed (passthrough).
 */
function formatHyperv(w: XmlWriter, hv: NonNullable<DomainFeatures["hyperv"]>): void {
  const mode = hv.mode ?? "custom";
  if (hv.features.length === 0) {
    w.raw(`<hyperv mode='${escapeXml(mode)}'>`).raw("</hyperv>");
    return;
  }
  w.elem("hyperv", { mode }, () => {
    for (const x of hv.features) {
      if (!x.sub) {
        formatNamed(w, x);
        continue;
      }
      w.elem(x.name, { state: onOff(x.state), ...x.attrs, value: x.value }, () => {
        for (const d of x.sub!) w.empty(d.name, { state: onOff(d.state) });
      });
    }
  });
}

export function formatFeatures(w: XmlWriter, f: DomainFeatures): void {
  w.elem("features", undefined, () => {
    if (f.acpi) w.empty("acpi");
    if (f.apic) w.empty("apic", { eoi: onOff(f.apic.eoi) });
    if (f.pae) w.empty("pae");
    stateEl(w, "hap", f.hap);
    if (f.viridian) w.empty("viridian");
    if (f.privnet) w.empty("privnet");
    if (f.hyperv) formatHyperv(w, f.hyperv);
    if (f.kvm) {
      w.elem("kvm", undefined, () => {
        for (const x of f.kvm!.features) formatNamed(w, x);
      });
    }
    stateEl(w, "pvspinlock", f.pvspinlock);
    stateEl(w, "pmu", f.pmu);
    stateEl(w, "vmport", f.vmport);
    if (f.gic) w.empty("gic", { version: f.gic.version });
    if (f.smm) {
      const smm = f.smm;
      w.elem("smm", { state: onOff(smm.state) }, () => {
        if (smm.state && smm.tseg !== undefined) {
          const p = prettySize(smm.tseg);
          w.text("tseg", p.value, { unit: p.unit });
        }
      });
    }
    if (f.ioapic) w.empty("ioapic", { driver: f.ioapic.driver });
    if (f.hpt) w.empty("hpt", { resizing: f.hpt.resizing });
    stateEl(w, "vmcoreinfo", f.vmcoreinfo);
    stateEl(w, "htm", f.htm);
    if (f.tcg) {
      const tcg = f.tcg;
      w.elem("tcg", undefined, () => {
        if (tcg.tbCache !== undefined) w.text("tb-cache", tcg.tbCache, { unit: "KiB" });
      });
    }
    if (f.asyncTeardown !== undefined) w.empty("async-teardown", { enabled: yesNo(f.asyncTeardown) });
    stateEl(w, "ps2", f.ps2);
  });
}

// ---------------------------------------------------------------------------------------------
// CPU
// ---------------------------------------------------------------------------------------------

function cpuAttrs(cpu: CpuDef): Record<string, string | undefined> {
  const hasModel = cpu.model?.name !== undefined;
  if (cpu.mode === "custom" && !hasModel) return {};
  return {
    mode: cpu.mode,
    match: cpu.mode === "custom" ? (cpu.match ?? "exact") : undefined,
    check: cpu.check,
    migratable: cpu.mode === "host-passthrough" || cpu.mode === "maximum" ? onOff(cpu.migratable) : undefined,
    deprecated_features: onOff(cpu.deprecated_features),
  };
}

export function formatCpu(w: XmlWriter, cpu: CpuDef): void {
  w.elem("cpu", cpuAttrs(cpu), () => {
    const formatModel = cpu.mode === "custom" || cpu.mode === "host-model";
    const m = cpu.model;
    if (formatModel && m && (m.name !== undefined || m.vendor_id !== undefined)) {
      const attrs = {
        fallback: m.name !== undefined ? (m.fallback ?? "allow") : undefined,
        vendor_id: m.vendor_id,
      };
      if (m.name === undefined) w.empty("model", attrs);
      else w.text("model", m.name, attrs);
    }
    if (formatModel && cpu.vendor !== undefined) w.text("vendor", cpu.vendor);
    const t = cpu.topology;
    if (t)
      w.empty("topology", {
        sockets: t.sockets,
        dies: t.dies,
        clusters: t.clusters,
        cores: t.cores,
        threads: t.threads,
      });
    if (cpu.cache) w.empty("cache", { level: cpu.cache.level, mode: cpu.cache.mode });
    const mpa = cpu.maxphysaddr;
    if (mpa) w.empty("maxphysaddr", { mode: mpa.mode, bits: mpa.bits, limit: mpa.limit });
    for (const f of cpu.features) w.empty("feature", { policy: f.policy ?? "require", name: f.name });
    if (cpu.numa) {
      w.elem("numa", undefined, () => {
        for (const c of cpu.numa!.cells) {
          const attrs = {
            id: c.id,
            cpus: c.cpus,
            memory: c.memory,
            unit: "KiB",
            memAccess: c.memAccess,
            discard: yesNo(c.discard),
          };
          w.elem("cell", attrs, () => {
            if (c.distances && c.distances.length > 0) {
              w.elem("distances", undefined, () => {
                for (const d of c.distances!) w.empty("sibling", { id: d.id, value: d.value });
              });
            }
            for (const k of c.caches ?? []) {
              w.elem("cache", { level: k.level, associativity: k.associativity, policy: k.policy }, () => {
                w.empty("size", { value: k.size, unit: "KiB" });
                if (k.line) w.empty("line", { value: k.line, unit: "B" });
              });
            }
          });
        }
        const ic = cpu.numa!.interconnects;
        if (ic && ic.length > 0) {
          w.elem("interconnects", undefined, () => {
            for (const l of ic) {
              w.empty(l.kind, {
                initiator: l.initiator,
                target: l.target,
                cache: l.cache > 0 ? l.cache : undefined,
                type: l.type,
                value: l.value,
                unit: l.kind === "bandwidth" ? "KiB" : undefined,
              });
            }
          });
        }
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Clock, power management, security
// ---------------------------------------------------------------------------------------------

export function formatClock(w: XmlWriter, c: Clock): void {
  const attrs: Record<string, string | number | undefined> = { offset: c.offset };
  if ((c.offset === "utc" || c.offset === "localtime") && c.adjustment === "reset")
    attrs.adjustment = "reset";
  if (c.offset === "variable") {
    attrs.adjustment = typeof c.adjustment === "number" ? c.adjustment : 0;
    attrs.basis = c.basis ?? "utc";
  }
  if (c.offset === "timezone") attrs.timezone = c.timezone;
  if (c.offset === "absolute") attrs.start = c.start ?? 0;
  w.elem("clock", attrs, () => {
    for (const t of c.timers) {
      const tattrs = {
        name: t.name,
        present: yesNo(t.present),
        tickpolicy: t.tickpolicy,
        track: t.name === "platform" || t.name === "rtc" ? t.track : undefined,
        frequency: t.name === "tsc" ? t.frequency : undefined,
        mode: t.name === "tsc" ? t.mode : undefined,
      };
      w.elem("timer", tattrs, () => {
        const cu = t.catchup;
        if (cu && (cu.threshold || cu.slew || cu.limit))
          w.empty("catchup", { threshold: cu.threshold, slew: cu.slew, limit: cu.limit });
      });
    }
  });
}

export function formatSeclabel(w: XmlWriter, s: SecLabel): void {
  if (s.type === undefined) return;
  if (s.type === "none") {
    w.empty("seclabel", { type: "none", model: s.model });
    return;
  }
  w.elem(
    "seclabel",
    { type: s.type, model: s.model, relabel: yesNo(s.relabel ?? s.type !== "static") },
    () => {
      if (s.label !== undefined && s.type !== "dynamic") w.text("label", s.label);
      if (s.imagelabel !== undefined && s.type !== "dynamic") w.text("imagelabel", s.imagelabel);
      if (s.baselabel !== undefined) w.text("baselabel", s.baselabel);
    },
  );
}

export function formatLaunchSecurity(w: XmlWriter, ls: LaunchSecurity): void {
  const attrs = {
    type: ls.type,
    authorKey: yesNo(ls.authorKey),
    vcek: yesNo(ls.vcek),
    kernelHashes: yesNo(ls.kernelHashes),
  };
  w.elem("launchSecurity", attrs, () => {
    if (ls.cbitpos !== undefined) w.text("cbitpos", ls.cbitpos);
    if (ls.reducedPhysBits !== undefined) w.text("reducedPhysBits", ls.reducedPhysBits);
    // SEV-SNP's policy is 64 bits wide: libvirt prints eight digits for it, four for SEV
    const digits = ls.type === "sev-snp" ? 8 : 4;
    if (ls.policy !== undefined) w.text("policy", `0x${ls.policy.toString(16).padStart(digits, "0")}`);
    for (const k of [
      "guestVisibleWorkarounds",
      "idBlock",
      "idAuth",
      "hostData",
      "dhCert",
      "session",
    ] as const) {
      const v = ls[k];
      if (v !== undefined) w.text(k, v);
    }
  });
}
