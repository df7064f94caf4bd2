/**
 * Where tvirsh writes: virsh's text on stdout, `error: ...` lines on stderr, and with `--json`
 * one JSON document per command on stdout (errors too: `{"error": {...}}`).
 */
import type { VirtError } from "../api/index.ts";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Collects output in memory (tests, the JSON mode of `run()`). */
export class BufferIo implements Io {
  stdout = "";
  stderr = "";
  out(text: string): void {
    this.stdout += text;
  }
  err(text: string): void {
    this.stderr += text;
  }
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, replacer, 2) + "\n";
}

export function printJson(io: Io, value: unknown): void {
  io.out(toJson(value));
}

/** The JSON form of a failure: the error's own fields plus virsh's context line, if any. */
export function errorJson(err: VirtError, context?: string): { error: Record<string, unknown> } {
  return {
    error: { ...err.toJSON(), ...(context !== undefined && context !== err.message ? { context } : {}) },
  };
}
