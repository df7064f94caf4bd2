/**
 * The `*-edit` commands' shared flow (virsh's `virsh-edit.c`, written anew): dump the object's
 * XML to a private temp file, run the user's editor on it, and on save redefine the object;
 * when that fails, show the error and ask "Failed. Try again? [y,n,i,f,?]:" — y = edit again,
 * n = throw the changes away, i = define again without schema validation, f = define again
 * as it is. `edit` uses it now; `net-edit` and friends plug in their own get/define.
 *
 * Differences from virsh, on purpose:
 * - the editor command (`$VISUAL`, else `$EDITOR`, else `vi`) is split into argv here (quotes
 *   and backslashes as in a shell, nothing expanded) and run without a shell; a value that needs
 *   a shell (pipes, `$`, redirections) is refused with a catalogued error;
 * - the prompt also works when stdin is not a terminal: answers are read a line at a time
 *   (scripts and tests feed them), and the end of input means "n"; virsh gives up instead;
 * - before applying, the caller's `preview` lists what the new XML would lose or have
 *   rewritten, and after it `report` says what applies when.
 */
import { startArgv } from "../util/spawn.ts";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtError, toVirtError } from "../api/index.ts";
import type { Ctx } from "./context.ts";

// --- the editor command ------------------------------------------------------------------------

/**
 * Splits an editor setting into argv like a shell splits words (spaces separate; '…' and "…"
 * quote; \ escapes), expanding nothing. Throws `EDIT_EDITOR_SYNTAX` for what only a shell could
 * run: unquoted | & ; < > ( ) ` $, or an unterminated quote.
 */
export function splitEditorCommand(value: string, variable: string): string[] {
  const fail = (reason: string): VirtError =>
    new VirtError("EDIT_EDITOR_SYNTAX", { variable, value, reason });
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === " " || ch === "\t" || ch === "\n") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else if (ch === "'") {
      const end = value.indexOf("'", i + 1);
      if (end < 0) throw fail("a ' quote is not closed");
      cur += value.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (ch === '"') {
      let j = i + 1;
      for (; j < value.length && value[j] !== '"'; j++) {
        if (value[j] === "\\" && j + 1 < value.length && '"\\$`'.includes(value[j + 1]!)) j++;
        else if (value[j] === "$" || value[j] === "`")
          throw fail(`'${value[j]!}' inside "…" would need a shell`);
        cur += value[j]!;
      }
      if (j >= value.length) throw fail('a " quote is not closed');
      i = j;
      inWord = true;
    } else if (ch === "\\") {
      if (i + 1 >= value.length) throw fail("it ends with a backslash");
      cur += value[++i]!;
      inWord = true;
    } else if ("|&;<>()`$".includes(ch)) {
      throw fail(`'${ch}' would need a shell`);
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  if (words.length === 0) throw fail("it names no program");
  return words;
}

/** The editor argv: `$VISUAL`, else `$EDITOR`, else `vi` (empty values are skipped, as virsh). */
export function editorArgv(env: NodeJS.ProcessEnv): string[] {
  for (const variable of ["VISUAL", "EDITOR"]) {
    const v = env[variable];
    if (v !== undefined && v !== "") return splitEditorCommand(v, variable);
  }
  return ["vi"];
}

/**
 * Runs the editor on `file` with the terminal (stdin, stdout, stderr) handed over; the
 * interactive shell's reader is paused meanwhile so that it does not take the editor's keys.
 */
async function runEditor(ctx: Ctx, argv: readonly string[], file: string): Promise<void> {
  const wasRaw = process.stdin.isTTY ? process.stdin.isRaw : false;
  if (process.stdin.isTTY && wasRaw) process.stdin.setRawMode(false);
  ctx.lineInput?.pause();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = startArgv([...argv, file], { stdio: "inherit" });
      const editor = argv.join(" ");
      child.once("error", (e) => {
        reject(
          new VirtError("EDIT_EDITOR_FAILED", {
            editor,
            file,
            reason: `could not be started (${e.message})`,
          }),
        );
      });
      child.once("exit", (code, signal) => {
        if (code === 0) resolve();
        else {
          const reason = signal ? `was killed by ${signal}` : `exited with status ${code ?? "?"}`;
          reject(new VirtError("EDIT_EDITOR_FAILED", { editor, file, reason }));
        }
      });
    });
  } finally {
    if (process.stdin.isTTY && wasRaw) process.stdin.setRawMode(true);
    ctx.lineInput?.resume();
  }
}

