/**
 * The guest agent's commands, as virsh 9.0 prints them (`tools/virsh-domain.c`):
 * qemu-agent-command, guest-agent-timeout, domfsfreeze, domfsthaw, domfsinfo, guestinfo,
 * set-user-password and guestvcpus.
 */
import {
  domainAgentSetResponseTimeout,
  domainFSFreeze,
  domainFSThaw,
  domainGetFSInfo,
  domainGetGuestInfo,
  domainGetGuestVcpus,
  domainQemuAgentCommand,
  domainSetGuestVcpus,
  domainSetUserPassword,
} from "../../api/agent.ts";
import type { TypedParameter } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { domJson, domainOpt } from "./domain.ts";
import { typedParamText } from "./tuning.ts";

type Cmd = CmdDef<Ctx>;

// VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK / _DEFAULT / _NOWAIT
const AGENT_BLOCK = -2;
const AGENT_DEFAULT = -1;
const AGENT_NOWAIT = 0;

// --- JSON as libvirt's virJSONValueToString(pretty) writes it --------------------------------

/** A parsed JSON value that keeps what JSON.parse loses: member order and number spelling. */
type JValue =
  | { t: "obj"; members: [string, JValue][] }
  | { t: "arr"; items: JValue[] }
  | { t: "str"; v: string }
  | { t: "lit"; text: string }; // number, true, false, null: as written

const STRING = /"(?:[^"\\]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/** What sticky `re` matches at `at` (no copy of the text: replies can be large). */
function exec(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  return re.exec(text)?.[0];
}

/** Parses `text` (undefined if it is not one JSON value). */
export function parseOrderedJson(text: string): JValue | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const value = (): JValue => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const members: [string, JValue][] = [];
      ws();
      if (text[i] === "}") {
        i++;
        return { t: "obj", members };
      }
      for (;;) {
        ws();
        const k = value();
        if (k.t !== "str") throw new SyntaxError("key");
        ws();
        if (text[i++] !== ":") throw new SyntaxError(":");
        members.push([k.v, value()]);
        ws();
        const d = text[i++];
        if (d === "}") return { t: "obj", members };
        if (d !== ",") throw new SyntaxError(",");
      }
    }
    if (c === "[") {
      i++;
      const items: JValue[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { t: "arr", items };
      }
      for (;;) {
        items.push(value());
        ws();
        const d = text[i++];
        if (d === "]") return { t: "arr", items };
        if (d !== ",") throw new SyntaxError(",");
      }
    }
    if (c === '"') {
      // JSON.parse rejects what the pattern lets through (raw control characters)
      const m = exec(STRING, text, i);
      if (!m) throw new SyntaxError("string");
      i += m.length;
      return { t: "str", v: JSON.parse(m) as string };
    }
    const m = exec(LITERAL, text, i);
    if (!m) throw new SyntaxError("value");
    i += m.length;
    return { t: "lit", text: m };
  };
  try {
    const v = value();
    ws();
    return i === text.length ? v : undefined;
  } catch {
    return undefined;
  }
}

/** yajl's string escapes (quote, backslash, control characters; "/" left alone). */
function yajlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, "0").toUpperCase()}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * yajl's beautified form, as virsh 9.0 prints `--pretty`: two-space indent, `"key": value`,
 * an opening bracket always followed by a newline (so an empty object is "{", "", "}"), and a
 * final newline.
 */
export function yajlPretty(v: JValue): string {
  const gen = (x: JValue, depth: number): string => {
    const pad = "  ".repeat(depth + 1);
    const end = "  ".repeat(depth);
    switch (x.t) {
      case "obj":
        return `{\n${x.members.map(([k, m]) => `${pad}${yajlString(k)}: ${gen(m, depth + 1)}`).join(",\n")}\n${end}}`;
      case "arr":
        return `[\n${x.items.map((m) => `${pad}${gen(m, depth + 1)}`).join(",\n")}\n${end}]`;
      case "str":
        return yajlString(x.v);
      case "lit":
        return x.text;
    }
  };
  return `${gen(v, 0)}\n`;
}

// --- commands ----------------------------------------------------------------------------------

