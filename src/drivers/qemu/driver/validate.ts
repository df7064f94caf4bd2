/**
 * Checks the driver makes before it touches a file or starts QEMU: object names that become
 * file names, the accelerator, the architecture and machine, files the XML names, memory.
 * Each failure is a catalogued error naming what is wrong.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import type { DomainDef } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuCaps } from "../capabilities/index.ts";
import { parseHpbMachine } from "../capabilities/hpb.ts";
import { localDiskPath } from "../command/disk.ts";

/**
 * A name that becomes part of file names (`<name>.xml`, `<name>.log`, `domain-<id>-<name>`):
 * not empty, no `/`, not `.` or `..` (nor containing `..`), no control characters.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

export function checkObjectName(object: string, name: string): void {
  let reason: string | undefined;
  if (name === "") reason = "it is empty";
  else if (name.includes("/")) reason = "it cannot contain '/'";
  else if (name === "." || name.includes("..")) reason = "it cannot be '.' or contain '..'";
  else if (name.search(CONTROL) >= 0) reason = "it cannot contain control characters";
  if (reason !== undefined) {
    const shown = name.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    throw new VirtError("INVALID_NAME", { object, name: shown, reason });
  }
}

/** Smallest guest memory the driver starts (KiB): below it no x86 firmware or kernel runs. */
export const DEFAULT_MIN_MEMORY_KIB = 16 * 1024;

export function checkMemory(def: DomainDef, minKiB: number): void {
  if (def.memory < minKiB) {
    throw new VirtError(
      "DOMAIN_MEMORY_TOO_SMALL",
      { what: `guest memory of domain '${def.name}'`, size: def.memory, min: minKiB },
      { xpath: "/domain/memory" },
    );
  }
}

/** Architectures a binary of `capsArch` runs. */
function archSupported(capsArch: string, arch: string): boolean {
  return (
    arch === capsArch ||
    (capsArch === "x86_64" && arch === "i686") ||
    (capsArch === "aarch64" && arch === "armv7l")
  );
}

/** The domain's architecture, machine and type against the emulator's capabilities. */
export function checkAgainstCaps(def: DomainDef, caps: QemuCaps): void {
  if (def.type !== "qemu" && def.type !== "kvm") {
    throw new VirtError(
      "QEMU_VIRT_TYPE_UNSUPPORTED",
      { type: def.type },
      { xpath: "/domain/@type", allowed: ["qemu", "kvm"] },
    );
  }
  const arch = def.os.arch ?? caps.arch;
  if (!archSupported(caps.arch, arch)) {
    throw new VirtError(
      "QEMU_ARCH_UNSUPPORTED",
      { emulator: caps.emulator, arch, emulatorArch: caps.arch },
      { xpath: "/domain/os/type/@arch" },
    );
  }
  const hpb = parseHpbMachine(def.os.machine);
  const machine = hpb?.base ?? def.os.machine;
  const accel = caps.accel[def.type === "kvm" ? "kvm" : "tcg"] ?? caps.accel.tcg;
  if (
    machine !== undefined &&
    accel &&
    !accel.machines.some((m) => m.name === machine || m.alias === machine)
  ) {
    const where = { xpath: "/domain/os/type/@machine", allowed: accel.machines.map((m) => m.name) };
    if (hpb) {
      throw new VirtError(
        "QEMU_HPB_MACHINE_UNSUPPORTED",
        { emulator: caps.emulator, machine: hpb.name, base: hpb.base },
        where,
      );
    }
    throw new VirtError("QEMU_MACHINE_UNSUPPORTED", { emulator: caps.emulator, machine }, where);
  }
  // RDP is served by libvirt's qemu-rdp helper over the D-Bus display; tvirt does not run it,
  // and a guest must not start as if its RDP server were there
  const rdp = def.devices.graphics.findIndex((g) => g.type === "rdp");
  if (rdp >= 0)
    throw new VirtError(
      "QEMU_CMD_UNSUPPORTED",
      { element: "graphics type 'rdp'", reason: "tvirt does not start the qemu-rdp server" },
      { xpath: `/domain/devices/graphics[${rdp + 1}]` },
    );
}