// --- the prompt ----------------------------------------------------------------------------

/**
 * Reads one answer from stdin: on a terminal one key in raw mode (as virsh), otherwise one line
 * (its first non-blank character). Undefined at the end of input. Bytes read past the answer
 * are put back for whoever reads stdin next.
 */
export function readAnswer(): Promise<string | undefined> {
  const stdin = process.stdin;
  if (stdin.readableEnded) return Promise.resolve(undefined);
  const tty = stdin.isTTY;
  return new Promise((resolve) => {
    let buf = "";
    const done = (answer: string | undefined, rest: string): void => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      if (tty) stdin.setRawMode(false);
      stdin.pause();
      if (rest !== "") stdin.unshift(Buffer.from(rest, "utf8"));
      resolve(answer);
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString("utf8");
      if (tty) {
        done(buf.slice(0, 1), buf.slice(1));
        return;
      }
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl).trim().slice(0, 1), buf.slice(nl + 1));
    };
    const onEnd = (): void => {
      done(buf === "" ? undefined : buf.trim().slice(0, 1), "");
    };
    if (tty) stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

export type ReeditAnswer = "y" | "n" | "i" | "f";

/** vshAskReedit: the question, `?` for help, until a valid letter (end of input = "n"). */
export async function askReedit(ctx: Ctx, msg: string, relaxAvail: boolean): Promise<ReeditAnswer> {
  const letters = relaxAvail ? "[y,n,i,f,?]" : "[y,n,f,?]";
  // Raw mode lasts only while a key is read, so everything is written to a cooked terminal and
  // "\n" is enough; the "\r" in front of the question is virsh's (back to the line start).
  const eol = "\n";
  const cr = process.stdin.isTTY && !ctx.lineInput ? "\r" : "";
  for (;;) {
    ctx.io.out(`${cr}${msg} Try again? ${letters}: `);
    // In the interactive shell its reader owns stdin: the answer is the next line it reads.
    const raw = ctx.lineInput ? (await ctx.lineInput.read())?.trim().slice(0, 1) : await readAnswer();
    const c = raw?.toLowerCase();
    if (c === undefined) {
      ctx.io.out(eol);
      return "n";
    }
    if (c === "?") {
      let help = `${eol}y - yes, start editor again${eol}n - no, throw away my changes${eol}`;
      if (relaxAvail) help += `i - turn off validation and try to redefine again${eol}`;
      help += `f - force, try to redefine again${eol}? - print this help${eol}`;
      ctx.io.out(help);
      continue;
    }
    if (c === "y" || c === "n" || c === "f" || (relaxAvail && c === "i")) {
      ctx.io.out(eol);
      return c;
    }
  }
}

// --- the flow ------------------------------------------------------------------------------

export interface EditSpec {
  /** For messages: "domain", "network". */
  readonly object: string;
  readonly name: string;
  /** The XML the user edits (and, again, to see whether someone else changed it meanwhile). */
  getXML(): Promise<string>;
  /** Redefines from the edited XML; throws the API error. `validate` = schema validation on. */
  define(xml: string, validate: boolean): Promise<void>;
  /** Whether the define validates against the schema at first (virsh: unless --skip-validate). */
  readonly validate: boolean;
  /** Whether "i" (turn validation off and define again) is offered (virsh's EDIT_RELAX). */
  readonly canRelax: boolean;
  /** Lines to show before applying (what the new XML would drop or have rewritten). */
  preview?(xml: string): Promise<readonly string[]>;
  /** Called after a failure's `error:` line is printed (to show where the problem is). */
  onError?(err: VirtError): void;
  /** "Domain 'x' XML configuration not changed." */
  readonly notChangedMessage: string;
}

