/**
 * systemd's side of socket activation, for tests, without systemd as PID 1.
 *
 * `systemd-socket-activate(1)` binds a socket, waits for the first connection and execs the
 * daemon with it as fd 3 (`LISTEN_FDS`), but it is one-shot: once the daemon exits the socket is
 * gone with it. systemd proper keeps the socket open across the service's runs, so that a
 * connection arriving after an idle exit waits in the backlog and starts the service again. The
 * supervisor below (python3, standard library only) plays that part: it binds the socket once
 * and the notification socket (`NOTIFY_SOCKET`, a datagram socket Node cannot make), then runs
 * `systemd-socket-activate --fdname=NAME -- COMMAND` again and again with the bound socket
 * passed through (`LISTEN_FDS`/`LISTEN_PID` set for the child), so each start is a real
 * `systemd-socket-activate` activation on the same socket. It prints one JSON line per event:
 * `{"event":"spawn","pid":N}`, `{"event":"exit","pid":N,"status":S}`,
 * `{"event":"notify","message":"READY=1\n...","sender":PID}`. SIGTERM stops the running daemon and itself.
 * systemd-socket-activate gives its command only PATH, TERM, HOME and what `-E` names, so
 * `passEnv` lists the variables of `env` the daemon must see (NOTIFY_SOCKET always).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";

const SUPERVISOR = `
import array, json, os, select, signal, socket, struct, sys
sock_path, notify_path, fdname = sys.argv[1], sys.argv[2], sys.argv[3]
passed = ["NOTIFY_SOCKET"] + [n for n in sys.argv[4].split(",") if n]
cmd = sys.argv[5:]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(sock_path)
os.chmod(sock_path, 0o660)
listener.listen(64)
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(notify_path)
notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
stop = False
def on_term(signum, frame):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
def say(**kw):
    sys.stdout.write(json.dumps(kw) + "\\n")
    sys.stdout.flush()
def drain():
    while True:
        r, _, _ = select.select([notify], [], [], 0)
        if not r:
            return
        msg, anc, _, _ = notify.recvmsg(4096, 1024)
        sender = None
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                sender = struct.unpack("iII", data[:12])[0]
            elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                # systemd-notify's barrier: it waits for us to close the fd it sent
                for fd in array.array("i", data[: len(data) - len(data) % 4]):
                    os.close(fd)
        say(event="notify", message=msg.decode("utf-8", "replace"), sender=sender)
say(event="listening")
while not stop:
    pid = os.fork()
    if pid == 0:
        os.dup2(listener.fileno(), 3)
        os.set_inheritable(3, True)
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()), NOTIFY_SOCKET=notify_path)
        setenv = [a for n in passed if n in env for a in ("-E", n)]
        os.execvpe("systemd-socket-activate", ["systemd-socket-activate", "--fdname=" + fdname] + setenv + ["--"] + cmd, env)
    say(event="spawn", pid=pid)
    status = None
    while status is None:
        r, _, _ = select.select([notify], [], [], 0.05)
        if r:
            drain()
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(st)
        elif stop:
            os.kill(pid, signal.SIGTERM)
            _, st = os.waitpid(pid, 0)
            status = os.waitstatus_to_exitcode(st)
    drain()
    say(event="exit", pid=pid, status=status)
`;

export type SupervisorEvent =
  | { event: "listening" }
  | { event: "spawn"; pid: number }
  | { event: "exit"; pid: number; status: number }
  /** `sender`: the pid in the message's credentials, which systemd attributes it by. */
  | { event: "notify"; message: string; sender: number | null };

export interface Supervisor {
  readonly child: ChildProcess;
  readonly events: SupervisorEvent[];
  /** Everything the daemons wrote to stderr (systemd-socket-activate's lines too). */
  stderr(): string;
  /** Waits for an event after index `from` matching `pred`; returns its index. */
  waitFor(pred: (e: SupervisorEvent) => boolean, ms: number, from?: number): Promise<number>;
  /** SIGTERM to the supervisor (which stops a running daemon first); waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts the supervisor: `sock` is bound at once; `command` (argv) runs on each activation with
 * `env`. Needs python3 and systemd-socket-activate (callers check and skip).
 */
export async function startSupervisor(opts: {
  python: string;
  sock: string;
  dir: string;
  fdname: string;
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  passEnv: readonly string[];
}): Promise<Supervisor> {
  const notifyPath = join(opts.dir, "notify");
  const child = spawn(
    opts.python,
    ["-c", SUPERVISOR, opts.sock, notifyPath, opts.fdname, opts.passEnv.join(","), ...opts.command],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: opts.env,
    },
  );
  const events: SupervisorEvent[] = [];
  let err = "";
  let buf = "";
  const waiters = new Set<() => void>();
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== "") events.push(JSON.parse(line) as SupervisorEvent);
    }
    for (const w of waiters) w();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
      for (const w of waiters) w();
    });
  });
  const sup: Supervisor = {
    child,
    events,
    stderr: () => err,
    waitFor(pred, ms, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const i = events.findIndex((e, k) => k >= from && pred(e));
          if (i >= 0) {
            cleanup();
            resolve(i);
            return true;
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`supervisor exited; events ${JSON.stringify(events)}; stderr ${err}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${ms} ms; events ${JSON.stringify(events)}; stderr ${err}`));
        }, ms);
        const w = (): void => {
          check();
        };
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(w);
        };
        waiters.add(w);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
  await sup.waitFor((e) => e.event === "listening", 10_000);
  return sup;
}

/** systemd-socket-activate's path, or undefined. */
export function socketActivateBin(): string | undefined {
  return ["/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate"].find((p) => existsSync(p));
}

/** systemd-socket-activate's path; without it a failure under CI, else a skip (and undefined). */
export function socketActivateOrSkip(t: TestContext): string | undefined {
  const bin = socketActivateBin();
  if (!bin) {
    if (process.env.CI === "true")
      assert.fail("systemd-socket-activate is missing (apt-get install systemd)");
    t.skip("systemd-socket-activate is missing (apt-get install systemd)");
  }
  return bin;
}

/** The pids the supervisor saw spawned (or exit), in order. */
export const pidsOf = (events: SupervisorEvent[], kind: "spawn" | "exit"): number[] =>
  events.flatMap((e) => (e.event === kind ? [e.pid] : []));
