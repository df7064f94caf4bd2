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
 * Receiving is not offered: libuv reads a non-IPC socket with read(2), and Linux discards (closes)
 * descriptors attached to data read that way, gluing the bytes that carry them to the bytes
 * before them, so by the time node sees a message announcing descriptors they are gone.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtError } from "./errors/index.ts";
import { runArgv, spawnArgv } from "./spawn.ts";

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