/** The physical address widths QEMU gives an x86 vCPU (`phys-bits`); it refuses others at start. */
export const PHYS_BITS_RANGE = { min: 32, max: 52 } as const;

/**
 * `<maxphysaddr mode='emulate' bits='N'/>` within what QEMU accepts, checked before QEMU starts
 * (libvirt leaves it to QEMU, which then exits with "phys-bits should be between 32 and 52").
 * Definitions are not refused: the same XML is valid for other architectures and QEMUs.
 */
export function checkAddressBits(def: DomainDef): void {
  const pa = def.cpu?.maxphysaddr;
  const arch = def.os.arch ?? "x86_64";
  if (arch !== "x86_64" && arch !== "i686") return;
  const bits = pa?.mode === "emulate" ? pa.bits : undefined;
  if (bits !== undefined && bits !== 0 && (bits < PHYS_BITS_RANGE.min || bits > PHYS_BITS_RANGE.max)) {
    throw new VirtError(
      "QEMU_PHYS_BITS_RANGE",
      { name: def.name, bits, min: PHYS_BITS_RANGE.min, max: PHYS_BITS_RANGE.max },
      {
        xpath: "/domain/cpu/maxphysaddr/@bits",
        allowed: [`${String(PHYS_BITS_RANGE.min)}-${String(PHYS_BITS_RANGE.max)}`],
      },
    );
  }
}

interface NamedFile {
  readonly what: string;
  readonly path: string;
  readonly xpath: string;
}

/**
 * Files the definition needs to exist on the host: kernel, initrd, DTB, local disk sources
 * (files, block devices, directories, and `type='volume'` disks once resolved). Backing files
 * are QEMU's to open.
 */
export function filesOf(def: DomainDef): NamedFile[] {
  const files: NamedFile[] = [];
  if (def.os.kernel !== undefined)
    files.push({ what: "kernel", path: def.os.kernel, xpath: "/domain/os/kernel" });
  if (def.os.initrd !== undefined)
    files.push({ what: "initrd", path: def.os.initrd, xpath: "/domain/os/initrd" });
  if (def.os.dtb !== undefined) files.push({ what: "dtb", path: def.os.dtb, xpath: "/domain/os/dtb" });
  def.devices.disks.forEach((d, i) => {
    const path = localDiskPath(d);
    if (path === undefined) return;
    // Removable media may be absent when startupPolicy allows it.
    const policy = d.source?.startupPolicy;
    if (policy === "optional" || (policy === "requisite" && (d.device === "cdrom" || d.device === "floppy")))
      return;
    files.push({ what: "storage file", path, xpath: `/domain/devices/disk[${i + 1}]/source` });
  });
  return files;
}

function reasonOf(e: unknown): { code: string; reason: string } {
  const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
  const reason =
    code === "ENOENT"
      ? "No such file or directory"
      : code === "EACCES"
        ? "Permission denied"
        : e instanceof Error
          ? e.message
          : String(e);
  return { code, reason };
}

/**
 * Checks that every file the domain names exists and can be read, before QEMU starts. One
 * missing file gives `QEMU_FILE_MISSING` (libvirt's "Cannot access storage file '…'"); several
 * give one `QEMU_FILES_MISSING` listing each path and why, so a user fixes them all at once.
 */
export async function checkFiles(def: DomainDef): Promise<void> {
  const bad: { file: NamedFile; code: string; reason: string }[] = [];
  for (const f of filesOf(def)) {
    try {
      await access(f.path, constants.R_OK);
    } catch (e) {
      bad.push({ file: f, ...reasonOf(e) });
    }
  }
  const first = bad[0];
  if (!first) return;
  if (bad.length === 1) {
    throw new VirtError(
      "QEMU_FILE_MISSING",
      { what: first.file.what, path: first.file.path, name: def.name, reason: first.reason },
      { xpath: first.file.xpath, errno: first.code },
    );
  }
  throw new VirtError(
    "QEMU_FILES_MISSING",
    {
      count: bad.length,
      name: def.name,
      list: bad.map((b) => `${b.file.what} '${b.file.path}' (${b.reason})`).join(", "),
    },
    { xpath: first.file.xpath, errno: first.code, paths: bad.map((b) => b.file.path) },
  );
}
