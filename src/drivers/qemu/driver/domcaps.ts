/**
 * `virConnectGetDomainCapabilities` for the QEMU driver: picks the emulator, virt type and
 * machine type the query names (libvirt's defaults and messages when it names none or a wrong
 * one), gathers the host facts the document reports (firmware descriptors, VFIO, swtpm, the
 * CPU's physical address bits) and builds it from the emulator's probed capabilities.
 */
import { existsSync } from "node:fs";
import { formatDomainCaps } from "../../../conf/domcaps/index.ts";
import { hostHasIommu, hostPhysAddrBits } from "../../../host/facts.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import type { DomainCapabilitiesQuery } from "../../driver.ts";
import { buildDomainCaps, resolveMachine, type VirtType } from "../capabilities/domcaps.ts";
import { firmwareDirs, loadFirmwareDescriptors, supportedFirmware } from "../firmware.ts";
import type { QemuDriver } from "./driver.ts";

const ARCHES = new Set(["x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x", "riscv64"]);

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
  if (vt !== undefined && vt !== "kvm" && vt !== "qemu") {
    throw new VirtError("API_INVALID_ARG", { what: `unknown virttype: ${vt}` });
  }
  if (query.arch !== undefined && !ARCHES.has(query.arch)) {
    throw new VirtError("API_INVALID_ARG", { what: `unknown architecture: ${query.arch}` });
  }
  const caps = await driver.caps(query.emulatorbin);
  if (query.arch !== undefined && query.arch !== caps.arch) {
    throw new VirtError("API_INVALID_ARG", {
      what: `architecture from emulator '${caps.arch}' doesn't match given architecture '${query.arch}'`,
    });
  }
  const kvm = (await driver.kvm(caps.emulator)).usable;
  if (vt === "kvm" && !kvm) {
    throw new VirtError("API_INVALID_ARG", {
      what: `KVM is not supported by '${caps.emulator}' on this host`,
    });
  }
  const virtType: VirtType = vt ?? (kvm ? "kvm" : "qemu");
  const machine = resolveMachine(caps, virtType, query.machine).name;
  const privileged = process.getuid?.() === 0;
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
