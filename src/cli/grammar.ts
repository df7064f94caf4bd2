/**
 * virsh's command grammar (`tools/vsh.c`, 9.0): tokenizing a command string (quotes, `\`
 * escapes, `;` and newlines between commands, `#` comments) or an argv list, and mapping tokens
 * to a command's options:
 *
 * - `--name value`, `--name=value`, and boolean `--name`;
 * - bare words fill the command's non-boolean options in their order (`dominfo vm1` sets
 *   `--domain`), skipping options already given by name and options that must be named;
 * - `--` makes every following word data;
 * - the whole line is parsed before any command runs; a syntax error runs nothing.
 *
 * Errors carry virsh's exact messages ("command 'dominfo' requires <domain> option").
 */

export type OptType = "bool" | "string" | "int" | "data" | "argv";

export interface OptDef {
  readonly name: string;
  readonly type: OptType;
  /** Must be given (VSH_OFLAG_REQ). */
  readonly required?: boolean;
  /** Must be given as `--name value`, never positionally (VSH_OFLAG_REQ_OPT). */
  readonly named?: boolean;
  readonly help: string;
  /** What tab completion offers for the value. */
  readonly complete?: "domain" | "network" | "pool" | "file" | "event" | "command" | "list";
  /** Values for `complete: "list"`. */
  readonly values?: readonly string[];
  /** tvirt addition, not shown in virsh's help text. */
  readonly extension?: boolean;
}

export type GroupKey =
  | "domain"
  | "monitor"
  | "host"
  | "network"
  | "nodedev"
  | "secret"
  | "snapshot"
  | "pool"
  | "volume"
  | "virsh"
  | "tvirt";

export const groups: Record<GroupKey, string> = {
  domain: "Domain Management",
  monitor: "Domain Monitoring",
  host: "Host and Hypervisor",
  network: "Networking", // virtual networks
  nodedev: "Node Device", // node devices
  secret: "Secret", // secrets
  snapshot: "Snapshot", // domain snapshots
  pool: "Storage Pool", // storage pools
  volume: "Storage Volume", // storage volumes
  virsh: "Virsh itself",
  // commands virsh does not have: listed by `help tvirt`, kept out of virsh's own listings
  tvirt: "tvirt's own commands",
};

export interface CmdDef<C = unknown> {
  readonly name: string;
  readonly group: GroupKey;
  /** One line, shown in the command list and after NAME. */
  readonly help: string;
  /** DESCRIPTION text (may contain "\n    " continuation lines as virsh's do). */
  readonly desc?: string;
  readonly opts: readonly OptDef[];
  /**
   * Where the group listing puts the command: virsh's tables are alphabetical except for a few
   * commands it appends (net-port-*); those carry 1, 2, … and follow the others in that order.
   */
  readonly listAfter?: number;
  /** The command needs no connection (help, quit, cd, ...). */
  readonly noConnect?: boolean | ((ctx: C, cmd: ParsedCmd<C>) => boolean);
  readonly run: (ctx: C, cmd: ParsedCmd<C>) => Promise<boolean>;
}

/** Every command also takes `--json` (tvirt extension). */
export const jsonOpt: OptDef = {
  name: "json",
  type: "bool",
  help: "print one JSON document",
  extension: true,
};

