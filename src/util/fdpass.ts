/**
 * Passing file descriptors over UNIX sockets (SCM_RIGHTS), which node has no API for.
 *
 * The sending is done by a tiny python3 program (`socket.send_fds`, Python >= 3.9) that inherits
 * the socket and the descriptors to pass (src/util/spawn: `extraFds`) and writes the given bytes
 * on the socket, each segment with the descriptors attached to it. The socket stays node's: the
 * caller must make sure nothing else is written to it while the helper runs (`sendWithFds` waits
 * until node's own queue is flushed before it starts the helper). src/rpc/README.md says why this
 * and not an npm package.
 *
 * Receiving: libuv reads a non-IPC socket with read(2), and Linux discards (closes) descriptors
 * attached to data read that way, gluing the bytes that carry them to the bytes before them, so
 * by the time node sees a message announcing descriptors they are gone. `startFdReader` therefore
 * takes the reading of a socket away from libuv for good (node still writes to it) and gives it
 * to a second python3 helper that reads with recvmsg: the bytes come back on its stdout, each
 * descriptor that is a socket comes back over a node IPC channel (node's own handle passing,
 * which is how node receives descriptors at all), in the order they arrived.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtError } from "./errors/index.ts";
import { runArgv, spawnArgv, type SpawnedChild } from "./spawn.ts";

/** One piece of data to write, with the descriptors (of this process) that travel with it. */
export interface FdSegment {
  readonly data: Uint8Array;
  readonly fds?: readonly number[];
}

/*
 * argv[1..]: segments "HEX" or "HEX@FD,FD" (child fd numbers). fd 3 is the socket. The socket is
 * non-blocking (it is node's, the open file description is shared): EAGAIN waits in select, and
 * the file status flags are put back as they were in any case.
 */
const HELPER = `
import fcntl, select, socket, sys
flags = fcntl.fcntl(3, fcntl.F_GETFL)
s = socket.socket(fileno=3)
try:
    for seg in sys.argv[1:]:
        hexdata, _, fdl = seg.partition("@")
        data = bytes.fromhex(hexdata)
        fds = [int(x) for x in fdl.split(",") if x]
        off = 0
        while off < len(data):
            try:
                if fds:
                    n = socket.send_fds(s, [data[off:]], fds)
                    fds = []
                else:
                    n = s.send(data[off:])
                off += n
            except BlockingIOError:
                select.select([], [s], [], 10)
finally:
    s.detach()
    fcntl.fcntl(3, fcntl.F_SETFL, flags)
`;

const HELPER_TIMEOUT_MS = 30_000;

function helperEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" };
}

let available: Promise<boolean> | undefined;

/** True when the helper can run here (python3 with `socket.send_fds`). Probed once. */
export function fdPassingAvailable(): Promise<boolean> {
  available ??= runArgv(["python3", "-c", "import socket, fcntl; socket.send_fds"], {
    env: helperEnv(),
    timeoutMs: 20_000,
  }).then(
    (r) => r.code === 0,
    () => false,
  );
  return available;
}

/**
 * The descriptor behind a node socket (a pipe/TCP handle), or undefined when it has none (closed,
 * or not backed by a descriptor). `_handle.fd` is libuv's descriptor, exposed by node on Unix.
 */
export function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** Resolves once everything node queued on `socket` was handed to the kernel. */
export function flushed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    socket.write(Buffer.alloc(0), () => {
      resolve();
    });
  });
}

/**
 * Writes `segments` on `socket` in order, each with its descriptors attached (SCM_RIGHTS). Waits
 * first for node's queued writes to reach the kernel; the caller must not write to the socket
 * until this resolves. Rejects with `FD_PASSING_FAILED` when the helper fails.
 */
