/**
 * libvirt's `.args` layout (what `virsh domxml-to-native` and the test suite print): environment
 * lines, the emulator, then one option per line with its value, every line but the last ending in
 * ` \`. Arguments with shell-special characters are single-quoted. Also a reader for that layout
 * and a comparison that tells exact, equivalent (same meaning) and different apart.
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

interface Option {
  name: string;
  values: string[];
}

function options(cmd: QemuCommand): Option[] {
  return argLines(cmd.args).map(([name, ...values]) => ({ name: name!, values }));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  }
  return v;
}

/** Keys whose values are runtime file descriptors or per-run paths. */
const FD_KEYS = new Set(["fd", "vhostfd", "fds", "vhostfds"]);

function normaliseJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normaliseJson);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = FD_KEYS.has(k) ? "<fd>" : normaliseJson(x);
    }
    return sortKeys(out);
  }
  return v;
}

/** Splits `a=b,c=d` respecting doubled commas. */
function splitKeyValues(s: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ",") {
      if (s[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      parts.push(cur);
      cur = "";
    } else cur += s[i] ?? "";
  }
  parts.push(cur);
  return parts;
}

/** Values of these options are `key=value` lists whose order QEMU does not care about. */
const KEYVALUE_UNORDERED = new Set([
  "-machine",
  "-smp",
  "-sandbox",
  "-chardev",
  "-fsdev",
  "-spice",
  "-numa",
  "-boot",
  "-rtc",
]);

/** Runtime-specific spellings: domain ids in per-domain paths, fd sets, passed descriptors. */
function normaliseRuntime(value: string): string {
  return value
    .replace(/domain--?\d+-/g, "domain-<id>-")
    .replace(/\/-?\d+-([^/,"]+)/g, "/<id>-$1")
    .replace(/\/dev\/fdset\/\d+/g, "/dev/fdset/<n>")
    .replace(/set=\d+,fd=[^,]+/g, "set=<n>,fd=<fd>");
}

function normaliseValue(option: string, raw: string): string {
  const value = normaliseRuntime(raw);
  if (value.startsWith("{")) {
    try {
      return JSON.stringify(normaliseJson(JSON.parse(value)));
    } catch {
      return value;
    }
  }
  let parts = splitKeyValues(value).map((p) => p.replace(/^(fd|vhostfd)=\d+$/, "$1=<fd>"));
  if (KEYVALUE_UNORDERED.has(option)) {
    const [head, ...rest] = parts;
    parts = [head!, ...rest.sort()];
  }
  return parts.join(",");
}

function normaliseOption(o: Option): string {
  return [o.name, ...o.values.map((v) => normaliseValue(o.name, v))].join(" ");
}

function describe(o: Option | undefined): string {
  if (!o) return "(nothing)";
  const s = [o.name, ...o.values].join(" ");
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}

export interface ArgsComparison {
  verdict: "exact" | "equivalent" | "differs";
  firstDifference?: string;
}

/**
 * Compares two `.args` texts. `exact`: identical after trimming trailing whitespace.
 * `equivalent`: the same environment names, emulator and options with the same values once
 * JSON key order, `key=value` order of order-insensitive options, file descriptor numbers and
 * the order of options are disregarded. Otherwise `differs`, with the first difference in
 * expected order as one short line.
 */
export function compareArgs(expected: string, actual: string): ArgsComparison {
  if (expected.trimEnd() === actual.trimEnd()) return { verdict: "exact" };
  const e = parseArgsFile(expected);
  const a = parseArgsFile(actual);
  if (e.emulator !== a.emulator) {
    return { verdict: "differs", firstDifference: `emulator: expected ${e.emulator}, got ${a.emulator}` };
  }
  const envE = e.env.map(([k]) => k).join(" ");
  const envA = a.env.map(([k]) => k).join(" ");
  if (envE !== envA)
    return { verdict: "differs", firstDifference: `environment: expected ${envE}, got ${envA}` };
  const oe = options(e);
  const oa = options(a);
  // first positional difference, for the message
  let first: string | undefined;
  for (let i = 0; i < Math.max(oe.length, oa.length); i++) {
    const x = oe[i];
    const y = oa[i];
    if (!x || !y || normaliseOption(x) !== normaliseOption(y)) {
      first = `option ${i + 1}: expected ${describe(x)}; got ${describe(y)}`;
      break;
    }
  }
  if (first === undefined) return { verdict: "equivalent" };
  const count = new Map<string, number>();
  for (const o of oe) count.set(normaliseOption(o), (count.get(normaliseOption(o)) ?? 0) + 1);
  for (const o of oa) count.set(normaliseOption(o), (count.get(normaliseOption(o)) ?? 0) - 1);
  const missing = oe.find((o) => (count.get(normaliseOption(o)) ?? 0) > 0);
  const extra = oa.find((o) => (count.get(normaliseOption(o)) ?? 0) < 0);
  if (!missing && !extra) return { verdict: "equivalent" };
  const parts: string[] = [];
  if (missing) parts.push(`missing ${describe(missing)}`);
  if (extra) parts.push(`unexpected ${describe(extra)}`);
  return { verdict: "differs", firstDifference: parts.join("; ") };
}
