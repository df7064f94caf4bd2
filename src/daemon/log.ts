/**
 * The daemon's log (libvirt's `virlog.c` outputs, simplified): each output has a priority
 * (1 debug, 2 info, 3 warning, 4 error, as libvirt numbers them) and a destination (`stderr` or
 * `file:PATH`, appended to). `log_outputs` uses libvirt's syntax: `"3:stderr 1:file:/var/log/x.log"`.
 * Lines look like libvirt's: `2025-11-25 18:52:00.123+0000: 4242: warning : message`.
 *
 * Under systemd, stderr is a stream to the journal (systemd sets `JOURNAL_STREAM` to its
 * `device:inode`): the `journald` output then writes each line with a `<N>` syslog priority
 * prefix (sd-daemon(3): 7 debug, 6 info, 4 warning, 3 error) and no timestamp or pid, which the
 * journal records itself; `journalctl -u tvirtd -p warning` filters on it. No native library.
 */
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { RpcLogger } from "../rpc/server.ts";

export const LogPriority = { DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 } as const;
export type LogPriority = (typeof LogPriority)[keyof typeof LogPriority];

const words: Record<LogPriority, string> = { 1: "debug", 2: "info", 3: "warning", 4: "error" };

export type LogDestination = { kind: "stderr" } | { kind: "journal" } | { kind: "file"; path: string };

/** sd-daemon(3)'s prefixes: `<7>` debug, `<6>` info, `<4>` warning, `<3>` error. */
const journalPriority: Record<LogPriority, number> = { 1: 7, 2: 6, 3: 4, 4: 3 };

/**
 * Whether stderr is connected to the journal: `JOURNAL_STREAM` (`DEV:INODE`, set by systemd for
 * a service whose stderr goes to the journal) names the file descriptor 2 has. A child that
 * inherited the variable but had its stderr redirected does not match (sd-daemon(3)).
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 2): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? "");
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/** A log line for the journal: each line of `msg` with the priority prefix. */
export function journalLine(priority: LogPriority, msg: string): string {
  const p = `<${journalPriority[priority]}>`;
  return `${msg
    .split("\n")
    .map((l) => p + l)
    .join("\n")}\n`;
}

export interface LogOutput {
  priority: LogPriority;
  dest: LogDestination;
}

/** Parses libvirt's `log_outputs` string. Throws an Error naming the bad part. */
export function parseLogOutputs(text: string): LogOutput[] {
  const out: LogOutput[] = [];
  for (const part of text
    .trim()
    .split(/\s+/)
    .filter((p) => p !== "")) {
    const m = /^([1-4]):(stderr|file:(.+)|journald|syslog:.*)$/.exec(part);
    if (!m) throw new Error(`bad log output '${part}': expected PRIORITY:stderr or PRIORITY:file:PATH`);
    const priority = Number(m[1]) as LogPriority;
    if (m[2] === "journald") out.push({ priority, dest: { kind: "journal" } });
    else if (m[2] === "stderr" || m[2]!.startsWith("syslog:"))
      out.push({ priority, dest: { kind: "stderr" } });
    else out.push({ priority, dest: { kind: "file", path: m[3]! } });
  }
  return out;
}

function timestamp(d = new Date()): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`;
}

interface Sink {
  priority: LogPriority;
  fd: number;
  own: boolean;
  /** Lines with sd-daemon priority prefixes (stderr is the journal). */
  journal?: boolean;
}

export class Logger implements RpcLogger {
  readonly #sinks: Sink[] = [];

  constructor(outputs: readonly LogOutput[]) {
    this.#sinks.push(...Logger.#open(outputs));
  }

  static #open(outputs: readonly LogOutput[]): Sink[] {
    const sinks: Sink[] = [];
    try {
      for (const o of outputs) {
        if (o.dest.kind === "stderr") sinks.push({ priority: o.priority, fd: 2, own: false });
        else if (o.dest.kind === "journal")
          sinks.push({ priority: o.priority, fd: 2, own: false, journal: true });
        else {
          mkdirSync(dirname(o.dest.path), { recursive: true, mode: 0o755 });
          sinks.push({ priority: o.priority, fd: openSync(o.dest.path, "a", 0o600), own: true });
        }
      }
    } catch (e) {
      for (const s of sinks) if (s.own) closeSync(s.fd);
      throw e;
    }
    return sinks;
  }

  /**
   * Replaces the outputs (a configuration reload): the new ones are opened first, so a bad path
   * leaves the old ones in place (and throws); files are reopened, which also suits logrotate.
   */
  reconfigure(outputs: readonly LogOutput[]): void {
    const next = Logger.#open(outputs);
    const old = this.#sinks.splice(0, this.#sinks.length, ...next);
    for (const s of old) if (s.own) closeSync(s.fd);
  }

  /** The most verbose priority any output takes. */
  get minPriority(): number {
    return Math.min(5, ...this.#sinks.map((s) => s.priority));
  }

  log(priority: LogPriority, msg: string): void {
    if (priority < this.minPriority) return;
    let line: string | undefined;
    let jline: string | undefined;
    for (const s of this.#sinks) {
      if (priority < s.priority) continue;
      try {
        if (s.journal === true) writeSync(s.fd, (jline ??= journalLine(priority, msg)));
        else writeSync(s.fd, (line ??= `${timestamp()}: ${process.pid}: ${words[priority]} : ${msg}\n`));
      } catch {
        // a full disk or a closed stderr must not stop the daemon
      }
    }
  }

  debug(msg: string): void {
    this.log(LogPriority.DEBUG, msg);
  }
  info(msg: string): void {
    this.log(LogPriority.INFO, msg);
  }
  warn(msg: string): void {
    this.log(LogPriority.WARN, msg);
  }
  error(msg: string): void {
    this.log(LogPriority.ERROR, msg);
  }

  close(): void {
    for (const s of this.#sinks.splice(0)) if (s.own) closeSync(s.fd);
  }
}