export async function sendWithFds(socket: Socket, segments: readonly FdSegment[]): Promise<void> {
  await flushed(socket);
  const sockFd = socketFd(socket);
  if (sockFd === undefined) throw new VirtError("FD_PASSING_FAILED", { reason: "the socket is closed" });
  const extra: number[] = [sockFd];
  const childFd = new Map<number, number>();
  const args = segments.map((seg) => {
    const hex = Buffer.from(seg.data).toString("hex");
    const fds = (seg.fds ?? []).map((fd) => {
      let c = childFd.get(fd);
      if (c === undefined) {
        c = 3 + extra.length;
        extra.push(fd);
        childFd.set(fd, c);
      }
      return c;
    });
    return fds.length > 0 ? `${hex}@${fds.join(",")}` : hex;
  });
  const child = await spawnArgv(["python3", "-c", HELPER, ...args], {
    env: helperEnv(),
    stderr: "pipe",
    extraFds: extra,
  });
  const err: Buffer[] = [];
  child.process.stderr?.on("data", (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill("SIGKILL"), HELPER_TIMEOUT_MS);
  try {
    const st = await child.exited;
    if (st.code !== 0) {
      const text = Buffer.concat(err).toString("utf8").trim().split("\n").pop() ?? "";
      throw new VirtError("FD_PASSING_FAILED", {
        reason: text !== "" ? text : `the helper ended with ${st.code ?? st.signal}`,
      });
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A connected pair of UNIX stream sockets made in node (a listener in a private directory, one
 * connection, the listener closed): socketpair(2) without native code. Neither end reads until
 * the caller resumes it, so nothing that arrives is consumed by node behind the caller's back.
 */
export async function socketPair(): Promise<[Socket, Socket]> {
  const dir = await mkdtemp(join(tmpdir(), "tvirt-pair-"));
  const path = join(dir, "s");
  const server = createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const accepted = new Promise<Socket>((resolve) => {
      server.once("connection", resolve);
    });
    const a = connect(path);
    a.pause();
    await new Promise<void>((resolve, reject) => {
      a.once("error", reject);
      a.once("connect", () => {
        a.off("error", reject);
        resolve();
      });
    });
    const b = await accepted;
    return [a, b];
  } finally {
    // Stops listening at once (its callback would wait for the accepted end to close).
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// receiving
// ---------------------------------------------------------------------------------------------

/*
 * fd 3 is the socket (node's, non-blocking: select before each read), NODE_CHANNEL_FD node's IPC
 * channel. Descriptors are sent to node before the bytes that carried them are written out, so
 * a message's descriptors are never behind its bytes. A descriptor that is not a socket cannot be
 * a node handle: it is closed and announced as such.
 */
const READER = `
import array, fcntl, json, os, select, socket, stat
s = socket.socket(fileno=3)
flags = fcntl.fcntl(3, fcntl.F_GETFL)
ipc = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
HANDLE = (json.dumps({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": {"tvirtFd": True}}) + "\\n").encode()
NOTSOCK = (json.dumps({"tvirtFd": False}) + "\\n").encode()
space = socket.CMSG_SPACE(64 * array.array("i").itemsize)
try:
    while True:
        r, _, _ = select.select([s, ipc], [], [])
        if ipc in r:
            if not ipc.recv(4096):
                break
        if s not in r:
            continue
        try:
            data, anc, _, _ = s.recvmsg(262144, space)
        except BlockingIOError:
            continue
        except OSError:
            break
        for level, kind, cdata in anc:
            if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
                continue
            fds = array.array("i")
            fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
            for fd in fds:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    socket.send_fds(ipc, [HANDLE], [fd])
                else:
                    ipc.sendall(NOTSOCK)
                os.close(fd)
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]
finally:
    s.detach()
    fcntl.fcntl(3, fcntl.F_SETFL, flags)
`;

/** Descriptors received and not yet taken by a message that announced them. */
const MAX_QUEUED_FDS = 64;

/** A descriptor received from a peer, owned by a node handle until `close`. */
export interface ReceivedFd {
  readonly fd: number;
  close(): void;
}

/** The reading side of a socket handed to the helper. */
export interface FdReader {
  /** The bytes read from the socket, in order; ends when the peer closed it. */
  readonly data: Readable;
  /**
   * The next descriptor received (in arrival order), or undefined for one that was not a socket
   * (closed by the helper), or rejects with `FD_PASSING_FAILED` after `timeoutMs`.
   */
  takeFd(timeoutMs: number): Promise<ReceivedFd | undefined>;
  /** Ends the helper (the socket itself is the caller's). */
  close(): void;
}

interface NativeHandle {
  fd?: unknown;
  close?: () => void;
}

/**
 * Takes the reading of `socket` away from node (libuv stops reading it and node never starts
 * again) and starts the receiving helper on it. Refuses (undefined) when node has already read
 * bytes the caller has not consumed, since they would come out of order.
 */
export async function startFdReader(socket: Socket): Promise<FdReader | undefined> {
  const handle = (socket as unknown as { _handle?: { readStop?: () => number; reading?: boolean } | null })
    ._handle;
  const fd = socketFd(socket);
  if (fd === undefined || typeof handle?.readStop !== "function" || socket.readableLength > 0)
    return undefined;
  handle.readStop();
  // node's Readable restarts libuv only when it believes the handle is not reading
  handle.reading = true;
  let child: SpawnedChild;
  try {
    child = await spawnArgv(["python3", "-c", READER], {
      env: helperEnv(),
      stdout: "pipe",
      stderr: "ignore",
      extraFds: [fd],
      ipc: true,
    });
  } catch (e) {
    socket.destroy();
    throw e;
  }
  const received: (ReceivedFd | undefined)[] = [];
  const waiting: ((v: ReceivedFd | undefined) => void)[] = [];
  const deliver = (v: ReceivedFd | undefined): void => {
    const w = waiting.shift();
    if (w) w(v);
    else if (received.length < MAX_QUEUED_FDS) received.push(v);
    // a peer sending descriptors no message announces: not kept (they would pile up)
    else v?.close();
  };
  child.process.on("message", (msg: unknown, h: unknown) => {
    const m = msg as { tvirtFd?: unknown } | null;
    if (m?.tvirtFd === true) {
      const nh = h as NativeHandle | undefined;
      const n = nh?.fd;
      if (typeof n === "number" && n >= 0) {
        deliver({ fd: n, close: () => nh?.close?.() });
        return;
      }
      nh?.close?.();
    }
    if (m?.tvirtFd !== undefined) deliver(undefined);
  });
  child.process.channel?.unref();
  const data = child.process.stdout;
  if (!data) throw new VirtError("BUG", { what: "startFdReader: no stdout" });
  return {
    data,
    takeFd(timeoutMs: number): Promise<ReceivedFd | undefined> {
      if (received.length > 0) return Promise.resolve(received.shift());
      return new Promise<ReceivedFd | undefined>((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiting.indexOf(done);
          if (i >= 0) waiting.splice(i, 1);
          reject(new VirtError("FD_PASSING_FAILED", { reason: "the announced descriptor did not arrive" }));
        }, timeoutMs);
        const done = (v: ReceivedFd | undefined): void => {
          clearTimeout(timer);
          resolve(v);
        };
        waiting.push(done);
      });
    },
    close(): void {
      child.kill("SIGTERM");
      for (const r of received.splice(0)) r?.close();
    },
  };
}
