/**
 * Secret commands (virsh's "Secret" group, `tools/virsh-secret.c` 9.0): secret-define,
 * secret-dumpxml, secret-event, secret-get-value, secret-list, secret-set-value,
 * secret-undefine. Texts and the table are virsh's. With `--json`: `{secrets: [{uuid,
 * usageType, usageID}]}` (secret-list), `{action, secret: {uuid, usageType, usageID}}` for
 * the changes, `{xml}`, `{value}` (base64; `--plain`: `{value, encoding: "utf8"}`),
 * secret-event `{events: [...], count, ended}`.
 */
import { readFile } from "node:fs/promises";
import {
  ConnectListSecretsFlags as L,
  SECRET_USAGE_NAMES,
  SecretEventId,
  VirtError,
  strerror,
  type Secret,
  type SecretEvent,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import { EventWait, chosenEventType, eventTimeout, eventTimestamp, eventWaitOpts } from "./event-loop.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";
import { formatTable } from "../table.ts";
import { dumpXPath } from "../xpath-output.ts";

type Cmd = CmdDef<Ctx>;

const secretOpt: OptDef = { name: "secret", type: "data", required: true, help: "secret UUID" };

/** virshCommandOptSecret: by UUID only; "failed to get secret 'x'" with libvirt's cause. */
async function findSecret(ctx: Ctx, cmd: ParsedCmd<Ctx>): Promise<Secret | undefined> {
  const uuid = ctx.optString(cmd, "secret");
  if (uuid === null) return undefined;
  if (uuid === undefined) {
    ctx.fail(`command '${cmd.def.name}' requires <secret> option`);
    return undefined;
  }
  try {
    return await ctx.connection().secretLookupByUUID(uuid);
  } catch (e) {
    ctx.fail(`failed to get secret '${uuid}'`, e);
    return undefined;
  }
}

function secretJson(s: Secret): { uuid: string; usageType: string; usageID: string } {
  return {
    uuid: s.uuid,
    usageType: SECRET_USAGE_NAMES[s.usageType] ?? String(s.usageType),
    usageID: s.usageID,
  };
}

/** vshStrcasecmp order. */
function byUUID(a: Secret, b: Secret): number {
  const x = a.uuid.toLowerCase();
  const y = b.uuid.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

const secretDefine: Cmd = {
  name: "secret-define",
  group: "secret",
  help: "define or modify a secret from an XML file",
  desc: "Define or modify a secret.",
  opts: [
    {
      name: "file",
      type: "data",
      required: true,
      help: "file containing secret attributes in XML",
      complete: "file",
    },
    { name: "validate", type: "bool", help: "validate the XML against the schema" },
  ],
  async run(ctx, cmd) {
    const from = ctx.optString(cmd, "file");
    if (!from) return false;
    const xml = await ctx.readFile(from);
    if (xml === undefined) return false;
    let s: Secret;
    try {
      s = await ctx.connection().secretDefineXML(xml, cmd.bool("validate") ? 1 : 0);
    } catch (e) {
      return ctx.fail(`Failed to set attributes from ${from}`, e);
    }
    ctx.printExtra(`Secret ${s.uuid} created\n`);
    ctx.emit({ action: "defined", secret: secretJson(s), file: from });
    return true;
  },
};

const secretDumpxml: Cmd = {
  name: "secret-dumpxml",
  group: "secret",
  help: "secret attributes in XML",
  desc: "Output attributes of a secret as an XML dump to stdout.",
  opts: [
    secretOpt,
    { name: "xpath", type: "string", named: true, help: "xpath expression to filter the XML document" },
    { name: "wrap", type: "bool", help: "wrap xpath results in an common root element" },
  ],
  async run(ctx, cmd) {
    const xpath = ctx.optString(cmd, "xpath");
    if (xpath === null) return false;
    const s = await findSecret(ctx, cmd);
    if (!s) return false;
    let xml: string;
    try {
      xml = await s.getXMLDesc(0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    return dumpXPath(ctx, xml, xpath, cmd.bool("wrap"));
  },
};

/** virGetPassword: one line from stdin, echo off on a terminal. */
function readSecretLine(): Promise<string | undefined> {
  const stdin = process.stdin;
  if (stdin.readableEnded) return Promise.resolve(undefined);
  const tty = stdin.isTTY;
  return new Promise((resolve) => {
    let buf = "";
    const done = (line: string | undefined, rest: string): void => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      if (tty) {
        stdin.setRawMode(false);
        process.stdout.write("\n");
      }
      stdin.pause();
      if (rest !== "") stdin.unshift(Buffer.from(rest, "utf8"));
      resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString("utf8");
      const nl = buf.search(/[\r\n]/);
      if (nl >= 0) done(buf.slice(0, nl), buf.slice(nl + 1));
    };
    const onEnd = (): void => {
      done(buf === "" ? undefined : buf, "");
    };
    if (tty) stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

/** virsh reads a value file with virFileReadAll(path, 1024). */
const MAX_VALUE_FILE = 1024;

const secretSetValue: Cmd = {
  name: "secret-set-value",
  group: "secret",
  help: "set a secret value",
  desc: "Set a secret value.",
  opts: [
    secretOpt,
    { name: "file", type: "string", named: true, help: "read secret from file", complete: "file" },
    { name: "plain", type: "bool", help: "read the secret from file without converting from base64" },
    { name: "interactive", type: "bool", help: "read the secret from the terminal" },
    { name: "base64", type: "string", named: true, help: "base64-encoded secret value" },
  ],
  async run(ctx, cmd) {
    for (const [a, b] of [
      ["file", "base64"],
      ["plain", "base64"],
      ["interactive", "base64"],
      ["interactive", "plain"],
      ["interactive", "file"],
    ] as const) {
      if (!ctx.exclusive(cmd, a, b)) return false;
    }
    let plain = cmd.bool("plain");
    const s = await findSecret(ctx, cmd);
    if (!s) return false;
    const base64 = ctx.optString(cmd, "base64");
    if (base64 === null) return false;
    const file = ctx.optString(cmd, "file");
    if (file === null) return false;
    let raw: Buffer;
    if (base64 !== undefined) {
      ctx.error("Passing secret value as command-line argument is insecure!");
      raw = Buffer.from(base64, "utf8");
    } else if (file !== undefined) {
      try {
        raw = await readFile(file);
      } catch (e) {
        const code = typeof e === "object" && e !== null && "code" in e ? String(e.code) : "";
        const reason = strerror(e);
        return ctx.fail(
          undefined,
          code === "EISDIR"
            ? new VirtError("FILE_READ_FAILED_SYS", { path: file, reason })
            : new VirtError("FILE_OPEN_FAILED", { path: file, reason }),
        );
      }
      if (raw.length > MAX_VALUE_FILE) {
        raw.fill(0);
        return ctx.fail(
          undefined,
          new VirtError("FILE_READ_FAILED_SYS", {
            path: file,
            reason: "Value too large for defined data type",
          }),
        );
      }
    } else if (cmd.bool("interactive")) {
      ctx.print("Enter new value for secret:");
      const line = await readSecretLine();
      if (line === undefined) return ctx.fail("Failed to read secret");
      raw = Buffer.from(line, "utf8");
      plain = true;
    } else {
      return ctx.fail("Input secret value is missing");
    }
    const value = plain ? raw : Buffer.from(raw.toString("latin1"), "base64");
    if (!plain) raw.fill(0);
    try {
      await s.setValue(value, 0);
    } catch (e) {
      return ctx.fail("Failed to set secret value", e);
    } finally {
      value.fill(0);
    }
    ctx.printExtra("Secret value set\n");
    ctx.emit({ action: "value-set", secret: secretJson(s) });
    return true;
  },
};

const secretGetValue: Cmd = {
  name: "secret-get-value",
  group: "secret",
  help: "Output a secret value",
  desc: "Output a secret value to stdout.",
  opts: [secretOpt, { name: "plain", type: "bool", help: "get value without converting to base64" }],
  async run(ctx, cmd) {
    const s = await findSecret(ctx, cmd);
    if (!s) return false;
    let value: Buffer;
    try {
      value = Buffer.from(await s.getValue(0));
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    const plain = cmd.bool("plain");
    const text = plain ? value.toString("utf8") : value.toString("base64");
    ctx.print(text);
    ctx.emit(plain ? { value: text, encoding: "utf8" } : { value: text });
    value.fill(0);
    return true;
  },
};

const secretUndefine: Cmd = {
  name: "secret-undefine",
  group: "secret",
  help: "undefine a secret",
  desc: "Undefine a secret.",
  opts: [secretOpt],
  async run(ctx, cmd) {
    const given = ctx.optString(cmd, "secret") ?? "";
    const s = await findSecret(ctx, cmd);
    if (!s) return false;
    try {
      await s.undefine();
    } catch (e) {
      return ctx.fail(`Failed to delete secret ${given}`, e);
    }
    ctx.printExtra(`Secret ${given} deleted\n`);
    ctx.emit({ action: "undefined", secret: secretJson(s) });
    return true;
  },
};

const secretList: Cmd = {
  name: "secret-list",
  group: "secret",
  help: "list secrets",
  desc: "Returns a list of secrets",
  opts: [
    { name: "ephemeral", type: "bool", help: "list ephemeral secrets" },
    { name: "no-ephemeral", type: "bool", help: "list non-ephemeral secrets" },
    { name: "private", type: "bool", help: "list private secrets" },
    { name: "no-private", type: "bool", help: "list non-private secrets" },
  ],
  async run(ctx, cmd) {
    let flags = 0;
    if (cmd.bool("ephemeral")) flags |= L.EPHEMERAL;
    if (cmd.bool("no-ephemeral")) flags |= L.NO_EPHEMERAL;
    if (cmd.bool("private")) flags |= L.PRIVATE;
    if (cmd.bool("no-private")) flags |= L.NO_PRIVATE;
    const conn = ctx.connection();
    let list: Secret[];
    try {
      list = await conn.listAllSecrets(flags);
    } catch (e) {
      const err = e instanceof VirtError ? e : undefined;
      if (err?.virCode !== 3) return ctx.fail("Failed to list node secrets", e);
      // virsh's fallback for drivers without the list-all call
      if (flags) return ctx.fail("Filtering is not supported by this libvirt");
      try {
        const n = await conn.numOfSecrets();
        list = [];
        if (n > 0) {
          for (const u of await conn.listSecrets(n)) {
            const s = await conn.secretLookupByUUID(u).catch(() => undefined);
            if (s) list.push(s);
          }
        }
      } catch (e2) {
        return ctx.fail("Failed to count secrets", e2);
      }
    }
    list.sort(byUUID);
    ctx.print(
      formatTable(
        ["UUID", "Usage"],
        list.map((s) => [
          s.uuid,
          s.usageType ? `${SECRET_USAGE_NAMES[s.usageType] ?? ""} ${s.usageID}` : "Unused",
        ]),
        ctx.opts.quiet,
      ),
    );
    ctx.emit({ secrets: list.map(secretJson) });
    return true;
  },
};

/** virshSecretEventToString */
const LIFECYCLE_WORDS = ["Defined", "Undefined"] as const;

const secretEvent: Cmd = {
  name: "secret-event",
  group: "secret",
  help: "Secret Events",
  desc: "List event types, or wait for secret events to occur",
  opts: [
    { name: "secret", type: "string", help: "filter by secret name or uuid" },
    { name: "event", type: "string", help: "which event type to wait for" },
    ...eventWaitOpts,
  ],
  async run(ctx, cmd) {
    const names = ["lifecycle", "value-changed"];
    const chosen = chosenEventType(ctx, cmd, names);
    if (chosen === "listed") return true;
    if (chosen === null) return false;
    const loop = cmd.bool("loop");
    const stamp = cmd.bool("timestamp");
    const timeoutS = eventTimeout(ctx, cmd);
    if (timeoutS === null) return false;
    const secret = cmd.has("secret") ? ((await findSecret(ctx, cmd)) ?? null) : null;
    const conn = ctx.connection();
    const w = new EventWait(loop);
    let reg: number | undefined;
    try {
      try {
        reg = await conn.secretEventRegisterAny(secret, chosen.id, (s: Secret, ev: SecretEvent) => {
          if (!w.accepts()) return;
          const ts = stamp ? eventTimestamp() : undefined;
          const pre = ts ? `${ts}: ` : "";
          if (ev.id === SecretEventId.LIFECYCLE) {
            const word = LIFECYCLE_WORDS[ev.event] ?? "unknown";
            ctx.print(`${pre}event 'lifecycle' for secret ${s.uuid}: ${word}\n`);
            w.record({
              event: chosen.name,
              secret: secretJson(s),
              lifecycle: { event: word.toLowerCase(), eventCode: ev.event },
              ...(ts ? { timestamp: ts } : {}),
            });
          } else {
            ctx.print(`${pre}event '${chosen.name}' for secret ${s.uuid}\n`);
            w.record({ event: chosen.name, secret: secretJson(s), ...(ts ? { timestamp: ts } : {}) });
          }
        });
      } catch (e) {
        return ctx.fail(undefined, e);
      }
      await w.wait(ctx, timeoutS);
    } finally {
      if (reg !== undefined) await conn.secretEventDeregisterAny(reg).catch(() => undefined);
    }
    return w.count > 0;
  },
};

export const secretCommands: Cmd[] = [
  secretDefine,
  secretDumpxml,
  secretEvent,
  secretGetValue,
  secretList,
  secretSetValue,
  secretUndefine,
];
