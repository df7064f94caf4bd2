/**
 * The QEMU driver's domain management: one driver instance per URI root and process, shared by
 * every connection to that root, opened with the first connection (loading state, reconnecting
 * to running guests, autostarting) and closed with the last (releasing monitors and timers,
 * never stopping guests other than AUTODESTROY ones).
 */
import { driverPaths, type DriverRoot } from "../paths.ts";
import { QemuConnection } from "./connection.ts";
import { QemuDriver, type QemuDriverOptions } from "./driver.ts";
import { autostartDomains } from "./operations.ts";

export { QemuConnection } from "./connection.ts";
export { QemuDriver, type QemuDriverOptions } from "./driver.ts";
export type { QemuDomainObj, QemuRun } from "./domain.ts";

interface Instance {
  readonly driver: Promise<QemuDriver>;
  refs: number;
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
      if (drv.options.autostart) await autostartDomains(drv);
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
