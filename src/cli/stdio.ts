/**
 * tvirsh's output as the launcher runs it: straight to file descriptors 1 and 2 with
 * fs.writeSync, so that a one-shot command never builds process.stdout and process.stderr (a
 * net.Socket for a pipe, a tty.WriteStream for a terminal, each loading Node's stream and socket
 * modules: some 6 ms of a command's start, measured with stdout a pipe).
 *
 * The bytes and their order are the same as through the streams: the direct writes finish before
 * they return (a pipe or terminal a parent hands over is blocking), and as soon as anything else
 * takes the stream (readline in the interactive shell, the console's data) or a direct write fails
 * (EAGAIN on a descriptor someone made non-blocking, EPIPE), every later write of that descriptor,
 * the rest of the failed one included, goes through the stream, as it always did.
 */
import { writeSync } from "node:fs";
import type { Io } from "./output.ts";

type StdName = "stdout" | "stderr";

function directWriter(fd: 1 | 2, name: StdName): (text: string) => void {
  let direct = false;
  const own = Object.getOwnPropertyDescriptor(process, name);
  if (own?.configurable === true && own.get !== undefined) {
    // The first to take the stream ends the direct path; the getter is Node's own again.
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: own.enumerable ?? true,
      get(): NodeJS.WriteStream {
        direct = false;
        Object.defineProperty(process, name, own);
        return process[name];
      },
    });
    direct = true;
  }
  return (text) => {
    let rest: Buffer | string = text;
    if (direct) {
      const buf = Buffer.from(text);
      let done = 0;
      try {
        while (done < buf.length) done += writeSync(fd, buf, done);
        return;
      } catch {
        direct = false;
        rest = buf.subarray(done);
      }
    }
    process[name].write(rest);
  };
}

let shared: Io | undefined;

/** The process's standard output and error, written directly while nothing else uses them. */
export function directIo(): Io {
  if (shared === undefined) {
    const out = directWriter(1, "stdout");
    const err = directWriter(2, "stderr");
    shared = { out, err };
  }
  return shared;
}
