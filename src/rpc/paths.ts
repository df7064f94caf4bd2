/**
 * Where the daemon's sockets live (shared by tvirtd and the remote driver):
 *
 * | instance | read-write | read-only | compatibility path stock virsh finds |
 * |---|---|---|---|
 * | system (root) | `/run/tvirt/tvirt-sock` (0600, or 0660 with a group) | `/run/tvirt/tvirt-sock-ro` (0666) | `/run/libvirt/libvirt-sock` (+ `-ro`) |
 * | session (user) | `$XDG_RUNTIME_DIR/tvirt/tvirt-sock` (0600) | — | `$XDG_RUNTIME_DIR/libvirt/libvirt-sock` |
 *
 * The compatibility paths are the ones libvirt 9.0's client library (Debian's build, "legacy"
 * mode) connects to for `qemu:///system`, `qemu:///system` read-only and `qemu:///session`
 * when no `virtqemud-sock` exists (`remote_sockets.c`); tvirtd listens there only while no
 * libvirt daemon answers on them.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export interface InstancePaths {
  readonly kind: "system" | "session";
  /** Directory of tvirt's own sockets. */
  readonly dir: string;
  readonly rw: string;
  /** Read-only socket (system instance only). */
  readonly ro: string | undefined;
  /** libvirt's legacy socket paths. */
  readonly compatRw: string;
  readonly compatRo: string | undefined;
  readonly pidFile: string;
}

/** `$XDG_RUNTIME_DIR`, or libvirt's fallback `$XDG_CACHE_HOME` (`~/.cache`). */
export function userRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  const rt = env.XDG_RUNTIME_DIR;
  if (rt !== undefined && rt !== "") return rt;
  const cache = env.XDG_CACHE_HOME;
  return cache !== undefined && cache !== "" ? cache : join(env.HOME ?? homedir(), ".cache");
}

export function systemPaths(runDir = "/run"): InstancePaths {
  const dir = join(runDir, "tvirt");
  return {
    kind: "system",
    dir,
    rw: join(dir, "tvirt-sock"),
    ro: join(dir, "tvirt-sock-ro"),
    compatRw: join(runDir, "libvirt", "libvirt-sock"),
    compatRo: join(runDir, "libvirt", "libvirt-sock-ro"),
    pidFile: join(dir, "tvirtd.pid"),
  };
}

export function sessionPaths(env: NodeJS.ProcessEnv = process.env): InstancePaths {
  const rt = userRuntimeDir(env);
  const dir = join(rt, "tvirt");
  return {
    kind: "session",
    dir,
    rw: join(dir, "tvirt-sock"),
    ro: undefined,
    compatRw: join(rt, "libvirt", "libvirt-sock"),
    compatRo: undefined,
    pidFile: join(dir, "tvirtd.pid"),
  };
}

/** libvirt's own sockets for a driver in "direct" mode (modular daemons), for real libvirt hosts. */
export function libvirtDirectSocket(
  driver: string,
  kind: "system" | "session",
  readonly: boolean,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (kind === "session") return join(userRuntimeDir(env), "libvirt", `virt${driver}d-sock`);
  return join("/run/libvirt", `virt${driver}d-${readonly ? "sock-ro" : "sock"}`);
}