export class ParsedCmd<C = unknown> {
  constructor(
    readonly def: CmdDef<C>,
    /** Option values by name (`true` for booleans); argv options are in `argv`. */
    readonly values: ReadonlyMap<string, string | true>,
    readonly argv: readonly string[],
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  bool(name: string): boolean {
    return this.values.get(name) === true;
  }

  /** The raw string value, or undefined when not given. */
  raw(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === "string" ? v : undefined;
  }

  get json(): boolean {
    return this.bool("json");
  }
}

export class SyntaxError_ extends Error {
  override readonly name = "SyntaxError";
}

// ---------------------------------------------------------------------------------------------
// Tokenizers
// ---------------------------------------------------------------------------------------------

/** A token stream: words, and `null` at the end of each command. */
export type Tokens = (string | null)[];

/** vshCommandStringGetArg over a whole line. Throws SyntaxError_ ("dangling \\", "missing \""). */
export function tokenizeString(line: string): Tokens {
  const out: Tokens = [];
  let p = 0;
  const n = line.length;
  for (;;) {
    while (p < n && (line[p] === " " || line[p] === "\t" || (line[p] === "\\" && line[p + 1] === "\n")))
      p += line[p] === "\\" ? 2 : 1;
    if (p >= n) break;
    const c = line[p]!;
    if (c === ";" || c === "\n") {
      out.push(null);
      p++;
      continue;
    }
    if (c === "#") {
      while (p < n && line[p] !== "\n") p++;
      if (p < n) p++;
      out.push(null);
      continue;
    }
    let single = false;
    let double = false;
    let word = "";
    while (p < n) {
      const ch = line[p]!;
      if (!double && !single && (ch === " " || ch === "\t" || ch === ";" || ch === "\n")) break;
      if (!double && ch === "'") {
        single = !single;
        p++;
        continue;
      } else if (!single && ch === "\\") {
        p++;
        if (p >= n) throw new SyntaxError_("dangling \\");
        if (line[p] === "\n") {
          p++;
          continue;
        }
      } else if (!single && ch === '"') {
        double = !double;
        p++;
        continue;
      }
      word += line[p]!;
      p++;
    }
    if (double) throw new SyntaxError_('missing "');
    out.push(word);
  }
  out.push(null);
  return out;
}

/** vshCommandArgvGetArg: each argument is one word; there is one command. */
export function tokenizeArgv(args: readonly string[]): Tokens {
  return [...args, null];
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

function positionalMask(opts: readonly OptDef[]): { needArg: Set<number>; required: Set<number> } {
  const needArg = new Set<number>();
  const required = new Set<number>();
  opts.forEach((o, i) => {
    if (o.type === "bool") return;
    if (o.named) {
      if (o.required) required.add(i);
      return;
    }
    needArg.add(i);
    if (o.required) required.add(i);
  });
  return { needArg, required };
}

/**
 * Parses every command of a token stream. `lookup` finds a command by name. Throws
 * SyntaxError_ with virsh's message at the first problem.
 */
export function parseCommands<C>(
  tokens: Tokens,
  lookup: (name: string) => CmdDef<C> | undefined,
): ParsedCmd<C>[] {
  const cmds: ParsedCmd<C>[] = [];
  let i = 0;
  while (i < tokens.length) {
    const first = tokens[i];
    if (first === null || first === undefined) {
      i++;
      continue;
    }
    const def = lookup(first);
    if (!def) throw new SyntaxError_(`unknown command: '${first}'`);
    i++;
    const opts = [...def.opts, jsonOpt];
    const { needArg, required } = positionalMask(opts);
    const seen = new Set<number>();
    const values = new Map<string, string | true>();
    const argv: string[] = [];
    let dataOnly = false;
    for (;;) {
      const tk = tokens[i];
      if (tk === null || tk === undefined) {
        i++;
        break;
      }
      i++;
      if (!dataOnly && tk.startsWith("--") && /^[A-Za-z0-9]$/.test(tk[2] ?? "")) {
        let name = tk.slice(2);
        let value: string | undefined;
        const eq = name.indexOf("=");
        if (eq >= 0) {
          value = name.slice(eq + 1);
          name = name.slice(0, eq);
        }
        const idx = opts.findIndex((o) => o.name === name);
        if (idx < 0) throw new SyntaxError_(`command '${def.name}' doesn't support option --${name}`);
        const opt = opts[idx]!;
        if (opt.type !== "argv" && seen.has(idx)) throw new SyntaxError_(`option --${name} already seen`);
        seen.add(idx);
        needArg.delete(idx);
        if (opt.type === "bool") {
          if (value !== undefined) throw new SyntaxError_(`invalid '=' after option --${name}`);
          values.set(opt.name, true);
          continue;
        }
        if (value === undefined) {
          const next = tokens[i];
          if (next === null || next === undefined) {
            throw new SyntaxError_(
              `expected syntax: --${name} <${opt.type === "int" ? "number" : "string"}>`,
            );
          }
          value = next;
          i++;
        }
        if (opt.type === "argv") argv.push(value);
        else values.set(opt.name, value);
        continue;
      }
      if (!dataOnly && tk === "--") {
        dataOnly = true;
        continue;
      }
      // Data: the first option still waiting for a value.
      const idx = [...needArg].sort((a, b) => a - b)[0];
      if (idx === undefined) {
        if (def.name === "help") continue;
        throw new SyntaxError_(`unexpected data '${tk}'`);
      }
      const opt = opts[idx]!;
      seen.add(idx);
      if (opt.type === "argv") argv.push(tk);
      else {
        needArg.delete(idx);
        values.set(opt.name, tk);
      }
    }
    for (const r of [...required].sort((a, b) => a - b)) {
      if (seen.has(r)) continue;
      const opt = opts[r]!;
      throw new SyntaxError_(
        opt.type === "data" || opt.type === "argv"
          ? `command '${def.name}' requires <${opt.name}> option`
          : `command '${def.name}' requires --${opt.name} option`,
      );
    }
    cmds.push(new ParsedCmd(def, values, argv));
  }
  return cmds;
}

// ---------------------------------------------------------------------------------------------
// Help text (vshCmddefHelp, vshCmdGrpHelp)
// ---------------------------------------------------------------------------------------------

export function commandHelp(def: {
  name: string;
  help: string;
  desc?: string | undefined;
  opts: readonly OptDef[];
}): string {
  const opts = def.opts.filter((o) => !o.extension);
  let s = "  NAME\n";
  s += `    ${def.name} - ${def.help}\n`;
  s += "\n  SYNOPSIS\n";
  s += `    ${def.name}`;
  const shortopt = opts.some((o) => o.type === "data");
  for (const o of opts) {
    let fmt: string;
    switch (o.type) {
      case "bool":
        fmt = `[--${o.name}]`;
        break;
      case "int":
        fmt = o.required ? `<${o.name}>` : `[--${o.name} <number>]`;
        break;
      case "string":
        fmt = `[--${o.name} <string>]`;
        break;
      case "data":
        fmt = o.required ? `<${o.name}>` : `[<${o.name}>]`;
        break;
      case "argv":
        // virsh (vshCmddefHelp): after a data option an optional argv is shown by its name too
        fmt = o.required
          ? `{[--${o.name}] <string>}...`
          : shortopt
            ? `[[--${o.name}] <string>]...`
            : `[<${o.name}>]...`;
        break;
    }
    s += ` ${fmt}`;
  }
  s += "\n";
  if (def.desc) s += `\n  DESCRIPTION\n    ${def.desc}\n`;
  if (opts.length > 0) {
    s += "\n  OPTIONS\n";
    for (const o of opts) {
      let buf: string;
      switch (o.type) {
        case "bool":
          buf = `--${o.name}`;
          break;
        case "int":
          buf = o.required ? `[--${o.name}] <number>` : `--${o.name} <number>`;
          break;
        case "string":
          buf = `--${o.name} <string>`;
          break;
        case "data":
          buf = `[--${o.name}] <string>`;
          break;
        case "argv":
          buf = o.required || shortopt ? `[--${o.name}] <string>` : `<${o.name}>`;
          break;
      }
      s += `    ${buf.padEnd(15)}  ${o.help}\n`;
    }
  }
  s += "\n";
  return s;
}

/** The order of a group's listing: by `listAfter` (0 first), then by name. */
export function byListOrder(
  a: { name: string; listAfter?: number },
  b: { name: string; listAfter?: number },
): number {
  const d = (a.listAfter ?? 0) - (b.listAfter ?? 0);
  if (d !== 0) return d;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function groupHelp(key: GroupKey, cmds: readonly { name: string; help: string }[]): string {
  let s = ` ${groups[key]} (help keyword '${key}'):\n`;
  for (const c of cmds) s += `    ${c.name.padEnd(30)} ${c.help}\n`;
  return s;
}
