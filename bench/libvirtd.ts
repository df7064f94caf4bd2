/**
 * A private libvirtd for the benchmarks' libvirt columns, when Debian's libvirt-daemon is
 * installed (`apt-get install --no-install-recommends libvirt-daemon`; the benches never
 * install it, and CI never starts one).
 *
 * It runs as root in its own network namespace (whatever firewall rules or interfaces its
 * drivers make stay there) and its own mount namespace, where libvirt's state directories are
 * bind mounts of directories under `dir`, on the same file system as tvirt's benchmark roots, so
 * that both pay the same price for their writes. Its sockets are `dir/sock/libvirt-sock{,-ro}`.
 * Stopped by its PID.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LIBVIRTD = "/usr/sbin/libvirtd";

/** libvirt's directories that the private daemon gets fresh copies of. */
const STATE_DIRS = [
  "/etc/libvirt",
  "/var/lib/libvirt",
  "/var/cache/libvirt",
  "/var/log/libvirt",
  "/run/libvirt",
];

/**
 * Mounts each `$dir/state/N` on the Nth of the given paths, writes qemu.conf (guests run as
 * root with no cgroups, security driver or private /dev, their output to files: nothing of the
 * host is changed and no virtlogd is needed), then execs libvirtd with its pid file in `$dir` (not
 * /run/libvirtd.pid, which a host's own libvirtd holds). Paths come in as arguments,
 * never spliced into the script.
 */
const NS_SCRIPT = `set -e
base="$1"; shift
conf="$1"; shift
i=0
for d in "$@"; do mount --bind "$base/state/$i" "$d"; i=$((i+1)); done
printf '%s\\n' 'user = "root"' 'group = "root"' 'security_driver = "none"' \\
  'cgroup_controllers = [ ]' 'stdio_handler = "file"' 'namespaces = [ ]' > /etc/libvirt/qemu.conf
exec ${LIBVIRTD} -f "$conf" -p "$base/libvirtd.pid"`;

export interface PrivateLibvirtd {
  readonly pid: number;
  readonly socket: string;
  stop(): Promise<void>;
}

/** Why no private libvirtd can run here, or undefined when one can. */
export function libvirtdUnavailable(): string | undefined {
  if (!existsSync(LIBVIRTD)) return "libvirtd is not installed (Debian: libvirt-daemon)";
  if (spawnSync("getent", ["passwd", "libvirt-qemu"]).status !== 0)
    return "libvirtd's QEMU driver needs the libvirt-qemu user (useradd --system libvirt-qemu)";
  if (!existsSync("/usr/bin/unshare")) return "unshare (util-linux) is missing";
  return undefined;
}

/**
 * `monitorLog`: a file where libvirtd logs its QEMU monitor traffic (`qemu.qemu_monitor_json`
 * at debug level: every QMP reply), for benches that read QEMU's own figures from it.
 */
export async function startLibvirtd(
  dir: string,
  opts: { monitorLog?: string } = {},
): Promise<PrivateLibvirtd> {
  const sockDir = join(dir, "sock");
  mkdirSync(sockDir, { recursive: true });
  STATE_DIRS.forEach((d, i) => {
    mkdirSync(join(dir, "state", String(i)), { recursive: true });
    // A mount point must exist; libvirt-daemon's package leaves some of these out.
    mkdirSync(d, { recursive: true });
  });
  const conf = join(dir, "libvirtd.conf");
  writeFileSync(
    conf,
    [
      `unix_sock_dir = "${sockDir}"`,
      'unix_sock_rw_perms = "0700"',
      'unix_sock_ro_perms = "0700"',
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      "max_clients = 100",
      ...(opts.monitorLog !== undefined
        ? ['log_filters = "1:qemu.qemu_monitor_json"', `log_outputs = "1:file:${opts.monitorLog}"`]
        : []),
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(
    "unshare",
    [
      "--net",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      NS_SCRIPT,
      "libvirtd-bench",
      dir,
      conf,
      ...STATE_DIRS,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  const socket = join(sockDir, "libvirt-sock");
  const deadline = Date.now() + 60_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`libvirtd did not start: ${err.split("\n").slice(-5).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The socket exists before the drivers are ready; a first call waits for them.
  for (;;) {
    const r = spawnSync("virsh", ["-c", `test+unix:///default?socket=${socket}`, "uri"], {
      encoding: "utf8",
    });
    if (r.status === 0) break;
    if (Date.now() > deadline) throw new Error(`libvirtd does not answer: ${r.stderr}`);
    await new Promise((r2) => setTimeout(r2, 200));
  }
  return {
    pid: child.pid ?? -1,
    socket,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
