/**
 * Runs the external programs of the guest build (`apt-get`, `apt-cache`, `dpkg-deb`) from argv
 * arrays, never through a shell, and turns a failure into a {@link GuestBuildError} that names
 * the command and carries the tail of its stderr.
 */
import { spawn } from "node:child_process";

/** Why the tiny guest could not be built. `apt-unreachable` lets tests skip off-line. */
export type GuestBuildFailure =
  "apt-unreachable" | "apt-no-package" | "command-failed" | "layout" | "lock-timeout" | "qemu-missing";

export class GuestBuildError extends Error {
  override readonly name = "GuestBuildError";
  readonly reason: GuestBuildFailure;
  /** The command that failed, as argv. */
  readonly command: readonly string[] | undefined;
  /** The last lines of its stderr (and stdout when stderr was empty). */
  readonly outputTail: string | undefined;

  constructor(
    reason: GuestBuildFailure,
    message: string,
    extra: { command?: readonly string[]; outputTail?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.reason = reason;
    this.command = extra.command;
    this.outputTail = extra.outputTail;
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Kill the command (SIGKILL) after this long. Default 5 minutes. */
  timeoutMs?: number;
}

/** The last `maxLines` non-empty lines of `text`, at most `maxChars` characters. */
export function tail(text: string, maxLines = 15, maxChars = 2000): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const t = lines.slice(-maxLines).join("\n");
  return t.length > maxChars ? `…${t.slice(-maxChars)}` : t;
}

/** Shows argv the way a user would type it (for messages only; nothing is ever run this way). */
export function showCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}

/**
 * Runs `argv[0]` with arguments `argv[1..]`, stdin closed, and resolves with its output when it
 * exits 0. Otherwise rejects with a `command-failed` {@link GuestBuildError}.
 */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError("run: empty argv");
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      // Parseable, untranslated output.
      env: { ...process.env, LC_ALL: "C", LANG: "C", DEBIAN_FRONTEND: "noninteractive" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const what = e.code === "ENOENT" ? `${file}: command not found` : `${file}: ${e.message}`;
      reject(
        new GuestBuildError("command-failed", `${showCommand(argv)} could not be started: ${what}`, {
          command: argv,
          cause: e,
        }),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const outputTail = tail(stderr.trim() === "" ? stdout : stderr);
      const how = timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s`
        : signal !== null
          ? `was killed by ${signal}`
          : `exited with status ${code ?? "?"}`;
      reject(
        new GuestBuildError(
          "command-failed",
          `${showCommand(argv)} ${how}${outputTail === "" ? "" : `:\n${outputTail}`}`,
          { command: argv, outputTail },
        ),
      );
    });
  });
}