export type EditOutcome =
  | { readonly result: "unchanged" }
  | { readonly result: "edited"; readonly xml: string; readonly before: string }
  | { readonly result: "failed" };

/**
 * Runs the edit loop. Prints virsh's messages except the final "edited" line, which the caller
 * prints after its own report. Returns what happened; on "failed" the error is recorded in ctx.
 */
export async function runEditFlow(ctx: Ctx, spec: EditSpec, env: NodeJS.ProcessEnv): Promise<EditOutcome> {
  let argv: string[];
  try {
    argv = editorArgv(env);
  } catch (e) {
    ctx.fail(undefined, e);
    return { result: "failed" };
  }
  let doc: string;
  try {
    doc = await spec.getXML();
  } catch (e) {
    ctx.fail(undefined, e);
    return { result: "failed" };
  }
  const original = doc;
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-edit-"));
  const file = join(dir, `${spec.object}.xml`);
  try {
    await writeFile(file, doc, { mode: 0o600 });
    let validate = spec.validate;
    let relaxAvail: boolean;
    for (;;) {
      // reedit:
      relaxAvail = spec.canRelax;
      try {
        await runEditor(ctx, argv, file);
      } catch (e) {
        ctx.fail(undefined, e);
        return { result: "failed" };
      }
      const edited = await readFile(file, "utf8");
      if (edited === doc) {
        ctx.printExtra(spec.notChangedMessage);
        return { result: "unchanged" };
      }
      let previewed = false;
      for (;;) {
        // redefine:
        let problem: VirtError | undefined;
        let msg = "Failed.";
        let reread: string;
        try {
          reread = await spec.getXML();
        } catch (e) {
          ctx.fail(undefined, e);
          return { result: "failed" };
        }
        if (reread !== doc) {
          msg = "The XML configuration was changed by another user.";
          problem = new VirtError("EDIT_CHANGED_BY_OTHER");
          doc = reread;
        } else {
          if (!previewed && spec.preview) {
            previewed = true;
            for (const line of await spec.preview(edited)) ctx.printExtra(line);
          }
          try {
            await spec.define(edited, validate);
            return { result: "edited", xml: edited, before: original };
          } catch (e) {
            problem = toVirtError(e);
          }
        }
        if (ctx.json) {
          ctx.fail(undefined, problem);
          return { result: "failed" };
        }
        // vshReportError, then the question.
        ctx.io.err(`error: ${problem.message}\n`);
        spec.onError?.(problem);
        const answer = await askReedit(ctx, msg, relaxAvail);
        if (answer === "y") break;
        if (answer === "f") continue;
        if (answer === "i") {
          validate = false;
          relaxAvail = false;
          continue;
        }
        ctx.fail(
          undefined,
          new VirtError(
            "EDIT_ABANDONED",
            { object: spec.object, name: spec.name },
            { [spec.object]: spec.name },
          ),
        );
        return { result: "failed" };
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * One editor run over a text (virsh's vshEditWriteToTempFile / vshEditFile /
 * vshEditReadBackFile, as `desc --edit` and `metadata --edit` use): the edited text, or
 * undefined when the editor could not run (the error is recorded in ctx).
 */
export async function editTextOnce(
  ctx: Ctx,
  text: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  let argv: string[];
  try {
    argv = editorArgv(env);
  } catch (e) {
    ctx.fail(undefined, e);
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), "tvirsh-edit-"));
  const file = join(dir, "text.xml");
  try {
    await writeFile(file, text, { mode: 0o600 });
    try {
      await runEditor(ctx, argv, file);
    } catch (e) {
      ctx.fail(undefined, e);
      return undefined;
    }
    return await readFile(file, "utf8");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
