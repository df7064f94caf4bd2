/**
 * Console streams (`virDomainOpenConsole`): a byte stream to a guest serial port or console,
 * over the pty QEMU allocated (opened non-blocking, read through a libuv tty handle so closing
 * never blocks a thread) or over a unix socket chardev QEMU listens on. One stream per device at
 * a time, like libvirt (FORCE takes it over). A stream belongs to the QEMU run: it ends when
 * the domain stops.
 */
import { constants, openSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { ReadStream } from "node:tty";
import type { ChrDef } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { ConsoleStream } from "../../driver.ts";

type Duplex = ReadStream | Socket;

class DuplexConsole implements ConsoleStream {
  readonly #stream: Duplex;
  readonly #dataListeners = new Set<(d: Uint8Array) => void>();
  readonly #endListeners = new Set<() => void>();
  #ended = false;
  readonly #onClosed: () => void;

  constructor(stream: Duplex, onClosed: () => void) {
    this.#stream = stream;
    this.#onClosed = onClosed;
    stream.on("data", (d: Buffer) => {
      for (const l of [...this.#dataListeners]) l(d);
    });
    stream.on("error", () => {
      this.#finish();
    });
    stream.on("close", () => {
      this.#finish();
    });
    stream.on("end", () => {
      this.#finish();
    });
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#stream.destroy();
    this.#onClosed();
    for (const l of [...this.#endListeners]) l();
  }

  write(data: Uint8Array): void {
    if (this.#ended) return;
    this.#stream.write(data);
  }

  onData(listener: (data: Uint8Array) => void): void {
    this.#dataListeners.add(listener);
  }

  onEnd(listener: () => void): void {
    if (this.#ended) queueMicrotask(listener);
    else this.#endListeners.add(listener);
  }

  close(): Promise<void> {
    this.#finish();
    return Promise.resolve();
  }

  /** For the owner: release without waiting. */
  dispose(): void {
    this.#finish();
  }
}

/**
 * Finds the device `devname` names (`serial0`, `console0`, `parallel0`, `channel0`, an alias, or
 * null for the first console) in the live definition.
 */
export function findConsoleDevice(
  live: { devices: { serials: ChrDef[]; consoles: ChrDef[]; parallels: ChrDef[]; channels: ChrDef[] } },
  devname: string | null,
): { chr: ChrDef; alias: string } {
  const d = live.devices;
  if (devname === null) {
    // The first console; a serial console mirrors serial port 0.
    const c = d.consoles[0];
    const serial = d.serials[0];
    if (c && (c.target.type === undefined || c.target.type === "serial") && serial)
      return { chr: serial, alias: serial.alias ?? "serial0" };
    if (c) return { chr: c, alias: c.alias ?? "console0" };
    if (serial) return { chr: serial, alias: serial.alias ?? "serial0" };
    throw new VirtError("QEMU_CONSOLE_NOT_FOUND", { devname: "console0" });
  }
  const lists: [string, ChrDef[]][] = [
    ["serial", d.serials],
    ["console", d.consoles],
    ["parallel", d.parallels],
    ["channel", d.channels],
  ];
  for (const [kind, list] of lists) {
    for (let i = 0; i < list.length; i++) {
      const chr = list[i]!;
      if (chr.alias === devname || `${kind}${i}` === devname) {
        if (
          kind === "console" &&
          (chr.target.type === undefined || chr.target.type === "serial") &&
          d.serials[i]
        ) {
          return { chr: d.serials[i]!, alias: d.serials[i]!.alias ?? `serial${i}` };
        }
        return { chr, alias: chr.alias ?? `${kind}${i}` };
      }
    }
  }
  throw new VirtError("QEMU_CONSOLE_NOT_FOUND", { devname });
}

/** Opens a stream to a chardev of a running domain. */
export async function openChardevStream(
  chr: ChrDef,
  alias: string,
  onClosed: () => void,
): Promise<ConsoleStream & { dispose(): void }> {
  if (chr.type === "pty") {
    const path = chr.source?.path;
    if (path === undefined) throw new VirtError("QEMU_CONSOLE_NOT_FOUND", { devname: alias });
    const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    const stream = new ReadStream(fd);
    return new DuplexConsole(stream, onClosed);
  }
  if (chr.type === "unix" && chr.source?.path !== undefined && chr.source.mode === "bind") {
    const path = chr.source.path;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ path });
      s.once("connect", () => {
        s.removeListener("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
    return new DuplexConsole(sock, onClosed);
  }
  throw new VirtError("QEMU_CONSOLE_UNSUPPORTED", { alias, type: chr.type });
}
