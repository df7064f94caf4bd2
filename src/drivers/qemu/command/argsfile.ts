/**
 * libvirt's `.args` layout (what `virsh domxml-to-native` and the test suite print): environment
 * lines, the emulator, then one option per line with its value, every line but the last ending in
 * ` \`. Arguments with shell-special characters are single-quoted. Also a reader for that layout
 * and the comparison the conformance checks use (see {@link compareArgs}): it tolerates only
 * what the layout does not carry (quoting, line breaks), never a change of order or value.
 */
import type { QemuCommand } from "./types.ts";
import { shellQuote } from "../../../util/shell-quote.ts";

export { shellQuote };

/** Groups argv into lines: an option starting with `-` opens a line, its values follow. */
function argLines(args: readonly string[]): string[][] {
  const lines: string[][] = [];
  for (const a of args) {
    const last = lines.at(-1);
    if (a.startsWith("-") || !last) lines.push([a]);
    else last.push(a);
  }
  return lines;
}

export function formatArgsFile(cmd: QemuCommand): string {
  const lines: string[] = [];
  for (const [k, v] of cmd.env) lines.push(`${k}=${shellQuote(v)}`);
  lines.push(shellQuote(cmd.emulator));
  for (const l of argLines(cmd.args)) lines.push(l.map(shellQuote).join(" "));
  return `${lines.join(" \\\n")}\n`;
}

/** Splits one line into shell words (single and double quotes, backslash escapes). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? line.length : end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) j++;
        cur += line[j] ?? "";
      }
      i = j;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i] ?? "";
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Reads an `.args` file back into a command. */
export function parseArgsFile(text: string): QemuCommand {
  const lines = text
    .split("\n")
    .map((l) => l.replace(/\s*\\$/, ""))
    .filter((l) => l.trim() !== "");
  const env: [string, string][] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(lines[i]!);
    if (!m) break;
    env.push([m[1]!, shellWords(m[2]!).join(" ")]);
  }
  const emulator = shellWords(lines[i] ?? "")[0] ?? "";
  const args: string[] = [];
  for (i++; i < lines.length; i++) args.push(...shellWords(lines[i]!));
  return { env, emulator, args };
}

function describe(line: readonly string[] | undefined): string {
  if (!line) return "(nothing)";
  const s = line.join(" ");
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

function key(line: readonly string[]): string {
  return JSON.stringify(line);
}

export interface ArgsComparison {
  verdict: "exact" | "equivalent" | "differs";
  firstDifference?: string;
}

/**
 * Compares an expected `.args` text with ours, as strictly as libvirt's own test suite does
 * (it compares the printed text, byte for byte):
 *
 * - `exact`: the same text (a missing final newline aside).
 * - `equivalent`: not the same text, but it reads back to the very same process: the same
 *   environment variables with the same values in the same order, the same emulator and the same
 *   argv, word for word and in the same order. Only what the layout itself does not carry may
 *   differ: how a word is quoted or escaped, where lines break, trailing blanks.
 * - `differs`: anything else. Nothing is normalised: an option moved, a `key=value` or JSON key
 *   reordered, another descriptor number, another environment value all differ. The note names
 *   the first difference in expected order (and says so when only the order of options changed).
 */
export function compareArgs(expected: string, actual: string): ArgsComparison {
  const oneNewline = (s: string): string => (s.endsWith("\n") ? s : `${s}\n`);
  if (oneNewline(expected) === oneNewline(actual)) return { verdict: "exact" };
  const e = parseArgsFile(expected);
  const a = parseArgsFile(actual);
  for (let i = 0; i < Math.max(e.env.length, a.env.length); i++) {
    const x = e.env[i];
    const y = a.env[i];
    if (x?.[0] !== y?.[0] || x?.[1] !== y?.[1]) {
      const show = (v: [string, string] | undefined): string => (v ? `${v[0]}=${v[1]}` : "(nothing)");
      return {
        verdict: "differs",
        firstDifference: `environment ${i + 1}: expected ${show(x)}; got ${show(y)}`,
      };
    }
  }
  if (e.emulator !== a.emulator) {
    return { verdict: "differs", firstDifference: `emulator: expected ${e.emulator}, got ${a.emulator}` };
  }
  const le = argLines(e.args);
  const la = argLines(a.args);
  for (let i = 0; i < Math.max(le.length, la.length); i++) {
    const x = le[i];
    const y = la[i];
    if (x && y && key(x) === key(y)) continue;
    let note = `option ${i + 1}: expected ${describe(x)}; got ${describe(y)}`;
    const count = new Map<string, number>();
    for (const l of le) count.set(key(l), (count.get(key(l)) ?? 0) + 1);
    for (const l of la) count.set(key(l), (count.get(key(l)) ?? 0) - 1);
    if ([...count.values()].every((n) => n === 0)) note += " (the same options in another order)";
    return { verdict: "differs", firstDifference: note };
  }
  return { verdict: "equivalent" };
}
