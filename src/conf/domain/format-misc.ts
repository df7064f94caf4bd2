/**
 * Formatting of hostdev, redirdev, hub, watchdog, memballoon, rng, tpm, panic, memory devices,
 * iommu and vsock.
 */
import type { XmlWriter } from "../xml.ts";
import type {
  HostdevDef,
  IommuDef,
  MemballoonDef,
  MemoryDeviceDef,
  RedirdevDef,
  SmartcardDef,
  RngDef,
  RedirFilterRule,
  TpmDef,
  VsockDef,
} from "./types.ts";
import { formatInfo, hex, onOff, yesNo, virtioAttrs } from "./format-info.ts";
import { formatChrSource } from "./format-chr.ts";
import { formatHostdevIscsi } from "./hostdev-iscsi.ts";

export function formatHostdev(w: XmlWriter, h: HostdevDef): void {
  const attrs = {
    mode: h.mode,
    type: h.type,
    managed: h.mode === "subsystem" ? yesNo(h.managed ?? false) : undefined,
    model: h.model,
    display: onOff(h.display),
    ramfb: onOff(h.ramfb),
  };
  w.elem("hostdev", attrs, () => {
    if (h.driver) w.empty("driver", { name: h.driver.name, model: h.driver.model });
    const s = h.source;
    if (s.iscsi) formatHostdevIscsi(w, s.iscsi);
    else
      w.elem(
        "source",
        {
          protocol: s.vhost?.protocol,
          wwpn: s.vhost?.wwpn,
          startupPolicy: s.startupPolicy,
          guestReset: s.guestReset,
          writeFiltering: yesNo(s.writeFiltering),
        },
        () => {
          if (s.vendor !== undefined) w.empty("vendor", { id: hex(s.vendor, 4) });
          if (s.product !== undefined) w.empty("product", { id: hex(s.product, 4) });
          if (s.usbAddress) w.empty("address", { bus: s.usbAddress.bus, device: s.usbAddress.device });
          const p = s.pciAddress;
          if (p)
            w.empty("address", {
              domain: hex(p.domain, 4),
              bus: hex(p.bus, 2),
              slot: hex(p.slot, 2),
              function: hex(p.function),
            });
          if (s.scsi) {
            w.empty("adapter", { name: s.scsi.adapter });
            w.empty("address", { bus: s.scsi.bus, target: s.scsi.target, unit: s.scsi.unit });
          }
          if (s.mdevUuid !== undefined) w.empty("address", { uuid: s.mdevUuid });
        },
      );
    if (h.readonly) w.empty("readonly");
    if (h.shareable) w.empty("shareable");
    if (h.teaming) w.empty("teaming", { type: h.teaming.type, persistent: h.teaming.persistent });
    formatInfo(w, h);
  });
}

export function formatSmartcard(w: XmlWriter, s: SmartcardDef): void {
  w.elem("smartcard", { mode: s.mode, type: s.mode === "passthrough" ? s.type : undefined }, () => {
    for (const c of s.certificates ?? []) w.text("certificate", c);
    if (s.database !== undefined) w.text("database", s.database);
    if (s.mode === "passthrough" && s.type !== undefined) formatChrSource(w, s.type, s.source, s.protocol);
    formatInfo(w, s);
  });
}

export function formatRedirdev(w: XmlWriter, r: RedirdevDef): void {
  w.elem("redirdev", { bus: r.bus, type: r.type }, () => {
    formatChrSource(w, r.type, r.source, r.protocol);
    formatInfo(w, r);
  });
}

export function formatMemballoon(w: XmlWriter, m: MemballoonDef): void {
  w.elem(
    "memballoon",
    { model: m.model, autodeflate: onOff(m.autodeflate), freePageReporting: onOff(m.freePageReporting) },
    () => {
      if (m.statsPeriod !== undefined) w.empty("stats", { period: m.statsPeriod });
      formatInfo(w, m);
      if (m.virtio) w.empty("driver", virtioAttrs(m));
    },
  );
}

export function formatRng(w: XmlWriter, r: RngDef): void {
  w.elem("rng", { model: r.model }, () => {
    if (r.rate) w.empty("rate", { bytes: r.rate.bytes, period: r.rate.period });
    const b = r.backend;
    if (b.model === "random") {
      if (b.path === undefined) w.empty("backend", { model: "random" });
      else w.text("backend", b.path, { model: "random" });
    } else if (b.model === "egd") {
      const type = b.type ?? "pty";
      w.elem("backend", { model: "egd", type }, () => {
        formatChrSource(w, type, b.source, b.protocol);
      });
    } else w.empty("backend", { model: b.model });
    if (r.virtio) w.empty("driver", virtioAttrs(r));
    formatInfo(w, r);
  });
}

