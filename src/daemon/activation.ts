/**
 * systemd's side of tvirtd: socket activation (`sd_listen_fds_with_names(3)`) and readiness
 * (`sd_notify(3)`).
 *
 * Activation: a service manager that bound our sockets starts us with them open as fd 3, 4, ...
 * and says so in `LISTEN_FDS` (how many), `LISTEN_PID` (for whom: ours, else the variables were
 * meant for a parent and are ignored) and `LISTEN_FDNAMES` (colon-separated names: the socket
 * unit's `FileDescriptorName=`, by default the unit's name). Each name maps to a role, as
 * libvirt's daemons map `libvirtd.socket`, `libvirtd-ro.socket` and `libvirtd-admin.socket`:
 *
 * | name | role |
 * |---|---|
 * | `tvirtd.socket`, `tvirtd-rw`, `libvirtd.socket` | read-write socket |
 * | `tvirtd-ro.socket`, `tvirtd-ro`, `libvirtd-ro.socket` | read-only socket |
 * | (no names given) | fd 3 read-write, fd 4 read-only |
 *
 * Other names (an admin socket: tvirtd has none) are refused with a warning and closed. The
 * variables are removed from our environment once read, so that no child sees them.
 *
 * Readiness: Node has no datagram UNIX sockets, so `READY=1` goes through `systemd-notify(1)`
 * (run by argv, no shell) with `--pid=` our pid: the message then carries our pid as its
 * sender, which systemd needs to attribute it to the service (with `NotifyAccess=all`, since
 * the sending process is a child; root may claim another pid in SCM_CREDENTIALS, others fall
 * back to their own pid, which `NotifyAccess=all` still accepts while the child lives).
 */
import { closeSync, existsSync, readFileSync, readlinkSync } from "node:fs";
import { runArgv } from "../util/spawn.ts";

export type ActivationRole = "rw" | "ro";

export interface ActivatedSocket {
  fd: number;
  name: string;
  role: ActivationRole;
}

export interface Activation {
  sockets: ActivatedSocket[];
  /** Passed descriptors not used (unknown names), already closed; for the log. */
  refused: { fd: number; name: string }[];
}

/** The first fd a service manager passes (`SD_LISTEN_FDS_START`). */
export const LISTEN_FDS_START = 3;

const roles: Record<string, ActivationRole> = {
  "tvirtd.socket": "rw",
  "tvirtd-rw": "rw",
  "libvirtd.socket": "rw",
  "tvirtd-ro.socket": "ro",
  "tvirtd-ro": "ro",
  "libvirtd-ro.socket": "ro",
};

/**
 * Reads (and removes) the socket-activation variables. Undefined when we were not activated:
 * no `LISTEN_FDS`, or `LISTEN_PID` names another process. `close` is injectable for tests.
 */
export function takeListenFds(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
  close: (fd: number) => void = closeSync,
): Activation | undefined {
  const count = env.LISTEN_FDS;
  const forPid = env.LISTEN_PID;
  const names = env.LISTEN_FDNAMES;
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  if (count === undefined || forPid === undefined) return undefined;
  if (!/^\d+$/.test(forPid) || Number(forPid) !== pid) return undefined;
  if (!/^\d+$/.test(count) || Number(count) === 0) return undefined;
  const n = Number(count);
  const nameList = names !== undefined && names !== "" ? names.split(":") : [];
  const out: Activation = { sockets: [], refused: [] };
  for (let i = 0; i < n; i++) {
    const fd = LISTEN_FDS_START + i;
    // systemd names an fd without FileDescriptorName= after its unit; "unknown" when it has none
    const name = nameList[i] ?? "unknown";
    let role = roles[name];
    if (role === undefined && nameList.length === 0) role = i === 0 ? "rw" : i === 1 ? "ro" : undefined;
    if (role === undefined) {
      out.refused.push({ fd, name });
      try {
        close(fd);
      } catch {
        // not open: nothing to release
      }
      continue;
    }
    out.sockets.push({ fd, name, role });
  }
  return out;
}

/**
 * The path a passed UNIX socket is bound to, for the log (Node's `server.address()` is empty
 * for a socket it did not bind): the inode behind `/proc/self/fd/N` looked up in
 * `/proc/net/unix`. Undefined when unknown (not a socket, abstract, /proc unreadable).
 */
export function socketPathOfFd(fd: number, proc = "/proc"): string | undefined {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/self/fd/${fd}`));
    if (!m) return undefined;
    for (const line of readFileSync(`${proc}/net/unix`, "utf8").split("\n").slice(1)) {
      // Num RefCount Protocol Flags Type St Inode Path
      const f = line.trim().split(/\s+/);
      if (f[6] === m[1] && f[7]?.startsWith("/")) return f.slice(7).join(" ");
    }
  } catch {
    // no /proc: the caller names the fd instead
  }
  return undefined;
}

/**
 * Sends a state string to the service manager (`READY=1`, `STATUS=...`, `RELOADING=1`,
 * `STOPPING=1`) when `NOTIFY_SOCKET` is set; resolves to whether it was sent. Never throws: a
 * daemon must not fail because its supervisor cannot be told.
 */
export async function sdNotify(
  state: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): Promise<{ sent: boolean; error?: string }> {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === "") return { sent: false };
  const path = env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  const bin =
    ["/usr/bin/systemd-notify", "/bin/systemd-notify"].find((p) => existsSync(p)) ?? "systemd-notify";
  try {
    const r = await runArgv([bin, `--pid=${pid}`, ...state], {
      env: { NOTIFY_SOCKET: socket, PATH: path },
      timeoutMs: 10_000,
    });
    if (r.code === 0) return { sent: true };
    return { sent: false, error: `systemd-notify exited with ${r.code ?? r.signal}: ${r.stderr.trim()}` };
  } catch (e) {
    return { sent: false, error: e instanceof Error ? e.message : String(e) };
  }
}
