/**
 * The QEMU driver's domain management: one driver instance per URI root and process, shared by
 * every connection to that root, opened with the first connection (loading state, reconnecting
 * to running guests, autostarting) and closed with the last (releasing monitors and timers,
 * never stopping guests other than AUTODESTROY ones).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { isProcessAlive } from "../../../util/spawn.ts";
import { localDiskPath } from "../command/disk.ts";
import { driverPaths, type DriverRoot } from "../paths.ts";
import { QemuConnection } from "./connection.ts";
import { QemuDriver, type QemuDriverOptions } from "./driver.ts";
import { autostartDomains } from "./operations.ts";
import { parseStatusXML } from "./status-xml.ts";

export { QemuConnection } from "./connection.ts";
export { QemuDriver, type QemuDriverOptions } from "./driver.ts";
export type { QemuDomainObj, QemuRun } from "./domain.ts";
export {
  localVolumeResolver,
  probeImageFormat,
  storageConfigDir,
  type ResolvedVolume,
  type VolumeResolver,
} from "./volumes.ts";

interface Instance {
  readonly driver: Promise<QemuDriver>;
  refs: number;
}

/** Left in the state dir by the first autostart after a boot (libvirt's name). */
export const AUTOSTART_MARKER = "autostarted";

/**
 * Whether this instance should autostart (libvirt's `virDriverShouldAutostart`): true once per
 * boot of the host, when `stateDir` (on /run, a tmpfs) has no marker yet; the marker is created
 * exclusively, so of two instances racing only one autostarts.
 */
export async function claimAutostart(stateDir: string): Promise<boolean> {
  try {
    await writeFile(join(stateDir, AUTOSTART_MARKER), "", { flag: "wx", mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

const instances = new Map<string, Instance>();
/** Instances still closing, by root: a new open waits for the old instance to let go. */
const closing = new Map<string, Promise<void>>();

/**
 * Opens a connection to the driver of `root`, creating the driver instance (and autostarting
 * guests) when this is the first connection to that root in this process.
 */
export async function openQemuConnection(
  root: DriverRoot,
  uri: string,
  options: QemuDriverOptions = {},
): Promise<QemuConnection> {
  const key = driverPaths(root).stateDir;
  await closing.get(key);
  let inst = instances.get(key);
  if (!inst) {
    const driver = (async () => {
      const drv = await QemuDriver.open(root, options);
      if (drv.options.autostart) {
        if (!drv.options.autostartOncePerBoot || (await claimAutostart(drv.paths.stateDir)))
          await autostartDomains(drv);
      }
      return drv;
    })();
    const created: Instance = { driver, refs: 0 };
    inst = created;
    instances.set(key, created);
    driver.catch(() => {
      if (instances.get(key) === created) instances.delete(key);
    });
  }
  const current = inst;
  current.refs++;
  let drv: QemuDriver;
  try {
    drv = await current.driver;
  } catch (e) {
    current.refs--;
    throw e;
  }
  return new QemuConnection(drv, uri, async () => {
    current.refs--;
    if (current.refs > 0) return;
    if (instances.get(key) === current) instances.delete(key);
    const done = drv.close();
    closing.set(key, done);
    try {
      await done;
    } finally {
      if (closing.get(key) === done) closing.delete(key);
    }
  });
}

/** Driver instances open in this process (tests). */
export function openDriverRoots(): string[] {
  return [...instances.keys()];
}

/**
 * For the storage driver of `root` (vol-delete, vol-resize --shrink): which running guests use
 * which host paths as disk sources, `path → [domain names]` (`QemuDriver.domainsUsingPaths`).
 * With the QEMU driver of that root open in this process its live state answers; otherwise the
 * status files of the root do (a guest runs without a connection open), counting only those
 * whose QEMU process is still alive.
 */
export async function domainsUsingPaths(root: DriverRoot): Promise<Map<string, string[]>> {
  const paths = driverPaths(root);
  const inst = instances.get(paths.stateDir);
  if (inst) {
    const drv = await inst.driver.catch(() => undefined);
    if (drv) return drv.domainsUsingPaths();
  }
  const users = new Map<string, string[]>();
  let files: string[];
  try {
    files = (await readdir(paths.stateDir)).filter((f) => f.endsWith(".xml")).sort();
  } catch {
    return users;
  }
  for (const f of files) {
    const file = join(paths.stateDir, f);
    try {
      const status = parseStatusXML(await readFile(file, "utf8"), file);
      if (!isProcessAlive(status.pid, status.starttime)) continue;
      const { def } = parseDomainXML(status.domainXML, { document: file, noDefaults: true, status: true });
      for (const disk of def.devices.disks) {
        const path = localDiskPath(disk);
        if (path === undefined) continue;
        const names = users.get(path) ?? [];
        if (!names.includes(def.name)) names.push(def.name);
        users.set(path, names);
      }
    } catch {
      // a status file being rewritten or not ours: the driver reports it when it loads
    }
  }
  return users;
}