const qemuAgentCommand: Cmd = {
  name: "qemu-agent-command",
  group: "domain",
  help: "QEMU Guest Agent Command",
  desc: "Run an arbitrary qemu guest agent command; use at your own risk",
  opts: [
    domainOpt(),
    { name: "timeout", type: "int", named: true, help: "timeout seconds. must be positive." },
    { name: "async", type: "bool", help: "execute command without waiting for timeout" },
    { name: "block", type: "bool", help: "execute command without timeout" },
    { name: "pretty", type: "bool", help: "pretty-print the output" },
    { name: "cmd", type: "argv", required: true, help: "command" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    // virsh joins the words of the command with spaces
    const text = cmd.argv.join(" ");
    const t = ctx.optInt(cmd, "timeout");
    if (t === null) return false;
    let timeout = AGENT_DEFAULT;
    let judge = 0;
    if (t !== undefined) {
      if (t < 1) return ctx.fail("timeout must be positive");
      timeout = t;
      judge++;
    }
    if (cmd.bool("async")) {
      timeout = AGENT_NOWAIT;
      judge++;
    }
    if (cmd.bool("block")) {
      timeout = AGENT_BLOCK;
      judge++;
    }
    if (judge > 1) return ctx.fail("timeout, async and block options are exclusive");
    let result: string;
    try {
      result = await domainQemuAgentCommand(dom, text, timeout, 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    let shown = result;
    const parsed = parseOrderedJson(result);
    if (cmd.bool("pretty") && parsed) shown = yajlPretty(parsed);
    ctx.print(`${shown}\n`);
    let value: unknown = null;
    try {
      value = JSON.parse(result);
    } catch {
      // not JSON (an asynchronous command has no reply)
    }
    ctx.emit({ domain: domJson(dom), result, reply: value });
    return true;
  },
};

const guestAgentTimeout: Cmd = {
  name: "guest-agent-timeout",
  group: "domain",
  help: "Set the guest agent timeout",
  desc: "Set the number of seconds to wait for a response from the guest agent.",
  opts: [domainOpt(), { name: "timeout", type: "int", named: true, help: "timeout seconds." }],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const t = ctx.optInt(cmd, "timeout");
    if (t === null) return false;
    // without --timeout: block (VIR_DOMAIN_AGENT_RESPONSE_TIMEOUT_BLOCK)
    const timeout = t ?? AGENT_BLOCK;
    try {
      await domainAgentSetResponseTimeout(dom, timeout, 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ domain: domJson(dom), timeout });
    return true;
  },
};

function fsFreezeThaw(freeze: boolean): Cmd {
  const verb = freeze ? "Freeze" : "Thaw";
  return {
    name: freeze ? "domfsfreeze" : "domfsthaw",
    group: "domain",
    help: `${verb} domain's mounted filesystems.`,
    desc: `${verb} domain's mounted filesystems.`,
    opts: [
      domainOpt(),
      { name: "mountpoint", type: "argv", help: `mountpoint path to be ${freeze ? "frozen" : "thawed"}` },
    ],
    async run(ctx, cmd) {
      const dom = await ctx.domain(cmd);
      if (!dom) return false;
      const mountpoints = [...cmd.argv];
      let n: number;
      try {
        n = await (freeze ? domainFSFreeze : domainFSThaw)(dom, mountpoints, 0);
      } catch (e) {
        return ctx.fail(`Unable to ${freeze ? "freeze" : "thaw"} filesystems`, e);
      }
      ctx.print(`${freeze ? "Froze" : "Thawed"} ${n} filesystem(s)\n`);
      ctx.emit({ domain: domJson(dom), mountpoints, [freeze ? "frozen" : "thawed"]: n });
      return true;
    },
  };
}

const domfsinfo: Cmd = {
  name: "domfsinfo",
  group: "domain",
  help: "Get information of domain's mounted filesystems.",
  desc: "Get information of domain's mounted filesystems.",
  opts: [domainOpt()],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let info;
    try {
      info = await domainGetFSInfo(dom, 0);
    } catch (e) {
      return ctx.fail("Unable to get filesystem information", e);
    }
    const filesystems = info.map((f) => ({
      mountpoint: f.mountpoint,
      name: f.name,
      fstype: f.fstype,
      targets: f.devAliases,
    }));
    if (info.length === 0) {
      ctx.printExtra("No filesystems are mounted in the domain");
    } else {
      const rows = info.map((f) => [f.mountpoint, f.name, f.fstype, f.devAliases.join(",")]);
      ctx.print(formatTable(["Mountpoint", "Name", "Type", "Target"], rows, ctx.quiet));
    }
    ctx.emit({ domain: domJson(dom), filesystems });
    return true;
  },
};

/** guestinfo's options and their virDomainGuestInfoTypes bits, in virsh's order. */
const GUEST_INFO_TYPES: [string, number, string][] = [
  ["user", 1 << 0, "report active users"],
  ["os", 1 << 1, "report operating system information"],
  ["timezone", 1 << 2, "report timezone information"],
  ["hostname", 1 << 3, "report hostname"],
  ["filesystem", 1 << 4, "report filesystem information"],
  ["disk", 1 << 5, "report disk information"],
  ["interface", 1 << 6, "report interface information"],
];

/** A typed parameter's value in --json: 64-bit numbers as decimal strings. */
function paramJson(p: TypedParameter): string | number | boolean {
  const v = p.value.value;
  return typeof v === "bigint" ? v.toString() : v;
}

const guestinfo: Cmd = {
  name: "guestinfo",
  group: "domain",
  help: "query information about the guest (via agent)",
  desc: "Use the guest agent to query various information from guest's point of view",
  opts: [domainOpt(), ...GUEST_INFO_TYPES.map(([name, , help]) => ({ name, type: "bool" as const, help }))],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let types = 0;
    for (const [name, bit] of GUEST_INFO_TYPES) if (cmd.bool(name)) types |= bit;
    let params: TypedParameter[];
    try {
      params = await domainGetGuestInfo(dom, types, 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(params.map((p) => `${p.field.padEnd(20)}: ${typedParamText(p)}\n`).join(""));
    ctx.emit({ domain: domJson(dom), info: Object.fromEntries(params.map((p) => [p.field, paramJson(p)])) });
    return true;
  },
};

const setUserPassword: Cmd = {
  name: "set-user-password",
  group: "domain",
  help: "set the user password inside the domain",
  desc: "changes the password of the specified user inside the domain",
  opts: [
    domainOpt(),
    { name: "user", type: "data", required: true, help: "the username" },
    { name: "password", type: "data", required: true, help: "the new password" },
    { name: "encrypted", type: "bool", help: "the password is already encrypted" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const encrypted = cmd.bool("encrypted");
    const user = ctx.optString(cmd, "user");
    if (user === null || user === undefined) return false;
    const password = ctx.optString(cmd, "password");
    if (password === null || password === undefined) return false;
    try {
      await domainSetUserPassword(dom, user, password, encrypted ? 1 : 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.printExtra(`Password set successfully for ${user} in ${dom.name}`);
    ctx.emit({ domain: domJson(dom), user, encrypted, set: true });
    return true;
  },
};

const guestvcpus: Cmd = {
  name: "guestvcpus",
  group: "domain",
  help: "query or modify state of vcpu in the guest (via agent)",
  desc: "Use the guest agent to query or set cpu state from guest's point of view",
  opts: [
    domainOpt(),
    { name: "cpulist", type: "string", named: true, help: "list of cpus to enable or disable" },
    { name: "enable", type: "bool", help: "enable cpus specified by cpulist" },
    { name: "disable", type: "bool", help: "disable cpus specified by cpulist" },
  ],
  async run(ctx, cmd) {
    const enable = cmd.bool("enable");
    const disable = cmd.bool("disable");
    if (!ctx.exclusive(cmd, "enable", "disable")) return false;
    for (const o of ["enable", "disable"])
      if (cmd.has(o) && !cmd.has("cpulist")) return ctx.fail(`Option --cpulist is required by option --${o}`);
    const cpulist = ctx.optString(cmd, "cpulist");
    if (cpulist === null) return false;
    if (cpulist !== undefined && !enable && !disable)
      return ctx.fail("One of options --enable or --disable is required by option --cpulist");
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    try {
      if (cpulist !== undefined) {
        await domainSetGuestVcpus(dom, cpulist, enable ? 1 : 0, 0);
        ctx.emit({ domain: domJson(dom), cpulist, state: enable ? "enabled" : "disabled" });
        return true;
      }
      const params = await domainGetGuestVcpus(dom, 0);
      ctx.print(params.map((p) => `${p.field.padEnd(15)}: ${typedParamText(p)}\n`).join(""));
      ctx.emit({
        domain: domJson(dom),
        vcpus: Object.fromEntries(params.map((p) => [p.field, paramJson(p)])),
      });
      return true;
    } catch (e) {
      return ctx.fail(undefined, e);
    }
  },
};

export const agentCommands: Cmd[] = [
  qemuAgentCommand,
  guestAgentTimeout,
  fsFreezeThaw(true),
  fsFreezeThaw(false),
  domfsinfo,
  guestinfo,
  setUserPassword,
  guestvcpus,
];
