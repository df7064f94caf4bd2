/**
 * The network driver's entry points: the driver of a state root (`networkDriverFor`), and the
 * opener the API's registry uses for QEMU URIs (`openLocalNetworkDriver`): `qemu:///embed?root=`
 * gets the networks under that root; `qemu:///system` / `qemu:///session` (in the daemon) the
 * system's / the user's. Only `loadDaemonNetworks` defines libvirt's `default` network and
 * starts autostart networks.
 */
import type { ConnectURI } from "../driver.ts";
import type { NetworkDriverConnection } from "../network-driver.ts";
import { embedRoot } from "../qemu/index.ts";
import { networkDriverFor, type NetworkDriver, type NetworkRoot } from "./driver.ts";

export {
  NetworkDriver,
  networkDriverFor,
  networkPaths,
  DEFAULT_NETWORK_XML,
  DEFAULT_NETWORK_MARKER,
  type NetworkDriverOptions,
  type NetworkPaths,
  type NetworkRoot,
} from "./driver.ts";

/** The roots the daemon serves `qemu:///system` and `qemu:///session` networks from. */
const instanceRoots = new Map<"system" | "session", NetworkRoot>();

export interface DaemonNetworkOptions {
  /**
   * Keep the instance's networks under this directory (`qemu:///embed`'s layout) instead of
   * the system or user paths: tvirtd's `state_root`, so a test's daemon runs on temp dirs.
   */
  stateRoot?: string;
  /** Told about an autostart network that could not start. */
  onAutostartFailure?: (network: string, error: unknown) => void;
}

/**
 * Loads the network driver of the daemon's instance with libvirt's start-up behaviour: on the
 * system instance's first start the `default` network is defined and marked autostart, and the
 * autostart networks start. For tvirtd to call when it starts (before serving connections);
 * connections alone never start networks, so a test that connects to `qemu:///system` creates
 * no bridge, rule or dnsmasq on the host. From then on the instance's URIs open this root
 * (a root daemon serves `/session` from the system instance, as its QEMU driver does).
 */
export function loadDaemonNetworks(
  kind: "system" | "session",
  options: DaemonNetworkOptions = {},
): Promise<NetworkDriver> {
  const root: NetworkRoot =
    options.stateRoot !== undefined ? { kind: "embed", root: options.stateRoot } : { kind };
  instanceRoots.set(kind, root);
  if (kind === "system") instanceRoots.set("session", root);
  return networkDriverFor(root, {
    defineDefaultNetwork: kind === "system",
    autostart: true,
    ...(options.onAutostartFailure ? { onAutostartFailure: options.onAutostartFailure } : {}),
  });
}

/** The local network driver for a `qemu` URI served in this process, or undefined. */
export async function openLocalNetworkDriver(uri: ConnectURI): Promise<NetworkDriverConnection | undefined> {
  let root: NetworkRoot;
  switch (uri.path) {
    case "/embed":
      root = { kind: "embed", root: embedRoot(uri) };
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
  const d = await networkDriverFor(root);
  return d.connection();
}
