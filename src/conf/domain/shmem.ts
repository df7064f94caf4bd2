/**
 * `<shmem>` (ivshmem shared memory) and `<crypto>` (virtio-crypto) devices: reading, libvirt's
 * post-parse defaults and checks, and formatting.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { XmlElement, XmlWriter } from "../xml.ts";
import type { CryptoDef, ShmemDef } from "./types.ts";
import { parseDeviceInfo } from "./parse-address.ts";
import { formatInfo, onOff } from "./format-info.ts";
import {
  enumAttr,
  invalidAttr,
  invalidText,
  onOff as readOnOff,
  reqEnum,
  reqStr,
  uintAttr,
  UNIT_BYTES,
} from "./reader.ts";

const MIB = 1024 * 1024;

function sizeBytes(el: XmlElement): number {
  const unit = el.attr("unit");
  // a scaled size whose default unit is the byte (libvirt's scale 1)
  const factor = UNIT_BYTES[(unit ?? "b").toLowerCase()];
  if (factor === undefined)
    throw invalidAttr(el, "unit", unit ?? "", "expected a size unit", Object.keys(UNIT_BYTES));
  const text = el.content.trim();
  if (!/^[0-9]+$/.test(text)) throw invalidText(el, el.content, "expected a size");
  const bytes = BigInt(text) * BigInt(factor);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidText(el, el.content, "expected a smaller size");
  return Number(bytes);
}

function isPowerOfTwo(n: number): boolean {
  const b = BigInt(n);
  return b > 0n && (b & (b - 1n)) === 0n;
}

export function parseShmem(el: XmlElement): ShmemDef {
  const sh: ShmemDef = { name: reqStr(el, "name") };
  const role = enumAttr(el, "role", ["master", "peer"] as const);
  if (role) sh.role = role;
  const model = el.child("model");
  if (model) sh.model = reqEnum(model, "type", ["ivshmem", "ivshmem-plain", "ivshmem-doorbell"] as const);
  const size = el.child("size");
  if (size) {
    sh.size = sizeBytes(size);
    // QEMU maps the region as a PCI BAR: a power of two, and libvirt wants at least 1 MiB
    if (!isPowerOfTwo(sh.size) || sh.size < MIB)
      throw new VirtError(
        "DOMAIN_SHMEM_SIZE",
        {},
        { xpath: size.xpath, line: size.line, column: size.column },
      );
  }
  const server = el.child("server");
  if (server) {
    sh.server = {};
    const path = server.attr("path");
    if (path !== undefined) sh.server.path = path;
  }
  const msi = el.child("msi");
  if (msi) {
    sh.msi = {};
    const vectors = uintAttr(msi, "vectors", { hex: false, max: 0xffffffff });
    const ioeventfd = readOnOff(msi, "ioeventfd");
    if (vectors !== undefined) sh.msi.vectors = vectors;
    if (ioeventfd !== undefined) sh.msi.ioeventfd = ioeventfd;
    // interrupts come from the server's peers: without a server there are none
    if (!server)
      throw new VirtError(
        "DOMAIN_SHMEM_MSI_NO_SERVER",
        {},
        { xpath: msi.xpath, line: msi.line, column: msi.column },
      );
  }
  parseDeviceInfo(el, sh);
  return sh;
}

/**
 * libvirt's QEMU post-parse of a shmem (qemuDomainShmemDefPostParse): the model defaults to
 * ivshmem-plain with a 4 MiB region; a doorbell needs a server (and has no size of its own: the
 * server gives it) and always has MSI with ioeventfd on unless turned off; a plain one has no server.
 */
export function shmemPostParse(sh: ShmemDef): void {
  sh.model ??= "ivshmem-plain";
  if (sh.model !== "ivshmem-doorbell" && sh.size === undefined) sh.size = 4 * MIB;
  if (sh.model === "ivshmem") return;
  if (!sh.server) {
    if (sh.model === "ivshmem-doorbell")
      throw new VirtError("DOMAIN_SHMEM_SERVER_MODEL", { model: sh.model, state: "enabled" });
    return;
  }
  if (sh.model === "ivshmem-plain")
    throw new VirtError("DOMAIN_SHMEM_SERVER_MODEL", { model: sh.model, state: "disabled" });
  if (sh.size !== undefined) throw new VirtError("DOMAIN_SHMEM_DOORBELL_SIZE", {});
  sh.msi ??= {};
  sh.msi.ioeventfd ??= true;
}

export function formatShmem(w: XmlWriter, sh: ShmemDef): void {
  w.elem("shmem", { name: sh.name, role: sh.role }, () => {
    if (sh.model !== undefined) w.empty("model", { type: sh.model });
    // libvirt writes the size in MiB
    if (sh.size !== undefined) w.text("size", Math.floor(sh.size / MIB), { unit: "M" });
    if (sh.server) w.empty("server", { path: sh.server.path });
    if (sh.msi) w.empty("msi", { vectors: sh.msi.vectors, ioeventfd: onOff(sh.msi.ioeventfd) });
    formatInfo(w, sh);
  });
}

export function parseCrypto(el: XmlElement): CryptoDef {
  const model = reqEnum(el, "model", ["virtio"] as const);
  const type = reqEnum(el, "type", ["qemu"] as const);
  const backend = el.child("backend");
  if (!backend)
    throw new VirtError(
      "DOMAIN_CRYPTO_BACKEND_MISSING",
      {},
      { xpath: el.xpath, line: el.line, column: el.column },
    );
  const c: CryptoDef = {
    model,
    type,
    backend: { model: reqEnum(backend, "model", ["builtin", "lkcf"] as const) },
  };
  const queues = uintAttr(backend, "queues", { hex: false, max: 0xffffffff });
  if (queues !== undefined) c.backend.queues = queues;
  parseDeviceInfo(el, c);
  return c;
}

export function formatCrypto(w: XmlWriter, c: CryptoDef): void {
  w.elem("crypto", { model: c.model, type: c.type }, () => {
    w.empty("backend", { model: c.backend.model, queues: c.backend.queues });
    formatInfo(w, c);
  });
}
