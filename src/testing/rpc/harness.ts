/**
 * Test helpers for the RPC layer: a server on a temporary socket, a raw packet-level client,
 * the captured virsh sessions of `../shared/reference/libvirt-wire-traces.md` (read in place),
 * and the interop tools (stock virsh, python3-libvirt), which are required under CI and skipped
 * with a message elsewhere.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import type { TestContext } from "node:test";
import {
  type ConnectDriver,
  type ConsoleStream,
  type DomainRef,
  type DomainStateInfo,
  type HypervisorDriver,
} from "../../drivers/driver.ts";
import { DomainState } from "../../drivers/enums.ts";
import { VirtError } from "../../util/errors/index.ts";
import { socketPair } from "../../util/fdpass.ts";
import { referenceDir, repoRoot } from "../corpus.ts";
import { encodePacket, PacketDecoder, type Header, type Packet } from "../../rpc/packet.ts";
import {
  MessageStatus,
  MessageType,
  PROTOCOL_VERSION,
  Program,
  QemuMonitorCommandFlags,
} from "../../rpc/protocol.ts";
import type { QemuMonitorCommandDriver } from "../../rpc/qemu-monitor.ts";
import { connectUnix } from "../../rpc/rpc-client.ts";
import { RpcServer, type RpcServerOptions } from "../../rpc/server.ts";

export interface TestServer {
  readonly server: RpcServer;
  readonly dir: string;
  readonly path: string;
  readonly roPath: string;
  /** `test+unix:///default?socket=...` for this server. */
  readonly uri: string;
  readonly roUri: string;
  close(): Promise<void>;
}

