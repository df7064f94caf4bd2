/**
 * `virConnectGetDomainCapabilities` for the QEMU driver: picks the emulator, virt type and
 * machine type the query names (libvirt's defaults and messages when it names none or a wrong
 * one), gathers the host facts the document reports (firmware descriptors, VFIO, swtpm, the
 * CPU's physical address bits) and builds it from the emulator's probed capabilities.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { formatDomainCaps } from "../../../conf/domcaps/index.ts";
import { hostHasIommu, hostPhysAddrBits } from "../../../host/facts.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { DomainCapabilitiesQuery } from "../../driver.ts";
import { buildDomainCaps, resolveMachine, type VirtType } from "../capabilities/domcaps.ts";
import { firmwareDirs, loadFirmwareDescriptors, supportedFirmware } from "../firmware.ts";
import type { QemuDriver } from "./driver.ts";

/** libvirt's domain (virt) types: a known one QEMU does not run is refused differently. */
const VIRT_TYPES = new Set([
  "none",
  "qemu",
  "kqemu",
  "kvm",
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
  "hvf",
]);

/** libvirt's architecture names (virArch). */
const ARCHES = new Set([
  "i686",
  "x86_64",
  "aarch64",
  "alpha",
  "armv6l",
  "armv7l",
  "armv7b",
  "cris",
  "loongarch64",
  "lm32",
  "m68k",
  "microblaze",
  "microblazeel",
  "mips",
  "mipsel",
  "mips64",
  "mips64el",
  "openrisc",
  "parisc",
  "parisc64",
  "ppc",
  "ppcle",
  "ppc64",
  "ppc64le",
  "ppcemb",
  "riscv32",
  "riscv64",
  "s390",
  "s390x",
  "sh4",
  "sh4eb",
  "sparc",
  "sparc64",
  "unicore32",
  "xtensa",
  "xtensaeb",
]);

/** QEMU's system emulator for a libvirt architecture, next to the driver's default one. */
function emulatorForArch(defaultEmulator: string, arch: string): string {
  const qemuArch = arch === "i686" ? "i386" : arch === "armv7l" || arch === "armv6l" ? "arm" : arch;
  return join(dirname(defaultEmulator), `qemu-system-${qemuArch}`);
}

let swtpm: Promise<string[] | undefined> | undefined;

/** TPM versions swtpm emulates here (`swtpm_setup --print-capabilities`), undefined without it. */
function swtpmVersions(): Promise<string[] | undefined> {
  swtpm ??= (async () => {
    if (!existsSync("/usr/bin/swtpm") || !existsSync("/usr/bin/swtpm_setup")) return undefined;
    try {
      const r = await runArgv(["/usr/bin/swtpm_setup", "--print-capabilities"], { timeoutMs: 10_000 });
      const doc = JSON.parse(r.stdout) as { features?: unknown };
      const f = Array.isArray(doc.features) ? doc.features : [];
      const out: string[] = [];
      if (f.includes("tpm-1.2")) out.push("1.2");
      if (f.includes("tpm-2.0")) out.push("2.0");
      return out;
    } catch {
      return [];
    }
  })();
  return swtpm;
}

export async function domainCapabilitiesXML(
  driver: QemuDriver,
  query: DomainCapabilitiesQuery,
  flags: number,
): Promise<string> {
  checkFlags(flags, 0, "virConnectGetDomainCapabilities");
  const vt = query.virttype;
  if (vt !== undefined && !VIRT_TYPES.has(vt)) {
    throw new VirtError("API_INVALID_ARG", { what: `unknown virttype: ${vt}` });
  }
  if (query.arch !== undefined && !ARCHES.has(query.arch)) {
    throw new VirtError("API_INVALID_ARG", { what: `unknown architecture: ${query.arch}` });
  }
  let emulator = query.emulatorbin;
  if (emulator === undefined && query.arch !== undefined) {
    // As libvirt: the emulator that serves the architecture (the default one when it does).
    const dflt = await driver.caps();
    if (dflt.arch !== query.arch) {
      const other = emulatorForArch(dflt.emulator, query.arch);
      if (!existsSync(other)) {
        throw new VirtError("CONFIG_UNSUPPORTED", {
          what: `unable to find any emulator to serve '${query.arch}' architecture`,
        });
      }
      emulator = other;
    }
  }
  const caps = await driver.caps(emulator);
  if (query.arch !== undefined && query.arch !== caps.arch) {
    throw new VirtError("API_INVALID_ARG", {
      what: `architecture from emulator '${caps.arch}' doesn't match given architecture '${query.arch}'`,
    });
  }
  if (vt !== undefined && vt !== "kvm" && vt !== "qemu") {
    throw new VirtError("API_INVALID_ARG", {
      what: `Emulator '${caps.emulator}' does not support virt type '${vt}'`,
    });
  }
  const kvm = (await driver.kvm(caps.emulator)).usable;
  if (vt === "kvm" && !kvm) {
    throw new VirtError("API_INVALID_ARG", {
      what: `KVM is not supported by '${caps.emulator}' on this host`,
    });
  }
  const virtType: VirtType = vt === "kvm" || vt === "qemu" ? vt : kvm ? "kvm" : "qemu";
  const machine = resolveMachine(caps, virtType, query.machine).name;
  // libvirt's system daemon reads only the host's descriptor directories; a session (or an
  // embedded driver) also the user's own.
  const privileged = driver.root.kind === "system";
  const firmware = supportedFirmware(loadFirmwareDescriptors(firmwareDirs(privileged)), caps.arch, machine);
  const physBits = hostPhysAddrBits();
  const versions = await swtpmVersions();
  const doc = buildDomainCaps(caps, {
    virtType,
    machine,
    firmware,
    vfio: hostHasIommu(),
    ...(versions !== undefined ? { swtpmVersions: versions } : {}),
    ...(physBits !== undefined ? { hostPhysBits: physBits } : {}),
  });
  return formatDomainCaps(doc);
}
