/**
 * tvirsh: virsh's commands, options, grammar and output, plus `--json` on every command.
 *
 *   tvirsh [options]... [<command_string>]
 *   tvirsh [options]... <command> [args...]
 *
 * Global options come before the command, as with virsh (getopt with "+": the first word that
 * is not an option starts the command). With no command, tvirsh starts the interactive shell.
 * See `README.md` here for why the grammar is hand-written rather than commander's.
 */
import { LIBVIRT_COMPAT_VERSION, formatVersion } from "../api/index.ts";
// Registers the remote driver (libvirt RPC): qemu:///system, qemu:///session, *+unix://, hosts.
import "../rpc/register.ts";
import { allCommands } from "./commands/index.ts";
import { Ctx, type SessionOptions } from "./context.ts";
import {
  byListOrder,
  groupHelp,
  groups,
  tokenizeArgv,
  tokenizeString,
  SyntaxError_,
  type GroupKey,
} from "./grammar.ts";
import { type Io } from "./output.ts";
import { runTokens } from "./run.ts";
import { complete, runShell } from "./shell.ts";
import { directIo } from "./stdio.ts";

export const TVIRT_VERSION = "0.1.0";

interface LongOpt {
  name: string;
  short: string;
  arg: "none" | "required" | "optional";
}

const longOpts: LongOpt[] = [
  { name: "connect", short: "c", arg: "required" },
  { name: "debug", short: "d", arg: "required" },
  { name: "escape", short: "e", arg: "required" },
  { name: "help", short: "h", arg: "none" },
  { name: "keepalive-interval", short: "k", arg: "required" },
  { name: "keepalive-count", short: "K", arg: "required" },
  { name: "log", short: "l", arg: "required" },
  { name: "quiet", short: "q", arg: "none" },
  { name: "readonly", short: "r", arg: "none" },
  { name: "timing", short: "t", arg: "none" },
  { name: "version", short: "", arg: "optional" },
];
const shortOpts: Record<string, "none" | "required"> = {
  c: "required",
  d: "required",
  e: "required",
  h: "none",
  k: "required",
  K: "required",
  l: "required",
  q: "none",
  r: "none",
  t: "none",
  v: "none",
  V: "none",
};

class UsageError extends Error {}

/**
 * `tvirsh [-c URI] [-r] complete -- WORDS...` (virsh's hidden `complete`, which its bash
 * completion calls): WORDS are the command line after `tvirsh` up to the word being completed
 * (the last, maybe empty); prints the candidates for that word, one a line. Commands, options
 * and value lists come from the command table `tvirsh help` prints; domain, network and pool
 * names from a read-only connection to the URI the line names with -c (or the default), so a
 * user who may only read sees them too. A line that does not parse completes to nothing.
 */
async function completeCommand(words: readonly string[], opts: SessionOptions, io: Io): Promise<number> {
  const w = words[0] === "--" ? words.slice(1) : [...words];
  const current = w.length > 0 ? w[w.length - 1]! : "";
  let parsed;
  try {
    parsed = getopt(w.slice(0, -1));
  } catch {
    return 0; // e.g. the value of -c being typed
  }
  for (const [o, val] of parsed.opts) {
    if (o === "c") opts.uri = val;
    else if (o === "r") opts.readonly = true;
  }
  let cands: string[];
  if (parsed.rest.length === 0 && current.startsWith("-"))
    cands = longOpts.map((o) => `--${o.name}`).filter((c) => c.startsWith(current));
  else {
    const ctx = new Ctx({ out: () => undefined, err: () => undefined }, opts);
    try {
      [cands] = await complete(ctx, [...parsed.rest, current].join(" "), true);
    } finally {
      await ctx.close();
    }
  }
  io.out(cands.map((c) => `${c}\n`).join(""));
  return 0;
}

/** getopt_long with "+": options up to the first non-option word. */
function getopt(argv: readonly string[]): { opts: [string, string | undefined][]; rest: string[] } {
  const opts: [string, string | undefined][] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const matches = longOpts.filter((o) => o.name.startsWith(name));
      const o = longOpts.find((x) => x.name === name) ?? (matches.length === 1 ? matches[0] : undefined);
      if (!o) throw new UsageError(`unsupported option '${a}'. See --help.`);
      let val: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
      if (o.arg === "none" && val !== undefined)
        throw new UsageError(`unsupported option '${a}'. See --help.`);
      if (o.arg === "required" && val === undefined) {
        if (i + 1 >= argv.length)
          throw new UsageError(`option '-${o.short}'/'--${o.name}' requires an argument`);
        val = argv[++i];
      }
      opts.push([o.short || o.name, val]);
      i++;
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k]!;
        const kind = shortOpts[c];
        if (kind === undefined) throw new UsageError(`unsupported option '-${c}'. See --help.`);
        if (kind === "required") {
          let val = a.slice(k + 1);
          if (val === "") {
            if (i + 1 >= argv.length) {
              const lo = longOpts.find((o) => o.short === c);
              throw new UsageError(`option '-${c}'/'--${lo?.name ?? c}' requires an argument`);
            }
            val = argv[++i]!;
          }
          opts.push([c, val]);
          break;
        }
        opts.push([c, undefined]);
      }
      i++;
      continue;
    }
    break;
  }
  return { opts, rest: argv.slice(i) };
}