const hexUpper = (n: number, width: number): string =>
  `0x${n.toString(16).toUpperCase().padStart(width, "0")}`;

export function formatRedirFilter(w: XmlWriter, rules: readonly RedirFilterRule[]): void {
  w.elem("redirfilter", undefined, () => {
    for (const r of rules) {
      const v = r.version;
      w.empty("usbdev", {
        class: r.class === undefined ? undefined : hexUpper(r.class, 2),
        vendor: r.vendor === undefined ? undefined : hexUpper(r.vendor, 4),
        product: r.product === undefined ? undefined : hexUpper(r.product, 4),
        version:
          v === undefined
            ? undefined
            : `${String(((v >> 12) & 0xf) * 10 + ((v >> 8) & 0xf))}.${String((v >> 4) & 0xf)}${String(v & 0xf)}`,
        allow: r.allow ? "yes" : "no",
      });
    }
  });
}

export function formatTpm(w: XmlWriter, t: TpmDef): void {
  w.elem("tpm", { model: t.model }, () => {
    const b = t.backend;
    const attrs =
      b.type === "emulator"
        ? {
            type: b.type,
            version: b.version,
            persistent_state: b.persistent_state === true ? "yes" : undefined,
            debug: b.debug !== undefined && b.debug !== 0 ? String(b.debug) : undefined,
          }
        : { type: b.type };
    w.elem("backend", attrs, () => {
      switch (b.type) {
        case "passthrough":
          if (b.path !== undefined) w.empty("device", { path: b.path });
          break;
        case "emulator":
          if (b.secret !== undefined) w.empty("encryption", { secret: b.secret });
          if (b.activePcrBanks !== undefined) {
            const banks = b.activePcrBanks;
            w.elem("active_pcr_banks", undefined, () => {
              for (const bank of banks) w.empty(bank);
            });
          }
          if (b.source) w.empty("source", { type: b.source.type, path: b.source.path });
          if (b.profile)
            w.empty("profile", {
              source: b.profile.source,
              removeDisabled: b.profile.removeDisabled,
              name: b.profile.name,
            });
          break;
        case "external":
          if (b.socket !== undefined) w.empty("source", { type: "unix", mode: "connect", path: b.socket });
          break;
      }
    });
    formatInfo(w, t);
  });
}

export function formatMemoryDevice(w: XmlWriter, m: MemoryDeviceDef): void {
  w.elem("memory", { model: m.model, access: m.access, discard: yesNo(m.discard) }, () => {
    if (m.uuid !== undefined) w.text("uuid", m.uuid);
    const s = m.source;
    if (s) {
      w.elem("source", undefined, () => {
        // libvirt writes the nodemask ahead of the page size
        if (s.nodemask !== undefined) w.text("nodemask", s.nodemask);
        if (s.pagesize !== undefined) w.text("pagesize", s.pagesize, { unit: "KiB" });
        if (s.path !== undefined) w.text("path", s.path);
        if (s.alignsize !== undefined) w.text("alignsize", s.alignsize, { unit: "KiB" });
        if (s.pmem) w.empty("pmem");
      });
    }
    const t = m.target;
    w.elem("target", { dynamicMemslots: yesNo(t.dynamicMemslots) }, () => {
      w.text("size", t.size, { unit: "KiB" });
      if (t.node !== undefined) w.text("node", t.node);
      if (t.labelSize !== undefined)
        w.elem("label", undefined, () => w.text("size", t.labelSize!, { unit: "KiB" }));
      if (t.block !== undefined) w.text("block", t.block, { unit: "KiB" });
      if (t.requested !== undefined) w.text("requested", t.requested, { unit: "KiB" });
      if (t.current !== undefined) w.text("current", t.current, { unit: "KiB" });
      if (t.readonly) w.empty("readonly");
      if (t.address !== undefined) w.empty("address", { base: hex(t.address) });
    });
    formatInfo(w, m);
  });
}

export function formatIommu(w: XmlWriter, i: IommuDef): void {
  w.elem("iommu", { model: i.model }, () => {
    if (i.driver && Object.keys(i.driver).length > 0) w.empty("driver", { ...i.driver });
    formatInfo(w, i);
  });
}

export function formatVsock(w: XmlWriter, v: VsockDef): void {
  w.elem("vsock", { model: v.model }, () => {
    if (v.cid) w.empty("cid", { auto: yesNo(v.cid.auto), address: v.cid.address });
    formatInfo(w, v);
  });
}
