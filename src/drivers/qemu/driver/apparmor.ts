/**
 * AppArmor confinement of the QEMU driver's guests (libvirt's security_apparmor.c, with the
 * profile generation of `src/security/`): at start the guest's profile is written (and loaded
 * where AppArmor is enabled, QEMU then runs under it through `aa-exec`), a live attach or
 * detach rewrites its files list, stop removes it. Where AppArmor is unavailable (a kernel
 * without it, as here) profiles are still generated and kept under the root, never loaded, and
 * the driver reports security model "none", as libvirt does without a security driver.
 *
 * The session driver has no AppArmor model (loading profiles needs root), as in libvirt.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DomainDef } from "../../../conf/domain/index.ts";
import { hostHugetlbfsMounts } from "../../../host/hugetlbfs.ts";
import { profileName, type GuestFiles } from "../../../security/apparmor.ts";
import {
  AppArmorProfiles,
  appArmorState,
  diskBackingChains,
  pciIommuGroups,
  profilesDir,
  type AppArmorState,
  type GuestProfile,
} from "../../../security/apparmor-host.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import type { SecurityLabel, SecurityModel } from "../../driver.ts";
import { domainPaths } from "../paths.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";

const managers = new WeakMap<QemuDriver, AppArmorProfiles | null>();
const filesOfRun = new WeakMap<QemuRun, GuestFiles>();

/** The driver's profile manager; null for the session driver. */
export function driverAppArmor(drv: QemuDriver): AppArmorProfiles | null {
  let m = managers.get(drv);
  if (m === undefined) {
    m =
      drv.root.kind === "session"
        ? null
        : new AppArmorProfiles({ dir: profilesDir(drv.root), state: loadableState() });
    managers.set(drv, m);
  }
  return m;
}

/** AppArmor's state for this process: enabled in the kernel and we may load profiles (root). */
function loadableState(): AppArmorState {
  const st = appArmorState();
  const uid = process.getuid?.() ?? 0;
  if (st.enabled && uid !== 0)
    return {
      enabled: false,
      reason: `loading AppArmor profiles needs root (this process runs as uid ${String(uid)})`,
    };
  return st;
}

/** The files of a run the definition does not name: log, runtime folder, pid file, memory folders. */
export function runFiles(
  drv: QemuDriver,
  def: DomainDef,
  id: number,
  run: { pidfile: string; hugepageDirs?: readonly string[] },
): GuestFiles {
  const dp = domainPaths(drv.paths, id, def.name);
  const hugepageDirs =
    run.hugepageDirs ??
    hostHugetlbfsMounts()
      .map((m) => join(m.path, dp.hugepageSubdir))
      .filter((d) => existsSync(d));
  return {
    logFile: drv.logPath(def.name),
    domainDir: dp.domainDir,
    ...(run.pidfile !== "" ? { pidFile: run.pidfile } : {}),
    channelDir: dp.channelDir,
    memoryDir: dp.memoryDir,
    hugepageDirs,
  };
}

/**
 * Writes (and loads where enabled) the profile of a guest about to start. Refuses, before
 * QEMU runs, a definition with a path AppArmor cannot hold. Undefined for the session driver.
 */
export async function writeStartProfile(
  drv: QemuDriver,
  live: DomainDef,
  files: GuestFiles,
): Promise<GuestProfile | undefined> {
  const m = driverAppArmor(drv);
  if (!m) return undefined;
  try {
    return await m.write(live, withHostFacts(drv, live, files));
  } catch (e) {
    // Without AppArmor there is no security driver (model "none"): like libvirt then, a name
    // or path a profile cannot hold does not stop the guest; it just gets no profile.
    if (!m.state.enabled && isVirtError(e) && e.code.startsWith("APPARMOR_")) return undefined;
    throw e;
  }
}

/**
 * The run's files plus what the host says about the definition's devices: backing chains of its
 * qcow2 disks (read from their headers) and IOMMU groups of its PCI host devices.
 */
function withHostFacts(drv: QemuDriver, def: DomainDef, files: GuestFiles): GuestFiles {
  const chains = diskBackingChains(def);
  const groups = pciIommuGroups(def, drv.options.sysfsRoot);
  return {
    ...files,
    ...(chains.size > 0 ? { backingChains: chains } : {}),
    ...(groups.size > 0 ? { vfioGroups: groups } : {}),
  };
}

/** Remembers the run's files for later rewrites (hotplug). */
export function rememberRunFiles(run: QemuRun, files: GuestFiles): void {
  filesOfRun.set(run, files);
}

/**
 * Rewrites the files list of a running guest for `def` (the definition after an attach or
 * detach): a new disk gets its rule before QEMU opens it.
 */
export async function refreshProfile(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  def: DomainDef,
): Promise<void> {
  const m = driverAppArmor(drv);
  if (!m) return;
  let files = filesOfRun.get(run);
  if (!files) {
    // a run adopted from an earlier driver instance
    files = runFiles(drv, def, obj.id, { pidfile: run.pidfile });
    filesOfRun.set(run, files);
  }
  try {
    await m.write(def, withHostFacts(drv, def, files));
  } catch (e) {
    if (!m.state.enabled && isVirtError(e) && e.code.startsWith("APPARMOR_")) return;
    throw e;
  }
}

/** Removes the guest's profile (unloads it where enabled). */
export async function removeProfile(drv: QemuDriver, def: Pick<DomainDef, "name" | "uuid">): Promise<void> {
  const m = driverAppArmor(drv);
  if (!m) return;
  await m.remove(def);
}

/** The argv prefix that starts QEMU under its profile (only where AppArmor is enabled and loaded). */
export function confineArgv(profile: GuestProfile | undefined, argv: readonly string[]): string[] {
  if (!profile?.loaded) return [...argv];
  const aaExec =
    ["/usr/bin/aa-exec", "/usr/sbin/aa-exec", "/sbin/aa-exec"].find((p) => existsSync(p)) ?? "aa-exec";
  return [aaExec, "-p", profile.name, "--", ...argv];
}

/** `virNodeGetSecurityModel`: "apparmor" where AppArmor is enabled, else "none" as libvirt. */
export function securityModel(drv: QemuDriver): SecurityModel {
  const m = driverAppArmor(drv);
  return m?.state.enabled === true ? { model: "apparmor", doi: "0" } : { model: "none", doi: "0" };
}

/** `virDomainGetSecurityLabel`: the profile of a running confined guest, else no label. */
export function securityLabel(drv: QemuDriver, obj: QemuDomainObj): SecurityLabel {
  const m = driverAppArmor(drv);
  if (m?.state.enabled !== true || !obj.isActive()) return { label: "", enforcing: false };
  return { label: profileName(obj.def), enforcing: true };
}
