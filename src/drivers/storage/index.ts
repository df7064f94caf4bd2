/**
 * The storage driver's entry points: the driver of a state root (`storageDriverFor`), and the
 * opener the API's registry uses for QEMU URIs (`openLocalStorageDriver`): `qemu:///embed?root=`
 * gets the pools under that root (its `default` pool, `ROOT/images`, defined on the root's first
 * start and autostarted); `qemu:///system` / `qemu:///session` the system's / the user's, whose
 * `default` pool and autostart pools `loadDaemonStoragePools` sets up when tvirtd starts.
 */
import type { ConnectURI } from "../driver.ts";
import type { StorageDriverConnection } from "../storage-driver.ts";
import { domainsUsingPaths, embedRoot } from "../qemu/index.ts";
import { storageDriverFor, type StorageDriver, type StorageRoot } from "./driver.ts";

export {
  StorageDriver,
  storageDriverFor,
  storagePaths,
  defaultPoolXML,
  type StorageDriverOptions,
  type StoragePaths,
  type StorageRoot,
  type VolumeUsers,
} from "./driver.ts";

/**
 * Tells the driver which running guests use a volume: the QEMU driver of the same root answers
 * (its open driver, or the root's status files), so a volume in use cannot be deleted, wiped
 * or shrunk.
 */
function withVolumeUsers(d: StorageDriver, root: StorageRoot): StorageDriver {
  d.setVolumeUsers(async (paths) => {
    const users = await domainsUsingPaths(root);
    return [...new Set(paths.flatMap((p) => users.get(p) ?? []))].sort();
  });
  return d;
}

/** The roots the daemon serves `qemu:///system` and `qemu:///session` pools from. */
const instanceRoots = new Map<"system" | "session", StorageRoot>();

/**
 * Loads the storage driver of the daemon's instance with libvirt's start-up behaviour: on the
 * instance's first start the `default` dir pool is defined, built and marked autostart, and the
 * autostart pools start. For tvirtd to call when it starts, before serving connections. With
 * `stateRoot` (tvirtd's `state_root`) the pools live under that directory, embed's layout; from
 * then on the instance's URIs open this root.
 */
export async function loadDaemonStoragePools(
  kind: "system" | "session",
  options: { stateRoot?: string } = {},
): Promise<StorageDriver> {
  const root: StorageRoot =
    options.stateRoot !== undefined ? { kind: "embed", root: options.stateRoot } : { kind };
  instanceRoots.set(kind, root);
  if (kind === "system") instanceRoots.set("session", root);
  return withVolumeUsers(await storageDriverFor(root, { defineDefaultPool: true, autostart: true }), root);
}

/** The local storage driver for a `qemu` URI served in this process, or undefined. */
export async function openLocalStorageDriver(uri: ConnectURI): Promise<StorageDriverConnection | undefined> {
  let root: StorageRoot;
  let embed = false;
  switch (uri.path) {
    case "/embed":
      root = { kind: "embed", root: embedRoot(uri) };
      embed = true;
      break;
    case "/system":
      root = instanceRoots.get("system") ?? { kind: "system" };
      break;
    case "/session":
      root = instanceRoots.get("session") ?? { kind: "session" };
      break;
    default:
      return undefined;
  }
  // An embed root has no daemon: the process that opens it is the one that sets it up.
  const d = await storageDriverFor(root, embed ? { defineDefaultPool: true, autostart: true } : {});
  return withVolumeUsers(d, root).connection();
}
