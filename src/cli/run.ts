/**
 * Running parsed command lines (virsh's `vshCommandRun`): each command in turn; after a
 * failure its pending API error is printed as a second `error:` line; after every command an
 * empty line (not with `-q`), or the timing with `-t`; `quit`/`exit` stop the line. The status
 * of a line is the status of its last command.
 */
import { toVirtError, VirtError } from "../api/index.ts";
import { findCommand } from "./commands/index.ts";
import type { Ctx } from "./context.ts";
import { parseCommands, SyntaxError_, type ParsedCmd, type Tokens } from "./grammar.ts";
import { errorJson, printJson } from "./output.ts";

function needsConnection(ctx: Ctx, cmd: ParsedCmd<Ctx>): boolean {
  const nc = cmd.def.noConnect;
  if (nc === undefined) return true;
  return typeof nc === "function" ? !nc(ctx, cmd) : !nc;
}

/** Opens the session's connection; prints virsh's two error lines on failure. */
export async function ensureConnection(ctx: Ctx, json: boolean): Promise<boolean> {
  if (ctx.conn && !ctx.conn.isClosed) return true;
  try {
    await ctx.open(ctx.opts.uri, ctx.opts.readonly);
    return true;
  } catch (e) {
    const err = toVirtError(e);
    if (json) printJson(ctx.io, errorJson(err, "failed to connect to the hypervisor"));
    else ctx.io.err(`error: failed to connect to the hypervisor\nerror: ${err.message}\n`);
    return false;
  }
}

async function runOne(ctx: Ctx, cmd: ParsedCmd<Ctx>): Promise<boolean> {
  ctx.beginCommand(cmd.json);
  // Read only for -t: the first performance.now() loads perf_hooks, ~2 ms of a one-shot command.
  const start = ctx.opts.timing ? performance.now() : 0;
  let ok: boolean;
  try {
    ok = await cmd.def.run(ctx, cmd);
  } catch (e) {
    ctx.lastError = toVirtError(e);
    ok = false;
  }
  if (!ok) {
    if (ctx.json) {
      if (!ctx.emitted || ctx.lastError) {
        const err =
          ctx.lastError ??
          new VirtError("CLI_FAILED", { message: ctx.lastContext ?? `command '${cmd.def.name}' failed` });
        printJson(ctx.io, errorJson(err, ctx.lastError ? ctx.lastContext : undefined));
      }
    } else if (ctx.lastError) {
      ctx.io.err(`error: ${ctx.lastError.message}\n`);
    }
  }
  const json = ctx.json;
  ctx.json = false;
  if (ctx.quitRequested) return ok;
  if (json) return ok;
  if (ctx.opts.timing) ctx.print(`\n(Time: ${(performance.now() - start).toFixed(3)} ms)\n\n`);
  else ctx.printExtra("\n");
  return ok;
}

/** Parses and runs one line of tokens. Returns the status of the last command run. */
export async function runTokens(ctx: Ctx, tokens: Tokens): Promise<boolean> {
  const json = tokens.includes("--json");
  let cmds: ParsedCmd<Ctx>[];
  try {
    cmds = parseCommands(tokens, findCommand);
  } catch (e) {
    if (!(e instanceof SyntaxError_)) throw e;
    if (json) printJson(ctx.io, errorJson(new VirtError("CLI_USAGE", { message: e.message })));
    else ctx.io.err(`error: ${e.message}\n`);
    return false;
  }
  if (cmds.length === 0) return true;
  let ok = true;
  for (const cmd of cmds) {
    if (needsConnection(ctx, cmd) && !(await ensureConnection(ctx, cmd.json))) {
      // Without a connection virsh gives up on the whole line.
      return false;
    }
    ok = await runOne(ctx, cmd);
    if (ctx.quitRequested) break;
  }
  return ok;
}
