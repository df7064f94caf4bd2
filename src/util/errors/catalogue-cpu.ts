import type { Catalogue } from "./types.ts";

/** libvirt's VIR_FROM_CPU: CPU definitions, models and their comparison (cpu.c, cpu_x86.c). */
export const cpuErrors = {
  CPU_ARCH_UNKNOWN: {
    vir: "INVALID_ARG",
    domain: "CPU",
    kind: "user",
    template: "cannot find architecture {arch}",
  },
  CPU_NO_CPUS: {
    vir: "INVALID_ARG",
    domain: "CPU",
    kind: "user",
    template: "nonzero ncpus doesn't match with NULL xmlCPUs",
  },
  CPU_XML_INVALID: {
    vir: "XML_ERROR",
    domain: "CPU",
    kind: "user",
    template: "{reason}",
  },
  CPU_MODEL_MISSING: {
    vir: "OPERATION_FAILED",
    domain: "CPU",
    kind: "user",
    template: "no CPU model specified",
  },
  CPU_MODEL_UNKNOWN: {
    vir: "CONFIG_UNSUPPORTED",
    domain: "CPU",
    kind: "user",
    template: "Unknown CPU model {model}",
  },
  CPU_VENDOR_MISMATCH: {
    vir: "OPERATION_FAILED",
    domain: "CPU",
    kind: "user",
    template: "CPU vendors do not match",
  },
  CPU_NO_BASELINE: {
    vir: "OPERATION_FAILED",
    domain: "CPU",
    kind: "user",
    template: "CPUs are incompatible",
  },
  CPU_INCOMPATIBLE: {
    vir: "CPU_INCOMPATIBLE",
    domain: "CPU",
    kind: "user",
    template: "{reason}",
  },
  CPU_HOST_UNKNOWN: {
    vir: "OPERATION_UNSUPPORTED",
    domain: "CPU",
    kind: "environment",
    template: "cannot get host CPU model for {virttype} on {arch}: QEMU reports no host CPU or no CPU models",
  },
} as const satisfies Catalogue<"CPU">;
