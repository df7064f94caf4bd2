/**
 * The command context of this host: what `buildQemuCommand` needs beside the definition and the
 * capabilities for a domain on this machine (driver paths, the monitor socket, mounted hugetlbfs,
 * the environment QEMU gets), and the emulator used when the XML names none.
 */
import { VirtError } from "../../../util/errors/index.ts";
import { userInfo } from "node:os";
import { join } from "node:path";
import { hostHugetlbfsMounts } from "../../../host/hugetlbfs.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { domainPaths, driverPaths, type DriverRoot } from "../paths.ts";
import type { CommandContext } from "./types.ts";
import { lookupSecretValue } from "../secret-lookup.ts";
import { randomBytes } from "node:crypto";

/** The emulator of a domain whose XML names none. */
export const defaultEmulator = "/usr/bin/qemu-system-x86_64";

/** The context of this host for a domain that is not running (id -1). */
export function hostCommandContext(caps: QemuCaps, name: string, root: DriverRoot): CommandContext {
  const paths = driverPaths(root);
  const dp = domainPaths(paths, -1, name);
  // libvirt treats an embedded driver run by root like the system instance.
  const privileged = root.kind === "system" || (root.kind === "embed" && process.getuid?.() === 0);
  const user = userInfo().username;
  return {
    caps,
    domainId: -1,
    paths: dp,
    monitor: { path: join(dp.domainDir, "monitor.sock") },
    hugetlbfs: hostHugetlbfsMounts(),
    baseEnv: [
      ["LC_ALL", "C"],
      ["PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(privileged ? [] : ([["HOME", process.env.HOME ?? "/"]] as [string, string][])),
      ["USER", user],
      ["LOGNAME", user],
    ],
    privileged,
    localOffsetFromUtc: -new Date().getTimezoneOffset() * 60,
    // a key for this command line only: the driver passes the one it writes to master-key.aes
    masterKey: randomBytes(32),
    secretValue: (ref, usageType) => lookupSecretValue(root, ref, usageType),
    // the command line can express a vDPA NIC (an fd set), but the driver does not open
    // /dev/vhost-vdpa-N for QEMU yet: say so rather than report a missing descriptor
    vdpaNetFd: (alias, device) => {
      throw new VirtError("QEMU_VDPA_UNSUPPORTED", { alias, device: device === "" ? "(none)" : device });
    },
    ...(process.env.PIPEWIRE_RUNTIME_DIR ? { pipewireRuntimeDir: process.env.PIPEWIRE_RUNTIME_DIR } : {}),
  };
}
