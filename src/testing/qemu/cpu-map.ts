/**
 * The CPU map of the installed QEMU, for golden tests that load libvirt's capability files
 * (which record the host CPU and the models' usability, not what each model contains): probed
 * once under TCG and kept in the user's cache like any probe, then attached to loaded
 * capabilities so `<cpu mode='host-model'>` resolves as it would with a probed binary.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { getQemuCaps } from "../../drivers/qemu/capabilities/cache.ts";
import type { CpuDefinition, QemuCaps } from "../../drivers/qemu/capabilities/types.ts";

export const INSTALLED_QEMU = "/usr/bin/qemu-system-x86_64";

let installed: readonly CpuDefinition[] | undefined;
let loaded = false;

function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME?.startsWith("/")
    ? process.env.XDG_CACHE_HOME
    : join(homedir(), ".cache");
  return join(base, "tvirt", "qemu-caps");
}

/** Probes (or reads from the cache) the installed QEMU's CPU map; undefined without QEMU. */
export async function loadInstalledCpuMap(): Promise<readonly CpuDefinition[] | undefined> {
  if (loaded) return installed;
  try {
    const caps = await getQemuCaps(INSTALLED_QEMU, { cacheDir: cacheDir(), probe: { accel: "tcg" } });
    installed = caps.cpuDefinitions;
  } catch {
    installed = undefined;
  }
  loaded = true;
  return installed;
}

/** The map `loadInstalledCpuMap` found (undefined before it ran or without QEMU). */
export function installedCpuMap(): readonly CpuDefinition[] | undefined {
  return installed;
}

/** `caps` with the installed QEMU's CPU map when it has none of its own. */
export function withInstalledCpuMap(caps: QemuCaps): QemuCaps {
  if (caps.cpuDefinitions || !installed) return caps;
  return { ...caps, cpuDefinitions: installed };
}
