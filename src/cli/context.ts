/**
 * The state of one tvirsh session (virsh's `vshControl`): the connection, output modes, and
 * the helpers commands use to print and fail the way virsh does:
 *
 * - `print` is `vshPrint` (always), `printExtra` is `vshPrintExtra` (not with `-q`);
 * - `fail(message, cause)` prints `error: <message>` at once and keeps `cause` (the API error),
 *   printed as a second `error:` line after the command returns (`vshReportError`);
 * - in `--json` mode nothing of that is printed: the command emits one document, or the runner
 *   prints `{"error": {...}}`.
 */
import { readFile } from "node:fs/promises";
import { connect, strerror, toVirtError, type Connection, type Domain, VirtError } from "../api/index.ts";
import type { ParsedCmd } from "./grammar.ts";
import { printJson, type Io } from "./output.ts";

export const BYID = 1;
export const BYUUID = 2;
export const BYNAME = 4;

/** virsh's limit for XML files read for a command (VSH_MAX_XML_FILE). */
const MAX_XML_FILE = 10 * 1024 * 1024;

export interface SessionOptions {
  uri: string | undefined;
  readonly: boolean;
  quiet: boolean;
  timing: boolean;
  /** Console escape sequence, e.g. `^]`. */
  escape: string;
  debug: number;
  /** The web face's address (`TVIRT_WEB_URL`), for `domdisplay --type web`. */
  webUrl?: string;
}

/** The interactive shell's input, lent to commands that ask questions (edit). */
export interface LineInput {
  /** The next line typed (or piped), undefined at the end of input. */
  read(): Promise<string | undefined>;
  /** Stops/restarts reading the terminal (while an editor owns it). */
  pause(): void;
  resume(): void;
}

export class Ctx {
  conn: Connection | undefined;
  /** The pending API error of the running command (virsh's last_error). */
  lastError: VirtError | undefined;
  /** virsh's context line of the running command's failure. */
  lastContext: string | undefined;
  /** The running command was given `--json`. */
  json = false;
  /** Set by `quit`/`exit`. */
  quitRequested = false;
  /** Running the interactive shell. */
  interactive = false;
  /** The running command printed its JSON document. */
  emitted = false;
  /** Cancels waits (event loops, console) on SIGINT. */
  interrupt: AbortController = new AbortController();
  // edit: answers to prompts ("Try again?") come from the interactive shell's own line reader
  // when it runs (it owns stdin); undefined in argv/string mode, where stdin is read directly.
  lineInput: LineInput | undefined;

  constructor(
    readonly io: Io,
    readonly opts: SessionOptions,
  ) {}

  get quiet(): boolean {
    return this.opts.quiet;
  }

  /** Resets the per-command state before a command runs. */
  beginCommand(json: boolean): void {
    this.lastError = undefined;
    this.lastContext = undefined;
    this.emitted = false;
    this.json = json;
  }

  // --- output ---------------------------------------------------------------------------------

  print(text: string): void {
    if (!this.json) this.io.out(text);
  }

  printExtra(text: string): void {
    if (!this.json && !this.opts.quiet) this.io.out(text);
  }

  /** `warning: <message>` on stderr (text mode only; JSON carries it in the command's document). */
  warn(message: string): void {
    if (!this.json) this.io.err(`warning: ${message}\n`);
  }

  /** vshError: `error: <message>` on stderr now (text mode); kept as context in JSON mode. */
  error(message: string): void {
    if (this.json) {
      this.lastContext ??= message;
      return;
    }
    this.io.err(`error: ${message}\n`);
  }

  /** vshError plus the API error to report after the command (`vshReportError`). Returns false. */
  fail(message: string | undefined, cause?: unknown): false {
    if (message !== undefined) this.error(message);
    if (cause !== undefined) this.lastError = toVirtError(cause);
    else if (this.json && message !== undefined) this.lastError ??= new VirtError("CLI_FAILED", { message });
    return false;
  }

  /** One JSON document (JSON mode only). */
  emit(value: unknown): void {
    if (!this.json || this.emitted) return;
    this.emitted = true;
    printJson(this.io, value);
  }

  // --- connection -----------------------------------------------------------------------------

  async open(uri: string | undefined, readonly: boolean): Promise<Connection> {
    const conn = await connect(uri ?? null, { readonly });
    if (this.conn) await this.conn.close().catch(() => undefined);
    this.conn = conn;
    return conn;
  }

