/**
 * The QEMU driver's connection entry point (libvirt's `qemuConnectDriver`) for URIs with the
 * scheme `qemu`. `qemu:///embed?root=DIR` runs the driver inside the calling process with all
 * its state under DIR (no daemon). `qemu:///system` and `qemu:///session` are served by the
 * tvirtd daemon, which hosts the same driver (`openQemuConnection` with a system or session
 * root).
 */
import { isAbsolute, normalize } from "node:path";
import { type ConnectDriver, type ConnectURI, type HypervisorDriver } from "../driver.ts";
import { VirtError } from "../../util/errors/index.ts";
import { openQemuConnection, type QemuDriverOptions } from "./driver/index.ts";

export {
  domainsUsingPaths,
  openQemuConnection,
  QemuConnection,
  QemuDriver,
  type QemuDriverOptions,
  type VolumeResolver,
} from "./driver/index.ts";
export { DEFAULT_QEMU_USER } from "./driver/dac.ts";

/** The embed root named by a `qemu:///embed?root=DIR` URI (absolute, normalised). */
export function embedRoot(uri: ConnectURI): string {
  const root = uri.params.find((p) => p.name === "root")?.value;
  if (root === undefined || root === "") throw new VirtError("QEMU_EMBED_ROOT_MISSING");
  if (!isAbsolute(root)) throw new VirtError("QEMU_EMBED_ROOT_RELATIVE", { root });
  const norm = normalize(root);
  return norm.length > 1 ? norm.replace(/\/+$/, "") : norm;
}

/** A `qemu` connect driver; `options` apply to the driver instances it creates. */
export function createQemuConnectDriver(options: QemuDriverOptions = {}): ConnectDriver {
  return {
    name: "QEMU",
    uriSchemes: ["qemu"],
    localOnly: true,
    async open(uri: ConnectURI): Promise<HypervisorDriver> {
      switch (uri.path) {
        case "/embed": {
          const root = embedRoot(uri);
          return openQemuConnection({ kind: "embed", root }, `qemu:///embed?root=${root}`, options);
        }
        case "/system":
        case "/session":
          throw new VirtError("QEMU_DAEMON_REQUIRED", { uri: uri.text });
        default:
          throw new VirtError("QEMU_URI_PATH", { path: uri.path });
      }
    },
  };
}

/** The connect driver to register for `qemu` URIs. */
export const qemuConnectDriver: ConnectDriver = createQemuConnectDriver();