function usage(): string {
  let s =
    "\ntvirsh [options]... [<command_string>]\ntvirsh [options]... <command> [args...]\n\n  options:\n" +
    "    -c | --connect=URI      hypervisor connection URI\n" +
    "    -d | --debug=NUM        debug level [0-4]\n" +
    "    -e | --escape <char>    set escape sequence for console\n" +
    "    -h | --help             this help\n" +
    "    -k | --keepalive-interval=NUM\n                            keepalive interval in seconds, 0 for disable\n" +
    "    -K | --keepalive-count=NUM\n                            number of possible missed keepalive messages\n" +
    "    -l | --log=FILE         output logging to file\n" +
    "    -q | --quiet            quiet mode\n" +
    "    -r | --readonly         connect readonly\n" +
    "    -t | --timing           print timing information\n" +
    "    -v                      short version\n" +
    "    -V                      long version\n" +
    "         --version[=TYPE]   version, TYPE is short or long (default short)\n" +
    "  every command also takes --json: print one JSON document (see src/cli/README.md)\n" +
    "  commands (non interactive mode):\n\n";
  for (const key of Object.keys(groups) as GroupKey[]) {
    const cmds = allCommands.filter((c) => c.group === key);
    if (key !== "virsh") cmds.sort(byListOrder);
    s += groupHelp(key, cmds) + "\n";
  }
  s +=
    "\n  (specify help <group> for details about the commands in the group)\n\n  (specify help <command> for details about the command)\n\n";
  return s;
}

function longVersion(): string {
  const v = formatVersion(LIBVIRT_COMPAT_VERSION);
  return (
    `Virsh command line tool of libvirt ${v} (tvirsh ${TVIRT_VERSION})\n` +
    "See web site at https://libvirt.org/\n\n" +
    "Compiled with support for:\n" +
    " Hypervisors: QEMU/KVM Test\n" +
    " Networking: Remote\n" +
    " Storage:\n" +
    " Miscellaneous: Readline\n"
  );
}

/** virshAllowedEscapeChar */
function validEscape(e: string): boolean {
  if (e.length === 1) return e !== "^";
  if (e.length === 2 && e[0] === "^") {
    const c = e.charCodeAt(1);
    return (c >= 0x61 && c <= 0x7a) || (c >= 0x40 && c <= 0x5f);
  }
  return false;
}

/** Runs tvirsh with `argv` (without node and script) and returns the exit status. */
export async function main(
  argv: readonly string[],
  io: Io = directIo(),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const opts: SessionOptions = {
    uri: undefined,
    readonly: false,
    quiet: false,
    timing: false,
    escape: "^]",
    debug: 4,
  };
  const fromEnv = env.VIRSH_DEFAULT_CONNECT_URI;
  if (fromEnv) opts.uri = fromEnv;
  if (env.TVIRT_WEB_URL) opts.webUrl = env.TVIRT_WEB_URL;
  let parsed;
  try {
    parsed = getopt(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
  for (const [o, val] of parsed.opts) {
    switch (o) {
      case "c":
        opts.uri = val;
        break;
      case "d": {
        const n = Number(val);
        if (!/^\d+$/.test(val ?? "") || n > 4)
          io.err(`error: ignoring debug level ${val ?? ""} out of range [0-4]\n`);
        else opts.debug = n;
        break;
      }
      case "e":
        if (!validEscape(val ?? "")) {
          io.err(`error: Invalid string '${val ?? ""}' for escape sequence\n`);
          return 1;
        }
        opts.escape = val!;
        break;
      case "h":
        io.out(usage());
        return 0;
      case "q":
        opts.quiet = true;
        break;
      case "r":
        opts.readonly = true;
        break;
      case "t":
        opts.timing = true;
        break;
      case "v":
        io.out(`${formatVersion(LIBVIRT_COMPAT_VERSION)}\n`);
        return 0;
      case "V":
        io.out(longVersion());
        return 0;
      case "version":
        if (val === undefined || val === "short") io.out(`${formatVersion(LIBVIRT_COMPAT_VERSION)}\n`);
        else if (val === "long") io.out(longVersion());
        else {
          io.err(`error: unsupported option '--version=${val}'. See --help.\n`);
          return 1;
        }
        return 0;
      default:
        // -k, -K, -l: accepted; tvirt has no keepalive or debug log yet.
        break;
    }
  }
  if (parsed.rest[0] === "complete") return completeCommand(parsed.rest.slice(1), opts, io);
  const ctx = new Ctx(io, opts);
  try {
    if (parsed.rest.length === 0) {
      ctx.interactive = true;
      return await runShell(ctx);
    }
    let tokens;
    try {
      tokens = parsed.rest.length === 1 ? tokenizeString(parsed.rest[0]!) : tokenizeArgv(parsed.rest);
    } catch (e) {
      if (!(e instanceof SyntaxError_)) throw e;
      io.err(`error: ${e.message}\n`);
      return 1;
    }
    const onSigint = (): void => {
      ctx.interrupt.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      return (await runTokens(ctx, tokens)) ? 0 : 1;
    } finally {
      process.off("SIGINT", onSigint);
    }
  } finally {
    await ctx.close();
  }
}
