/**
 * `console`: attach the terminal to a guest's serial console through the driver's console
 * stream (`virDomainOpenConsole`); the escape character (`^]` unless `-e` says otherwise)
 * detaches. Drivers without console streams (the test driver) refuse with "this function is
 * not supported by the connection driver: virDomainOpenConsole", as libvirt's do.
 */
import { DomainState, type Domain } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";

/** The byte an escape string (`^]`, `^A`, `~`) stands for. */
export function escapeByte(escape: string): number {
  if (escape.length === 2 && escape[0] === "^") return escape.toUpperCase().charCodeAt(1) & 0x1f;
  return escape.charCodeAt(0);
}

/** cmdRunConsole */
export async function runConsole(
  ctx: Ctx,
  dom: Domain,
  devname: string | null,
  flags: number,
): Promise<boolean> {
  let state: number;
  try {
    state = (await dom.getState()).state;
  } catch (e) {
    return ctx.fail("Unable to get domain status", e);
  }
  if (state === DomainState.SHUTOFF) return ctx.fail("The domain is not running");
  if (!process.stdin.isTTY) return ctx.fail("Cannot run interactive console without a controlling TTY");
  ctx.printExtra(`Connected to domain '${dom.name}'\n`);
  const esc = ctx.opts.escape;
  ctx.printExtra(`Escape character is ${esc}${esc.startsWith("^") ? ` (Ctrl + ${esc[1] ?? ""})` : ""}\n`);
  let stream;
  try {
    stream = await dom.openConsole(devname, flags);
  } catch (e) {
    return ctx.fail(undefined, e);
  }
  const escByte = escapeByte(esc);
  const stdin = process.stdin;
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  stdin.resume();
  await new Promise<void>((resolve) => {
    const onInput = (chunk: Buffer): void => {
      const i = chunk.indexOf(escByte);
      if (i >= 0) {
        if (i > 0) stream.write(chunk.subarray(0, i));
        done();
        return;
      }
      stream.write(chunk);
    };
    const done = (): void => {
      stdin.off("data", onInput);
      resolve();
    };
    stdin.on("data", onInput);
    stream.onData((d) => process.stdout.write(d));
    stream.onEnd(done);
  });
  stdin.setRawMode(wasRaw);
  stdin.pause();
  await stream.close().catch(() => undefined);
  return true;
}

export const consoleCmd: CmdDef<Ctx> = {
  name: "console",
  group: "domain",
  help: "connect to the guest console",
  desc: "Connect the virtual serial console for the guest",
  opts: [
    { name: "domain", type: "data", required: true, help: "domain name, id or uuid", complete: "domain" },
    { name: "devname", type: "string", help: "character device name" },
    { name: "force", type: "bool", help: "force console connection (disconnect already connected sessions)" },
    { name: "safe", type: "bool", help: "only connect if safe console handling is supported" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const devname = ctx.optString(cmd, "devname");
    if (devname === null) return false;
    let flags = 0;
    if (cmd.bool("force")) flags |= 1; // VIR_DOMAIN_CONSOLE_FORCE
    if (cmd.bool("safe")) flags |= 2; // VIR_DOMAIN_CONSOLE_SAFE
    if (ctx.json) {
      return ctx.fail("console is interactive and has no JSON form");
    }
    return runConsole(ctx, dom, devname ?? null, flags);
  },
};
