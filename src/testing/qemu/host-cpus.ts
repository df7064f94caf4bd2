/**
 * The host CPUs libvirt's harness can fake (tests/testutilshostcpus.h, chosen per case with
 * `ARG_CAPS_HOST_CPU_MODEL`), as the host-model CPU libvirt derives from them for a guest.
 */
import type { HostModelCpu } from "../../drivers/qemu/command/types.ts";

/**
 * `QEMU_CPU_DEF_HASWELL`: an Intel Haswell host (2 cores, 2 threads). libvirt copies it into
 * the capabilities' host CPU model without the features QEMU cannot set (`cmt` and the
 * OS-controlled `osxsave`), and the migratable variant a guest gets also drops `invtsc`.
 */
const HASWELL: HostModelCpu = {
  model: "Haswell",
  features: [
    "vme",
    "ds",
    "acpi",
    "ss",
    "ht",
    "tm",
    "pbe",
    "dtes64",
    "monitor",
    "ds_cpl",
    "vmx",
    "smx",
    "est",
    "tm2",
    "xtpr",
    "pdcm",
    "f16c",
    "rdrand",
    "pdpe1gb",
    "abm",
    "lahf_lm",
  ].map((name) => ({ name, policy: "require" as const })),
};

/** The faked host CPU of a declaration's `ARG_CAPS_HOST_CPU_MODEL` value, if we have it. */
export function harnessHostCpu(name: string | undefined): HostModelCpu | undefined {
  return name === "QEMU_CPU_DEF_HASWELL" ? HASWELL : undefined;
}
