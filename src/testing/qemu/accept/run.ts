/**
 * Runs a short host command from an argv array (never a shell) and collects its output.
 */
import { spawn } from "node:child_process";

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const why = result.signal !== null ? `signal ${result.signal}` : `exit status ${String(result.code)}`;
    super(`${argv.join(" ")}: ${why}${result.stderr.trim() !== "" ? `: ${result.stderr.trim()}` : ""}`);
  }
}

/** Runs `argv`, resolves with its output; with `check` (default) a non-zero exit throws CommandError. */
export function run(
  argv: readonly string[],
  opts: { check?: boolean; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new Error("run: empty argv"));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) child.kill("SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const r: RunResult = { code, signal, stdout, stderr };
      if ((opts.check ?? true) && code !== 0) reject(new CommandError(argv, r));
      else resolve(r);
    });
    // A program that exits without reading its input must not turn into an EPIPE exception.
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}
