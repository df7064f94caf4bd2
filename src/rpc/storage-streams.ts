/**
 * The remote driver's volume streams (virStorageVolUpload / virStorageVolDownload over the
 * wire): STREAM packets on the serial of STORAGE_VOL_UPLOAD / STORAGE_VOL_DOWNLOAD, and
 * STREAM_HOLE packets (`virNetStreamHole`) when the stream is sparse. Both ends hold back
 * instead of buffering a whole volume: the upload waits for the socket to drain after each
 * packet, the download stops reading the socket while its consumer lags behind.
 */
import { VirtError } from "../util/errors/index.ts";
import type { StreamHole, VolumeDownloadStream, VolumeUploadSink } from "../drivers/storage-driver.ts";
import type { ProcDef } from "./remote-protocol.ts";
import type { RpcClient, StreamSink } from "./rpc-client.ts";

/** Bytes a download buffers for its consumer before the socket stops being read. */
const DOWNLOAD_HIGH_WATER = 8 * 1024 * 1024;
/** …and reading resumes below this. */
const DOWNLOAD_LOW_WATER = 2 * 1024 * 1024;

/**
 * A volume download: data chunks and holes in the daemon's order until its end of data (an
 * empty CONTINUE), then our finish and the daemon's confirmation (virStreamSparseRecvAll +
 * virStreamFinish). `close` before the end aborts.
 */
export class RemoteVolumeDownload implements VolumeDownloadStream {
  readonly #items: (Uint8Array | StreamHole)[] = [];
  #buffered = 0;
  #paused = false;
  #ended = false;
  #error: VirtError | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #confirm: (() => void) | undefined;

  constructor(
    private readonly rpc: RpcClient,
    private readonly def: ProcDef<unknown, unknown>,
    readonly serial: number,
  ) {}

  readonly sink: StreamSink = {
    data: (d: Buffer): void => {
      if (d.length === 0) this.#ended = true;
      else {
        this.#items.push(d);
        this.#buffered += d.length;
        if (!this.#paused && this.#buffered > DOWNLOAD_HIGH_WATER) {
          this.#paused = true;
          this.rpc.pauseReading(true);
        }
      }
      this.#notify();
    },
    hole: (length: bigint): void => {
      this.#items.push({ hole: Number(length) });
      this.#notify();
    },
    end: (): void => {
      if (this.#confirm) this.#confirm();
      else this.#ended = true;
      this.#notify();
    },
    error: (e: VirtError): void => {
      if (this.#confirm) this.#confirm();
      else this.#error = e;
      this.#notify();
    },
  };

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.rpc.pauseReading(false);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array | StreamHole> {
    try {
      for (;;) {
        const item = this.#items.shift();
        if (item) {
          if (item instanceof Uint8Array) {
            this.#buffered -= item.length;
            if (this.#buffered < DOWNLOAD_LOW_WATER) this.#resume();
          }
          yield item;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#ended || this.#closed) break;
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.#resume();
    }
    await this.#end(false);
  }

  close(): Promise<void> {
    this.#resume();
    return this.#end(!this.#ended);
  }

  /** Sends finish (or abort) once and waits for the daemon's confirmation. */
  async #end(abort: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#notify();
    if (this.rpc.closed || this.#error) return;
    const confirmed = new Promise<void>((resolve) => {
      this.#confirm = resolve;
    });
    // after the daemon's end of data the serial may be unbound: bind again for the confirmation
    this.rpc.streamBind(this.serial, this.sink);
    this.rpc.streamEnd(this.def, this.serial, abort);
    const timer = setTimeout(() => this.#confirm?.(), 5000);
    timer.unref();
    await confirmed;
    clearTimeout(timer);
    this.rpc.streamRemove(this.serial);
  }
}

/**
 * A volume upload: `write` sends data (split in libvirt-sized packets) or a hole and waits for
 * the socket to drain; `finish` sends our finish and waits for the daemon's confirmation, which
 * comes after the daemon has written and flushed everything (its failure rejects `finish`);
 * `abort` sends an abort. An error the daemon sends meanwhile fails the next call.
 */
export class RemoteVolumeUpload implements VolumeUploadSink {
  #error: VirtError | undefined;
  #done = false;
  #settle: { resolve: () => void; reject: (e: VirtError) => void } | undefined;

  constructor(
    private readonly rpc: RpcClient,
    private readonly def: ProcDef<unknown, unknown>,
    readonly serial: number,
  ) {}

  readonly sink: StreamSink = {
    data: (): void => undefined, // an upload: the daemon sends no data
    end: (): void => {
      this.#done = true;
      this.#settle?.resolve();
    },
    error: (e: VirtError): void => {
      this.#done = true;
      this.#error = e;
      this.#settle?.reject(e);
    },
  };

  #check(): void {
    if (this.#error) throw this.#error;
    if (this.#done) throw new VirtError("RPC_STREAM_ABORTED", { reason: "stream already finished" });
    if (this.rpc.closed) throw new VirtError("RPC_SOCKET_CLOSED");
  }

  async write(chunk: Uint8Array | StreamHole): Promise<void> {
    this.#check();
    if (chunk instanceof Uint8Array) {
      if (chunk.length === 0) return;
      this.rpc.streamSend(this.def, this.serial, chunk);
    } else {
      if (!Number.isSafeInteger(chunk.hole) || chunk.hole < 0)
        throw new VirtError("API_INVALID_ARG", { what: `invalid stream hole length ${chunk.hole}` });
      this.rpc.streamSendHole(this.def, this.serial, BigInt(chunk.hole));
    }
    await this.rpc.drain();
    if (this.#error) throw this.#error;
  }

  finish(): Promise<void> {
    return this.#end(false);
  }

  async abort(): Promise<void> {
    try {
      await this.#end(true);
    } catch {
      // the stream is gone either way
    }
  }

  #end(abort: boolean): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done || this.rpc.closed) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.rpc.streamEnd(this.def, this.serial, abort);
    return p;
  }
}