/** An RpcServer serving `test:///default` on fresh sockets in a temporary directory. */
export async function startTestServer(opts: Partial<RpcServerOptions> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-rpc-"));
  const path = join(dir, "sock");
  const roPath = join(dir, "sock-ro");
  const server = new RpcServer({ defaultURI: "test:///default", ...opts });
  await server.listen(path);
  await server.listen(roPath, { readonly: true });
  return {
    server,
    dir,
    path,
    roPath,
    uri: `test+unix:///default?socket=${path}`,
    roUri: `test+unix:///default?socket=${roPath}`,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A client that speaks raw packets (for golden replays, faults and fuzzing). */
export class RawClient {
  readonly #decoder = new PacketDecoder();
  readonly #queue: Packet[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;

  private constructor(readonly socket: Socket) {
    socket.on("data", (c: Buffer) => {
      try {
        this.#queue.push(...this.#decoder.push(c));
      } catch {
        socket.destroy();
      }
      this.#waiter?.();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.#closed = true;
      this.#waiter?.();
    });
  }

  static async connect(path: string): Promise<RawClient> {
    return new RawClient(await connectUnix(path));
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(b: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(b);
  }

  /** Sends a CALL (REMOTE program unless `prog` says otherwise). */
  call(proc: number, serial: number, payload: Uint8Array = Buffer.alloc(0), h: Partial<Header> = {}): void {
    this.write(
      encodePacket(
        {
          prog: Program.REMOTE,
          vers: PROTOCOL_VERSION,
          proc,
          type: MessageType.CALL,
          serial,
          status: MessageStatus.OK,
          ...h,
        },
        payload,
      ),
    );
  }

  /** The next packet (skipping keepalive), or undefined when the server closed or `ms` passed. */
  async next(ms = 5000): Promise<Packet | undefined> {
    const until = Date.now() + ms;
    for (;;) {
      const p = this.#queue.shift();
      if (p) {
        if (p.header.prog === Program.KEEPALIVE) continue;
        return p;
      }
      if (this.#closed || Date.now() >= until) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, until - Date.now()));
        this.#waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Resolves when the server has closed the connection (true) or after `ms` (false). */
  async waitClosed(ms = 5000): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.#closed && Date.now() < until) await this.next(Math.max(1, until - Date.now()));
    return this.#closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Captured sessions
// ---------------------------------------------------------------------------------------------

export interface TraceLine {
  readonly dir: "C>S" | "S>C";
  readonly len: number;
  readonly prog: number;
  readonly proc: number;
  readonly name: string;
  readonly type: number;
  readonly serial: number;
  readonly status: number;
  /** Payload bytes shown (all of them unless `truncated`). */
  readonly payload: Buffer;
  readonly truncated: boolean;
}

const typeNames: Record<string, number> = { CALL: 0, REPLY: 1, MESSAGE: 2, STREAM: 3 };

/** Parses the "Full traces" of libvirt-wire-traces.md into sessions by title. */
export function parseTraces(text: string): Map<string, TraceLine[]> {
  const sessions = new Map<string, TraceLine[]>();
  let current: TraceLine[] | undefined;
  for (const line of text.split("\n")) {
    const title = /^### (.*)$/.exec(line);
    if (title) {
      current = [];
      sessions.set(title[1]!.trim(), current);
      continue;
    }
    const m =
      /^(C>S|S>C) len=(\d+)\s+(?:prog=\w+\((0x[0-9a-f]+)\)\s+)?proc=(\d+)\((\w+)\) type=(\w+) serial=(\d+)(?: status=(\w+))? payload=([0-9a-f]*)(\.\.\.)?/.exec(
        line,
      );
    if (!m || !current) continue;
    current.push({
      dir: m[1] as "C>S" | "S>C",
      len: Number(m[2]),
      prog: m[3] !== undefined ? Number(m[3]) : Program.REMOTE,
      proc: Number(m[4]),
      name: m[5]!,
      type: typeNames[m[6]!] ?? -1,
      serial: Number(m[7]),
      status: m[8] === "ERROR" ? MessageStatus.ERROR : MessageStatus.OK,
      payload: Buffer.from(m[9]!, "hex"),
      truncated: m[10] !== undefined,
    });
  }
  return sessions;
}

/** The captured sessions, or undefined (test skipped) when the reference folder is absent. */
export function tracesOrSkip(t: TestContext): Map<string, TraceLine[]> | undefined {
  const file = join(referenceDir(), "libvirt-wire-traces.md");
  if (!existsSync(file)) {
    const why = `captures not found at ${file} (set TVIRT_REFERENCE)`;
    if (process.env.CI === "true") throw new Error(`${why}: they are required under CI`);
    t.skip(why);
    return undefined;
  }
  return parseTraces(readFileSync(file, "utf8"));
}

// ---------------------------------------------------------------------------------------------
// Interop tools
// ---------------------------------------------------------------------------------------------

function toolMissing(t: TestContext, what: string): void {
  const why = `${what} is not installed (Debian: apt-get install libvirt-clients python3-libvirt; scripts/setup does it)`;
  if (process.env.CI === "true") throw new Error(`${why}: it is required under CI`);
  t.skip(why);
}

/** Stock virsh's path, or undefined (skipped) when absent. */
export function virshOrSkip(t: TestContext): string | undefined {
  for (const p of ["/usr/bin/virsh", "/usr/local/bin/virsh"]) if (existsSync(p)) return p;
  toolMissing(t, "virsh");
  return undefined;
}

/**
 * Whether stock virsh 9.x (the release tvirsh's output is compared with) runs here; false means
 * `t` was skipped (a failure under CI).
 */
export function virsh9OrSkip(t: TestContext): boolean {
  const r = spawnSync("virsh", ["-v"], { encoding: "utf8", timeout: 10_000 });
  if (r.status === 0 && r.stdout.startsWith("9.")) return true;
  if (process.env.CI === "true") throw new Error("virsh 9.x is required under CI");
  t.skip("virsh 9.x not installed");
  return false;
}

/** python3 (with its standard library), or undefined (skipped; a failure under CI). */
export function python3OrSkip(t: TestContext): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    if (spawnSync(py, ["-c", "import pty"], { stdio: "ignore", timeout: 10_000 }).status === 0) return py;
  }
  toolMissing(t, "python3");
  return undefined;
}

/** A python3 that can `import libvirt`, or undefined (skipped). */
export function pythonLibvirtOrSkip(t: TestContext): string | undefined {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import libvirt"], { stdio: "ignore", timeout: 10_000 });
    if (r.status === 0) return py;
  }
  toolMissing(t, "python3-libvirt");
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The real daemon, as a child process
// ---------------------------------------------------------------------------------------------

export interface DaemonProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the daemon wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM (or `signal`) and resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export const tvirtdBin = join(repoRoot, "bin", "tvirtd.js");

/**
 * Starts `bin/tvirtd.js ARGS` and waits until every path in `waitFor` answers. `prefix` runs it
 * through a wrapper (`unshare …`): the wrapper must exec node with the arguments it is given.
 */
export async function spawnDaemon(
  args: readonly string[],
  waitFor: readonly string[],
  opts: SpawnOptions = {},
  prefix: readonly string[] = [],
): Promise<DaemonProcess> {
  const argv = [...prefix, process.execPath, tvirtdBin, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    ...opts,
  });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      resolve(code);
    });
  });
  const state = { done: false };
  void exited.then(() => {
    state.done = true;
  });
  const d: DaemonProcess = {
    pid: child.pid ?? -1,
    child,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (!state.done) child.kill(signal);
      return exited;
    },
  };
  const until = Date.now() + 30_000;
  for (const p of waitFor) {
    for (;;) {
      if (state.done) throw new Error(`tvirtd exited before listening on ${p}: ${err}`);
      if (existsSync(p)) {
        try {
          (await connectUnix(p, { timeoutMs: 1000 })).destroy();
          break;
        } catch {
          // not yet
        }
      }
      if (Date.now() > until) {
        await d.stop("SIGKILL");
        throw new Error(`tvirtd did not listen on ${p} within 30 s: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return d;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (argv array, no shell) and collects its output. */
export function run(
  file: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], ...opts });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      // Say where a hung child waits before killing it (kernel wait channel of each thread).
      const pid = child.pid ?? 0;
      let where = "";
      try {
        where = readdirSync(`/proc/${pid}/task`)
          .map((tid) => readFileSync(`/proc/${pid}/task/${tid}/wchan`, "utf8"))
          .join(",");
      } catch {
        // gone
      }
      process.stderr.write(
        `# run: ${file} ${args.join(" ")} (pid ${pid}) timed out, waiting in [${where}]; killed\n`,
      );
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 60_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child that exits before reading its input closes the pipe: EPIPE is not an error here.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

/**
 * Keeps the event loop alive while a test waits for resources to go away (the leak check's own
 * timers are unref'd: with nothing left, the loop would end under the waiting test). Create it
 * before taking the baseline, so it is counted there.
 */
export function holdLoop(): () => void {
  const t = setInterval(() => undefined, 1000);
  return () => {
    clearInterval(t);
  };
}

// ---------------------------------------------------------------------------------------------
// A driver with a console and a monitor (scheme `fake`), for stream and QEMU-program tests
// ---------------------------------------------------------------------------------------------

/** A console that prints "login: ", answers what it is sent in capitals, and ends on "bye". */
export class EchoConsole implements ConsoleStream {
  readonly data = new Set<(d: Uint8Array) => void>();
  readonly end = new Set<() => void>();
  closed = false;
  write(d: Uint8Array): void {
    const text = Buffer.from(d).toString();
    if (text === "bye") {
      for (const l of this.end) l();
      return;
    }
    for (const l of this.data) l(Buffer.from(text.toUpperCase()));
  }
  onData(l: (d: Uint8Array) => void): void {
    this.data.add(l);
  }
  onEnd(l: () => void): void {
    this.end.add(l);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Every console the fake driver opened, in order. */
export const consoles: EchoConsole[] = [];
const fakeDom: DomainRef = { name: "fake", uuid: "11111111-2222-3333-4444-555555555555", id: 7 };

class FakeDriver implements HypervisorDriver, QemuMonitorCommandDriver {
  readonly name = "FAKE";
  connectClose(): Promise<void> {
    return Promise.resolve();
  }
  domainLookupByName(name: string): Promise<DomainRef> {
    if (name !== "fake") return Promise.reject(new VirtError("API_INVALID_ARG", { what: "no such domain" }));
    return Promise.resolve({ ...fakeDom });
  }
  domainLookupByUUID(): Promise<DomainRef> {
    return Promise.resolve({ ...fakeDom });
  }
  domainGetState(): Promise<DomainStateInfo> {
    return Promise.resolve({ state: DomainState.RUNNING, reason: 1 });
  }
  domainOpenConsole(): Promise<ConsoleStream> {
    const c = new EchoConsole();
    consoles.push(c);
    setImmediate(() => {
      for (const l of c.data) l(Buffer.from("login: "));
    });
    return Promise.resolve(c);
  }
  /** A "display" that greets the socket passed in with its index and flags. */
  domainOpenGraphics(_dom: DomainRef, idx: number, fd: number, flags: number): Promise<void> {
    writeSync(fd, `display ${idx} ${flags} on the passed socket\n`);
    return Promise.resolve();
  }
  /** A "display" that greets with its index and flags on a fresh socket pair. */
  async domainOpenGraphicsFd(_dom: DomainRef, idx: number, flags: number): Promise<Socket> {
    const [ours, theirs] = await socketPair();
    // written, then closed: the bytes wait in the other end for whoever gets it
    theirs.end(`display ${idx} ${flags}\n`, () => theirs.destroy());
    return ours;
  }
  async domainQemuMonitorCommand(dom: DomainRef, cmd: string, flags: number): Promise<string> {
    await fakeHooks.monitorCommand?.(cmd);
    return `${dom.name}:${flags & QemuMonitorCommandFlags.HMP ? "hmp" : "qmp"}:${cmd}`;
  }
}

/** What a test wants the fake driver's monitor command to do first (it may hold the call). */
export const fakeHooks: { monitorCommand?: (cmd: string) => Promise<void> | undefined } = {};

export const fakeConnectDriver: ConnectDriver = {
  name: "fake",
  uriSchemes: ["fake"],
  localOnly: true,
  open: () => Promise.resolve(new FakeDriver()),
};

/**
 * A private qemu:///session for a test under `dir`: HOME and the XDG directories in it, the
 * daemon's socket at `<dir>/sock`, and the URI that reaches it.
 */
export function privateSession(dir: string): { sock: string; uri: string; env: NodeJS.ProcessEnv } {
  const sock = join(dir, "sock");
  return {
    sock,
    uri: `qemu+unix:///session?socket=${sock}`,
    env: {
      ...process.env,
      HOME: dir,
      XDG_RUNTIME_DIR: join(dir, "run"),
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_DATA_HOME: join(dir, "data"),
      XDG_CACHE_HOME: join(dir, "cache"),
    },
  };
}
