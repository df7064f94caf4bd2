/**
 * The interactive shell (node:readline): virsh's banner and prompt, history kept in
 * `$XDG_CACHE_HOME/tvirsh/history`, and tab completion of command names, option names and
 * option values (domain names from the connection, files, event types, fixed value lists).
 * Ctrl-C interrupts a waiting command (`event --loop`); `quit`, `exit` or Ctrl-D leave.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { createInterface, type Interface } from "node:readline";
import { domainEventIdNames } from "../api/index.ts";
import { allCommands, findCommand } from "./commands/index.ts";
import type { Ctx } from "./context.ts";
import { jsonOpt, tokenizeString, SyntaxError_, type OptDef } from "./grammar.ts";
import { ensureConnection, runTokens } from "./run.ts";

const HISTORY_SIZE = 500;

function historyFile(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "tvirsh", "history");
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyFile(), "utf8")
      .split("\n")
      .filter((l) => l !== "")
      .reverse()
      .slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

function saveHistory(lines: readonly string[]): void {
  try {
    const file = historyFile();
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, [...lines].slice(0, HISTORY_SIZE).reverse().join("\n") + "\n", { mode: 0o600 });
  } catch {
    // History is a convenience; a read-only home must not break the shell.
  }
}

function completeFiles(prefix: string): string[] {
  const dir = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : "";
  const base = prefix.slice(dir.length);
  try {
    return readdirSync(dir === "" ? "." : dir)
      .filter((n) => n.startsWith(base) && (base.startsWith(".") || !n.startsWith(".")))
      .map((n) => {
        const full = dir + n;
        let isDir: boolean;
        try {
          isDir = statSync(full).isDirectory();
        } catch {
          isDir = false;
        }
        return isDir ? `${full}/` : full;
      });
  } catch {
    return [];
  }
}

/**
 * Completion candidates for the word being typed at the end of `line`. With `connect`, names
 * of domains, networks and pools are asked of a read-only connection opened on demand (the
 * `tvirsh complete` of the shell completion scripts, which has none open yet).
 */
export async function complete(ctx: Ctx, line: string, connect = false): Promise<[string[], string]> {
  // Only the last command of the line matters.
  const tail = line.slice(Math.max(line.lastIndexOf(";"), line.lastIndexOf("\n")) + 1);
  const words = tail.split(/[ \t]+/).filter((w, i, a) => w !== "" || i === a.length - 1);
  const current = words[words.length - 1] ?? "";
  const before = words.slice(0, -1).filter((w) => w !== "");
  if (before.length === 0) {
    const names = allCommands.map((c) => c.name).filter((n) => n.startsWith(current));
    return [names.sort(), current];
  }
  const def = findCommand(before[0]!);
  if (!def) return [[], current];
  const opts: OptDef[] = [...def.opts, jsonOpt];
  const prev = before[before.length - 1]!;
  let valueOpt: OptDef | undefined;
  if (prev.startsWith("--")) {
    const o = opts.find((x) => x.name === prev.slice(2));
    if (o && o.type !== "bool") valueOpt = o;
  }
  if (!valueOpt && current.startsWith("-")) {
    const used = new Set(before.filter((w) => w.startsWith("--")).map((w) => w.slice(2)));
    return [
      opts.filter((o) => !used.has(o.name) && `--${o.name}`.startsWith(current)).map((o) => `--${o.name}`),
      current,
    ];
  }
  if (!valueOpt) {
    // The next positional option: those not named yet, minus the words already given.
    const named = new Set(before.filter((w) => w.startsWith("--")).map((w) => w.slice(2)));
    let data = 0;
    for (let i = 1; i < before.length; i++) {
      const w = before[i]!;
      if (w.startsWith("--")) {
        const o = opts.find((x) => x.name === w.slice(2));
        if (o && o.type !== "bool") i++;
      } else data++;
    }
    const positional = opts.filter((o) => o.type !== "bool" && !o.named && !named.has(o.name));
    valueOpt = positional[data];
    if (!valueOpt) return [[], current];
  }
  let cands: string[] = [];
  const names = async (
    list: (c: NonNullable<Ctx["conn"]>) => Promise<{ name: string }[]>,
  ): Promise<string[]> => {
    if (!ctx.conn && connect) await ctx.open(ctx.opts.uri, true).catch(() => undefined);
    if (!ctx.conn) return [];
    try {
      return (await list(ctx.conn)).map((x) => x.name);
    } catch {
      return [];
    }
  };
  switch (valueOpt.complete) {
    case "domain":
      cands = await names((c) => c.listAllDomains(0));
      break;
    case "network":
      cands = await names((c) => c.listAllNetworks(0));
      break;
    case "pool":
      cands = await names((c) => c.listAllStoragePools(0));
      break;
    case "file":
      return [completeFiles(current), current];
    case "event":
      cands = [...domainEventIdNames];
      break;
    case "command":
      cands = allCommands.map((c) => c.name);
      break;
    case "list":
      cands = [...(valueOpt.values ?? [])];
      break;
    default:
      break;
  }
  return [cands.filter((c) => c.startsWith(current)).sort(), current];
}

/** Runs the shell until quit/exit/EOF. Returns the exit status (0, as virsh). */
export async function runShell(ctx: Ctx): Promise<number> {
  if (!ctx.quiet) {
    ctx.io.out(
      `Welcome to tvirsh, the virtualization interactive terminal.\n\nType:  'help' for help with commands\n       'quit' to quit\n\n`,
    );
  }
  await ensureConnection(ctx, false);
  const history = loadHistory();
  const rl: Interface = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: process.stdin.isTTY,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: false,
    completer: (line: string, cb: (err: null, result: [string[], string]) => void) => {
      complete(ctx, line).then(
        (r) => {
          cb(null, r);
        },
        () => {
          cb(null, [[], line]);
        },
      );
    },
  });
  const prompt = (): string => `${basename("tvirsh")} ${ctx.opts.readonly ? ">" : "#"} `;
  let busy = false;
  rl.on("SIGINT", () => {
    if (busy) {
      ctx.interrupt.abort();
      return;
    }
    rl.write("\n");
    rl.prompt();
  });
  rl.setPrompt(prompt());
  rl.prompt();
  // One line stream for commands and for the questions they ask (edit's "Try again?").
  const lines = rl[Symbol.asyncIterator]();
  ctx.lineInput = {
    read: async () => {
      const r = await lines.next();
      return r.done ? undefined : r.value;
    },
    pause: () => rl.pause(),
    resume: () => rl.resume(),
  };
  for (let next = await lines.next(); next.done !== true; next = await lines.next()) {
    const line = next.value;
    if (line.trim() !== "") {
      busy = true;
      ctx.interrupt = new AbortController();
      try {
        const tokens = tokenizeString(line);
        await runTokens(ctx, tokens);
      } catch (e) {
        if (e instanceof SyntaxError_) ctx.io.err(`error: ${e.message}\n`);
        else throw e;
      }
      busy = false;
      if (ctx.quitRequested) break;
    }
    rl.setPrompt(prompt());
    rl.prompt();
  }
  ctx.lineInput = undefined;
  rl.close();
  if (!ctx.quitRequested && !ctx.quiet) ctx.io.out("\n");
  saveHistory((rl as unknown as { history?: string[] }).history ?? history);
  return 0;
}
