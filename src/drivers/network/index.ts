/**
 * The network driver's entry points: the driver of a state root (`networkDriverFor`), and the
 * opener the API's registry uses for QEMU URIs (`openLocalNetworkDriver`): `qemu:///embed?root=`
 * gets the networks under that root; `qemu:///system` (in the daemon) the system's, with
 * libvirt's `default` network defined on the first start and autostart networks started;
 * `qemu:///session` the user's.
 */
import type { ConnectURI } from "../driver.ts";
import type { NetworkDriverConnection } from "../network-driver.ts";
import { embedRoot } from "../qemu/index.ts";
import { networkDriverFor, type NetworkDriverOptions, type NetworkRoot } from "./driver.ts";

export {
  NetworkDriver,
  networkDriverFor,
  networkPaths,
  DEFAULT_NETWORK_XML,
  type NetworkDriverOptions,
  type NetworkPaths,
  type NetworkRoot,
} from "./driver.ts";

/** Options per kind of root for drivers opened through `openLocalNetworkDriver`. */
export const localNetworkOptions: Record<NetworkRoot["kind"], NetworkDriverOptions> = {
  system: { defineDefaultNetwork: true, autostart: true },
  session: { autostart: true },
  embed: {},
};

/** The local network driver for a `qemu` URI served in this process, or undefined. */
export async function openLocalNetworkDriver(uri: ConnectURI): Promise<NetworkDriverConnection | undefined> {
  let root: NetworkRoot;
  switch (uri.path) {
    case "/embed":
      root = { kind: "embed", root: embedRoot(uri) };
      break;
    case "/system":
      root = { kind: "system" };
      break;
    case "/session":
      root = { kind: "session" };
      break;
    default:
      return undefined;
  }
  const d = await networkDriverFor(root, localNetworkOptions[root.kind]);
  return d.connection();
}
