/**
 * Moving a guest's state between QEMU and a save image with QEMU's seccomp sandbox on
 * (`spawn=deny` kills QEMU on `exec:` migration): the driver listens on a unix socket in the
 * domain's runtime dir and QEMU migrates into it (`migrate unix:SOCK`); the driver writes the
 * stream after the image's header. Restore is the mirror image: QEMU starts with
 * `-incoming defer`, listens with `migrate-incoming unix:SOCK`, and the driver streams the file
 * in. Both sides poll `query-migrate` until QEMU reports the migration completed.
 */
import { createReadStream } from "node:fs";
import { chown, rm, stat, type FileHandle } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { VirtError } from "../../../util/errors/index.ts";
import type { QmpClient } from "../monitor/index.ts";
import type { QemuRun } from "./domain.ts";
import { completeSaveImage, createSaveImage, SAVE_HEADER_SIZE } from "./save-image.ts";

/** Longest path a unix socket address holds (sun_path, with its NUL). */
const MAX_SOCKET_PATH = 107;
/** Migration speed limit while saving: as fast as the disk takes it (libvirt does the same). */
const SAVE_BANDWIDTH = 1024 ** 4;

function socketPath(run: QemuRun, name: string, what: (reason: string) => VirtError): string {
  const path = join(run.domainDir, name);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw what(
      `the socket path '${path}' is longer than ${MAX_SOCKET_PATH} bytes; use a shorter driver root`,
    );
  }
  return path;
}

interface MigrationInfo {
  status?: unknown;
  "error-desc"?: unknown;
}

/** Polls `query-migrate` until `completed`; throws with QEMU's reason on failure. */
async function waitForMigration(
  qmp: QmpClient,
  fail: (reason: string) => VirtError,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    const info = (await qmp.execute("query-migrate")) as MigrationInfo;
    const status = typeof info.status === "string" ? info.status : "none";
    if (status === "completed") return;
    if (status === "failed" || status === "cancelled") {
      const desc = typeof info["error-desc"] === "string" ? info["error-desc"] : `migration ${status}`;
      throw fail(desc);
    }
    if (Date.now() > deadline)
      throw fail(`migration did not complete within ${Math.round(timeoutMs / 1000)} s (status '${status}')`);
    await new Promise<void>((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 100);
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
}

/** Copies everything the socket sends into the file from `start` (with backpressure). */
async function socketToFile(conn: Socket, fh: FileHandle, start: number): Promise<void> {
  let pos = start;
  for await (const chunk of conn as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, pos);
      off += bytesWritten;
      pos += bytesWritten;
    }
  }
}

export interface SaveStreamOptions {
  readonly name: string;
  readonly path: string;
  readonly xml: string;
  readonly wasRunning: boolean;
  readonly timeoutMs?: number;
}

/**
 * Writes the image: header + XML, then QEMU's migration stream through a socket the driver
 * listens on. The guest's CPUs must already be stopped. On failure the image is removed and
 * the migration cancelled; the caller decides about the guest.
 */
export async function saveToImage(run: QemuRun, qmp: QmpClient, opts: SaveStreamOptions): Promise<void> {
  const fail = (reason: string): VirtError =>
    new VirtError("QEMU_SAVE_FAILED", { name: opts.name, path: opts.path, reason });
  const sock = socketPath(run, "save.sock", fail);
  await rm(sock, { force: true });
  const { fh, streamOffset } = await createSaveImage(opts.path, opts.xml, opts.wasRunning);
  const xmlBytes = streamOffset - SAVE_HEADER_SIZE;
  const server = createServer();
  let peer: Socket | undefined;
  let ok = false;
  try {
    await listen(server, sock);
    // QEMU running as another user (system instance) must be able to connect: the socket gets
    // the owner of the runtime dir the driver handed to that user
    const dirOwner = await stat(run.domainDir);
    if (dirOwner.uid !== process.getuid?.()) await chown(sock, dirOwner.uid, dirOwner.gid);
    const received = new Promise<void>((resolve, reject) => {
      server.once("connection", (conn) => {
        peer = conn;
        server.close();
        socketToFile(conn, fh, streamOffset).then(resolve, reject);
      });
    });
    received.catch(() => undefined);
    await qmp.execute("migrate-set-parameters", { "max-bandwidth": SAVE_BANDWIDTH }).catch(() => undefined);
    await qmp.execute("migrate", { uri: `unix:${sock}` });
    try {
      await waitForMigration(qmp, fail, opts.timeoutMs ?? 10 * 60_000);
    } catch (e) {
      await qmp.execute("migrate_cancel").catch(() => undefined);
      throw e;
    }
    await received.catch((e: unknown) => {
      throw fail(`writing the stream failed: ${e instanceof Error ? e.message : String(e)}`);
    });
    await completeSaveImage(fh, xmlBytes, opts.wasRunning);
    ok = true;
  } finally {
    peer?.destroy();
    server.close();
    await fh.close().catch(() => undefined);
    await rm(sock, { force: true }).catch(() => undefined);
    if (!ok) await rm(opts.path, { force: true }).catch(() => undefined);
  }
}

/**
 * The incoming half of restore, run after QEMU (started with `-incoming defer`) opened its
 * monitor: QEMU listens on a socket, the driver streams the image's migration data into it.
 */
export function restoreFromImage(opts: {
  name: string;
  path: string;
  streamOffset: number;
  timeoutMs?: number;
}) {
  return async (run: QemuRun, qmp: QmpClient): Promise<void> => {
    const fail = (reason: string): VirtError =>
      new VirtError("QEMU_RESTORE_FAILED", { name: opts.name, path: opts.path, reason });
    const sock = socketPath(run, "restore.sock", fail);
    await qmp.execute("migrate-incoming", { uri: `unix:${sock}` });
    const conn = await new Promise<Socket>((resolve, reject) => {
      const c = createConnection({ path: sock });
      c.once("connect", () => {
        c.removeListener("error", reject);
        resolve(c);
      });
      c.once("error", reject);
    }).catch((e: unknown) => {
      throw fail(`cannot connect to QEMU's incoming socket: ${e instanceof Error ? e.message : String(e)}`);
    });
    const input = createReadStream(opts.path, { start: opts.streamOffset });
    const sent = pipeline(input, conn);
    sent.catch(() => undefined);
    try {
      await waitForMigration(qmp, fail, opts.timeoutMs ?? 10 * 60_000);
      await sent.catch((e: unknown) => {
        // The migration completed: QEMU may close its end as soon as it has read everything it
        // needs, while the rest of the image (padding) is still being sent.
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EPIPE" && code !== "ECONNRESET" && code !== "ERR_STREAM_PREMATURE_CLOSE") throw e;
      });
    } finally {
      input.destroy();
      conn.destroy();
      await rm(sock, { force: true }).catch(() => undefined);
    }
  };
}
