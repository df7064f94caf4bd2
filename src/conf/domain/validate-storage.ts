/**
 * Define-time checks of disk sources against what the emulator can do (libvirt's
 * qemuDomainValidateStorageSource, run when a definition is validated, not only at start):
 * `tlsHostname` needs an nbd source and QEMU's nbd `tls-hostname`; librbd encryption needs
 * RBD's encryption support, `luks-any` and layered keys their own.
 */
import { VirtError } from "../../util/errors/index.ts";
import type { DiskSource, DomainDef, DomainFacts } from "./types.ts";

function unsupported(what: string): VirtError {
  return new VirtError("CONFIG_UNSUPPORTED", { what });
}

function checkSource(s: DiskSource, diskType: string, has: (flag: string) => boolean): void {
  if (s.tlsHostname !== undefined) {
    if (diskType !== "network" || s.protocol !== "nbd")
      throw unsupported("'tlsHostname' field is supported only with NBD disks");
    if (!has("blockdev.nbd.tls-hostname"))
      throw unsupported("'tlsHostname' field is not supported by this QEMU");
  }
}

/** Checks every disk's sources (and encryption) against the emulator's flags. */
export function validateStorageCaps(def: DomainDef, facts: DomainFacts): void {
  const hasFlag = facts.hasStorageFlag?.bind(facts);
  if (!hasFlag) return;
  for (const disk of def.devices.disks) {
    if (disk.source) checkSource(disk.source, disk.type, hasFlag);
    const enc = disk.encryption ?? disk.source?.encryption;
    if (enc?.engine === "librbd" && disk.type === "network" && disk.source?.protocol === "rbd") {
      if (!hasFlag("rbd-encryption"))
        throw unsupported("librbd encryption is not supported by this QEMU binary");
      if (enc.format === "luks-any" && !hasFlag("rbd-encryption-luks-any"))
        throw unsupported("luks-any encryption is not supported by this QEMU binary");
      if (enc.secrets.length > 1 && !hasFlag("rbd-encryption-layering"))
        throw unsupported("librbd encryption layering is not supported by this QEMU binary");
    }
  }
}
