/**
 * QEMU capabilities: what a QEMU binary can do, probed over QMP (cached on disk) or loaded from
 * libvirt's capability files, and the facts the domain XML's defaults need from it.
 */
export type {
  Accel,
  AccelCaps,
  CpuDefinition,
  CpuModelInfo,
  HostCpuInfo,
  HostCpuProperty,
  MachineInfo,
  QemuCaps,
} from "./types.ts";
export { probeQemuCaps, probeCapsWith, checkBinary } from "./probe.ts";
export type { ProbeOptions, ProbeWithOptions, ProbeSession, OpenProbeSession } from "./probe.ts";
export {
  getQemuCaps,
  clearQemuCapsMemory,
  capsCacheFile,
  serializeCaps,
  deserializeCaps,
  CACHE_FORMAT_VERSION,
} from "./cache.ts";
export type { GetQemuCapsOptions } from "./cache.ts";
export { loadCapsFile, parseCapsXml } from "./load.ts";
export type { LoadCapsOptions } from "./load.ts";
export { domainFactsFromCaps } from "./facts.ts";
export type { QemuDomainFacts } from "./facts.ts";
export { QapiSchema } from "./schema.ts";
export { IMPLIED_SINCE_QEMU_6_2, MIN_QEMU_VERSION } from "./flags.ts";
export { startQmpProcess } from "./process.ts";
export type { QmpProcess, QmpProcessOptions } from "./process.ts";
export { hostModelCpu, cpuModelsFor } from "./cpu-host-model.ts";
export type {
  HostModel,
  HostModelFeature,
  HostModelOptions,
  CpuModelEntry,
  VirtType,
} from "./cpu-host-model.ts";
