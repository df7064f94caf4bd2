/**
 * `domxml-to-native <format> [--domain D] [--xml FILE] [--caps FILE] [--json]`: the native
 * configuration (for QEMU: the command line, env first, shell-quoted) of a domain XML.
 *
 * Through a connection this is `virConnectDomainXMLToNative` (the test driver refuses it, as
 * libvirt's does). Until the QEMU driver is registered, a `qemu` URI — or `--caps FILE`, which
 * builds for a libvirt QEMU capabilities file instead of the installed QEMU — is served with no
 * connection, by the API's `domainXMLToQemuArgv`.
 */
import {
  defaultURI,
  domainXMLToQemuArgv,
  parseURI,
  registeredSchemes,
  type Domain,
  VirtError,
} from "../../api/index.ts";
import { shellJoin, shellQuote } from "../../util/shell-quote.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";

/** True when the command is served here, with no connection (see the module comment). */
export function nativeOffline(ctx: Ctx, cmd: ParsedCmd<Ctx>): boolean {
  if (cmd.has("caps")) return true;
  const uri = ctx.conn?.uri ?? ctx.opts.uri ?? defaultURI();
  try {
    return parseURI(uri).driver === "qemu" && !registeredSchemes().includes("qemu");
  } catch {
    return false;
  }
}

export const domxmlToNative: CmdDef<Ctx> = {
  name: "domxml-to-native",
  group: "domain",
  help: "Convert domain XML to native config",
  desc: "Convert domain XML config to a native guest configuration format.",
  opts: [
    {
      name: "format",
      type: "data",
      required: true,
      help: "target config data type format",
      complete: "list",
      values: ["qemu-argv"],
    },
    { name: "domain", type: "string", named: true, help: "domain name, id or uuid", complete: "domain" },
    { name: "xml", type: "string", help: "xml data file to export from", complete: "file" },
    {
      name: "caps",
      type: "string",
      named: true,
      extension: true,
      help: "build for this libvirt QEMU capabilities file instead of the installed QEMU",
      complete: "file",
    },
  ],
  noConnect: nativeOffline,
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "domain", "xml")) return false;
    const format = ctx.optString(cmd, "format");
    const domName = ctx.optString(cmd, "domain");
    const xmlFile = ctx.optString(cmd, "xml");
    const caps = ctx.optString(cmd, "caps");
    if (format == null || domName === null || xmlFile === null || caps === null) return false;
    let dom: Domain | undefined;
    if (domName !== undefined) dom = await ctx.domain(cmd);
    if (!dom && xmlFile === undefined) return ctx.fail("need either domain or domain XML");
    let xml: string | undefined;
    if (dom) {
      try {
        xml = await dom.getXMLDesc(0);
      } catch (e) {
        return ctx.fail(undefined, e);
      }
    } else {
      xml = await ctx.readFile(xmlFile!);
      if (xml === undefined) return false;
    }

    if (nativeOffline(ctx, cmd)) {
      if (format !== "qemu-argv") {
        return ctx.fail(
          undefined,
          new VirtError("CONFIG_UNSUPPORTED", { what: `unsupported config type ${format}` }),
        );
      }
      let res;
      try {
        res = await domainXMLToQemuArgv(xml, {
          document: xmlFile ?? "(domain_definition)",
          ...(caps !== undefined ? { capsFile: caps } : {}),
        });
      } catch (e) {
        return ctx.fail(undefined, e);
      }
      if (ctx.json) {
        ctx.emit({
          env: Object.fromEntries(res.env),
          emulator: res.emulator,
          args: res.args,
          warnings: res.warnings,
        });
        return true;
      }
      for (const w of res.warnings) ctx.io.err(`warning: ${w.message}\n`);
      const env = res.env.map(([k, v]) => `${k}=${shellQuote(v)}`);
      ctx.print([...env, shellJoin([res.emulator, ...res.args])].join(" "));
      return true;
    }

    let native: string;
    try {
      native = await ctx.connection().domainXMLToNative(format, xml, 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.print(native);
    ctx.emit({ native });
    return true;
  },
};
