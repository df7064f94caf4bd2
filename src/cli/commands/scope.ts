/**
 * virsh's scope options of commands that change a domain now, at next boot or both
 * (`--live`, `--config`, `--current`, and `--persistent` where the command has it), read the way
 * virsh reads them: `--current` excludes the others, checked before the domain is looked up.
 * The flag values are libvirt's `virDomainModificationImpact` (LIVE 1, CONFIG 2).
 */
import { DomainModificationImpact as I } from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { OptDef, ParsedCmd } from "../grammar.ts";

export const persistentOpt: OptDef = {
  name: "persistent",
  type: "bool",
  help: "make live change persistent",
};
export const configOpt: OptDef = { name: "config", type: "bool", help: "affect next boot" };
export const liveOpt: OptDef = { name: "live", type: "bool", help: "affect running domain" };
export const currentOpt: OptDef = { name: "current", type: "bool", help: "affect current domain" };

export interface Scope {
  /** LIVE and CONFIG bits (`--persistent` counts as CONFIG). */
  readonly flags: number;
  readonly current: boolean;
  readonly persistent: boolean;
  /** A scope was given: the `...Flags` API is called (virsh calls the plain one otherwise). */
  readonly any: boolean;
}

/** The scope options, or undefined after printing virsh's error for an exclusive pair. */
export function scopeOf(ctx: Ctx, cmd: ParsedCmd<Ctx>): Scope | undefined {
  if (!ctx.exclusive(cmd, "persistent", "current")) return undefined;
  if (!ctx.exclusive(cmd, "current", "live")) return undefined;
  if (!ctx.exclusive(cmd, "current", "config")) return undefined;
  let flags = 0;
  if (cmd.bool("config") || cmd.bool("persistent")) flags |= I.CONFIG;
  if (cmd.bool("live")) flags |= I.LIVE;
  const current = cmd.bool("current");
  return { flags, current, persistent: cmd.bool("persistent"), any: flags !== 0 || current };
}