  /** The connection; a command that needs one fails with "no valid connection" without it. */
  connection(): Connection {
    if (!this.conn || this.conn.isClosed) throw new VirtError("CLI_NO_CONNECTION");
    return this.conn;
  }

  async close(): Promise<void> {
    if (this.conn) await this.conn.close().catch(() => undefined);
    this.conn = undefined;
  }

  // --- options --------------------------------------------------------------------------------

  /**
   * vshCommandOptStringReq: the value, undefined when not given; an empty value is an error
   * ("Failed to get option 'x': Option argument is empty") reported as `null`.
   */
  optString(cmd: ParsedCmd<Ctx>, name: string, allowEmpty = false): string | undefined | null {
    const v = cmd.raw(name);
    if (v === undefined) return undefined;
    if (v === "" && !allowEmpty) {
      this.error(`Failed to get option '${name}': Option argument is empty`);
      if (this.json)
        this.lastError = new VirtError("CLI_USAGE", {
          message: `Failed to get option '${name}': Option argument is empty`,
        });
      return null;
    }
    return v;
  }

  /** vshCommandOptInt: undefined when not given; `null` (error printed) when malformed. */
  optInt(cmd: ParsedCmd<Ctx>, name: string): number | undefined | null {
    const v = cmd.raw(name);
    if (v === undefined) return undefined;
    const n = /^\s*[+-]?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < -2147483648 || n > 2147483647) {
      const message = `Numeric value '${v}' for <${name}> option is malformed or out of range`;
      this.error(message);
      if (this.json) this.lastError = new VirtError("CLI_USAGE", { message });
      return null;
    }
    return n;
  }

  /** VSH_EXCLUSIVE_OPTIONS: false (error printed) when both are given. */
  exclusive(cmd: ParsedCmd<Ctx>, a: string, b: string): boolean {
    if (cmd.has(a) && cmd.has(b)) {
      this.fail(`Options --${a} and --${b} are mutually exclusive`);
      return false;
    }
    return true;
  }

  /** virFileReadAll as virsh uses it: the file's text, or undefined with the error kept. */
  async readFile(path: string): Promise<string | undefined> {
    try {
      const buf = await readFile(path);
      if (buf.length > MAX_XML_FILE) {
        this.lastError = new VirtError("FILE_READ_FAILED_SYS", { path, reason: "File too large" });
        return undefined;
      }
      return buf.toString("utf8");
    } catch (e) {
      const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
      this.lastError =
        code === "EISDIR"
          ? new VirtError("FILE_READ_FAILED_SYS", { path, reason: strerror(e) })
          : new VirtError("FILE_OPEN_FAILED", { path, reason: strerror(e) });
      return undefined;
    }
  }

  // --- domains --------------------------------------------------------------------------------

  /**
   * virshCommandOptDomainBy: looks the domain up by id (a number >= 0), UUID (36 characters) and
   * name, in that order, as `by` allows. Prints "failed to get domain 'x'" when none matches.
   */
  async domain(
    cmd: ParsedCmd<Ctx>,
    by = BYID | BYUUID | BYNAME,
    optName = "domain",
  ): Promise<Domain | undefined> {
    const name = this.optString(cmd, optName);
    if (name === null) return undefined;
    if (name === undefined) {
      this.fail(`command '${cmd.def.name}' requires <${optName}> option`);
      return undefined;
    }
    return this.lookupDomain(name, by);
  }

  async lookupDomain(name: string, by = BYID | BYUUID | BYNAME): Promise<Domain | undefined> {
    const conn = this.connection();
    let dom: Domain | undefined;
    if (by & BYID && /^\s*[+-]?\d+$/.test(name)) {
      const id = Number(name);
      if (Number.isSafeInteger(id) && id >= 0 && id <= 2147483647)
        dom = await conn.lookupDomainByID(id).catch(() => undefined);
    }
    if (!dom && by & BYUUID && name.length === 36)
      dom = await conn.lookupDomainByUUIDString(name).catch(() => undefined);
    if (!dom && by & BYNAME) dom = await conn.lookupDomainByName(name).catch(() => undefined);
    if (!dom) {
      this.error(`failed to get domain '${name}'`);
      if (this.json)
        this.lastError = new VirtError("CLI_DOMAIN_NOT_FOUND", { domain: name }, { domain: name });
    }
    return dom;
  }
}
