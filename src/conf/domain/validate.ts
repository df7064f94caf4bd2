/**
 * Checks libvirt makes after parsing (virDomainDefValidate and the QEMU driver's validation)
 * that the corpus and users meet: names, memory sizes, duplicate targets, boot and CPU rules.
 */
import type { XmlElement } from "../xml.ts";
import type { DomainDef } from "./types.ts";
import { VirtError } from "../../util/errors/index.ts";

/** Smallest guest memory libvirt's QEMU driver accepts without complaint (KiB). */
export const MIN_MEMORY_KIB = 1024;

function nameError(root: XmlElement, name: string, reason: string): VirtError {
  const el = root.children.find((c) => c.name === "name");
  const xpath = "/domain/name";
  const line = el?.line ?? root.line;
  return new VirtError(
    "DOMAIN_INVALID_NAME",
    { name, xpath, line, reason },
    { xpath, line, column: el?.column ?? root.column },
  );
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlChars = /[\u0000-\u001f\u007f]/;

export function validateName(root: XmlElement, name: string): void {
  if (name === "") throw nameError(root, name, "it is empty");
  if (name.includes("/")) throw nameError(root, name, "it cannot contain '/'");
  if (name.includes("..")) throw nameError(root, name, "it cannot contain '..'");
  if (controlChars.test(name)) {
    throw nameError(
      root,
      name.replace(new RegExp(controlChars.source, "g"), "?"),
      "it cannot contain control characters",
    );
  }
  if (name.trim() !== name) throw nameError(root, name, "it cannot begin or end with white space");
}

function duplicateTargets(def: DomainDef): void {
  const seen = new Map<string, string>();
  for (const d of def.devices.disks) {
    const src = d.source?.file ?? d.source?.dev ?? d.source?.dir ?? d.source?.name ?? "(empty)";
    const prev = seen.get(d.target.dev);
    if (prev !== undefined) {
      throw new VirtError(
        "DOMAIN_DUPLICATE_TARGET",
        { target: d.target.dev, device: "disk", first: prev, second: src },
        { xpath: "/domain/devices/disk/target/@dev" },
      );
    }
    seen.set(d.target.dev, src);
  }
  const tags = new Set<string>();
  for (const fs of def.devices.filesystems) {
    if (tags.has(fs.target.dir)) {
      throw new VirtError(
        "DOMAIN_DUPLICATE_TARGET",
        { target: fs.target.dir, device: "filesystem", first: fs.target.dir, second: fs.target.dir },
        { xpath: "/domain/devices/filesystem/target/@dir" },
      );
    }
    tags.add(fs.target.dir);
  }
}

function memory(def: DomainDef): void {
  if (def.memory > 0 && def.memory < MIN_MEMORY_KIB) {
    throw new VirtError(
      "DOMAIN_MEMORY_TOO_SMALL",
      { what: "guest memory", size: def.memory, min: MIN_MEMORY_KIB },
      { xpath: "/domain/memory" },
    );
  }
}

function numa(def: DomainDef): void {
  const cells = def.cpu?.numa?.cells;
  if (!cells) return;
  cells.forEach((c, i) => {
    if (c.id !== i) {
      throw new VirtError(
        "XML_INVALID",
        {
          what: `NUMA cell ids must be 0..${cells.length - 1} in order, found id ${c.id} at position ${i}`,
          xpath: "/domain/cpu/numa/cell",
          line: 0,
        },
        { xpath: `/domain/cpu/numa/cell[${i + 1}]` },
      );
    }
  });
  for (const p of def.memoryBacking?.hugepages?.pages ?? []) {
    for (const n of (p.nodeset ?? "").split(",").filter((x) => x !== "")) {
      const max = Number(n.split("-").pop());
      if (max >= cells.length) {
        throw new VirtError(
          "CONFIG_UNSUPPORTED",
          { what: `hugepages: node ${max} not found` },
          { xpath: "/domain/memoryBacking/hugepages/page/@nodeset" },
        );
      }
    }
  }
}

function vcpus(def: DomainDef): void {
  const t = def.cpu?.topology;
  if (t) {
    const total = t.sockets * t.dies * t.clusters * t.cores * t.threads;
    if (total !== def.vcpu.count) {
      throw new VirtError(
        "CONFIG_UNSUPPORTED",
        { what: `CPU topology doesn't match maximum vcpu count` },
        { xpath: "/domain/cpu/topology" },
      );
    }
  }
  if (def.vcpu.current !== undefined && def.vcpu.current > def.vcpu.count) {
    throw new VirtError(
      "CONFIG_UNSUPPORTED",
      { what: "maximum vcpus count must be an integer greater than or equal to current vcpus count" },
      { xpath: "/domain/vcpu/@current" },
    );
  }
}

/** Validation of a parsed (and defaulted) definition. Structural checks always run. */
export function validateDomain(def: DomainDef, root: XmlElement, noDefaults: boolean): void {
  validateName(root, def.name);
  duplicateTargets(def);
  if (noDefaults) return;
  memory(def);
  numa(def);
  vcpus(def);
}
