/**
 * The per-domain log (`<logDir>/<name>.log`, libvirt's `/var/log/libvirt/qemu/<name>.log`):
 * a header line per start with the environment and argv as a shell would show them, QEMU's own
 * stdout and stderr (QEMU writes to the file directly), and a line per stop with the reason.
 */
import { open, stat } from "node:fs/promises";
import { shellQuote } from "../../../util/shell-quote.ts";

function stamp(): string {
  return new Date().toISOString().replace("T", " ").replace("Z", "+0000");
}

/**
 * Opens the log for appending and writes `header`; returns the descriptor to hand to QEMU and
 * the offset where QEMU's own output starts.
 */
export async function openDomainLog(
  path: string,
  header: string,
): Promise<{ fd: number; close: () => Promise<void>; offset: number }> {
  const fh = await open(path, "a", 0o600);
  try {
    await fh.write(header);
    const offset = (await fh.stat()).size;
    return { fd: fh.fd, close: () => fh.close(), offset };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export function startHeader(info: {
  version: string;
  qemuVersion: string;
  hostname: string;
  env: readonly (readonly [string, string])[];
  argv: readonly string[];
}): string {
  const lines = [
    ...info.env.map(([k, v]) => `${k}=${shellQuote(v)}`),
    shellQuote(info.argv[0] ?? ""),
    ...argLines(info.argv.slice(1)),
  ];
  return `${stamp()}: starting up tvirt version: ${info.version}, qemu version: ${info.qemuVersion}, hostname: ${info.hostname}\n${lines.join(" \\\n")}\n`;
}

/** libvirt's log layout: an option and its value on one line. */
function argLines(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    if (a.startsWith("-") && next !== undefined && !next.startsWith("-")) {
      out.push(`${shellQuote(a)} ${shellQuote(next)}`);
      i++;
    } else out.push(shellQuote(a));
  }
  return out;
}

export async function appendLog(path: string, text: string): Promise<void> {
  try {
    const fh = await open(path, "a", 0o600);
    try {
      await fh.write(text);
    } finally {
      await fh.close();
    }
  } catch {
    // the log is for people; failing to write it never fails an operation
  }
}

export function stopLine(reason: string): string {
  return `${stamp()}: shutting down, reason=${reason}\n`;
}

/**
 * The last meaningful lines QEMU wrote after `offset` (its error messages), without the
 * timestamp prefix `-msg timestamp=on` adds and without our own lines.
 */
export async function logTail(path: string, offset: number, maxLines = 8): Promise<string> {
  try {
    const size = (await stat(path)).size;
    const from = Math.max(offset, size - 16 * 1024);
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(size - from);
      await fh.read(buf, 0, buf.length, from);
      const lines = buf
        .toString("utf8")
        .split("\n")
        .map((l) => l.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z /, "").trimEnd())
        .filter(
          (l) =>
            l !== "" &&
            !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+0000: /.test(l) &&
            !l.startsWith("char device redirected"),
        );
      return lines.slice(-maxLines).join("\n");
    } finally {
      await fh.close();
    }
  } catch {
    return "";
  }
}

/** The line of a tail that says most: QEMU's own error line (`qemu-system-x86_64: ...`). */
export function mainError(tail: string): string {
  const lines = tail.split("\n").filter((l) => l.trim() !== "");
  const q = lines.filter((l) => /^qemu-system-[\w-]+: /.test(l));
  return (q.at(-1) ?? lines.at(-1) ?? "").trim();
}
