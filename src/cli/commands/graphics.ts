/**
 * Graphical consoles (issue 19): `vncdisplay` and `domdisplay` read the live XML as virsh 9.0
 * does (so they work on any driver that fills the ports in, stock libvirt included).
 */
import {
  DomainXMLFlags,
  parseXmlTree,
  selectNodes,
  selectValue,
  type Domain,
  type XElement,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef } from "../grammar.ts";
import { domainOpt, domJson } from "./domain.ts";

type Cmd = CmdDef<Ctx>;

/** The live XML of a running domain, or undefined with virsh's error printed. */
async function runningXML(ctx: Ctx, dom: Domain, flags: number): Promise<XElement | undefined> {
  try {
    if (!(await dom.isActive())) {
      ctx.fail("Domain is not running");
      return undefined;
    }
    return parseXmlTree(await dom.getXMLDesc(flags));
  } catch (e) {
    ctx.fail(undefined, e);
    return undefined;
  }
}

/** virXPathInt: the integer value, or undefined when the node is missing or not a number. */
function xpathInt(root: XElement, xpath: string): number | undefined {
  const v = selectValue(root, xpath);
  if (v === undefined || !/^\s*[+-]?\d+\s*$/.test(v)) return undefined;
  return Number(v);
}

/** virXPathString: undefined for a missing node or an empty value. */
function xpathString(root: XElement, xpath: string): string | undefined {
  const v = selectValue(root, xpath);
  return v === undefined || v === "" ? undefined : v;
}

/** virSocketAddrIsWildcard of a listen address. */
function isWildcard(addr: string): boolean {
  if (/^0+(\.0+){3}$/.test(addr)) return true;
  return /^[0:]+$/.test(addr) && addr.includes(":");
}

const vncdisplay: Cmd = {
  name: "vncdisplay",
  group: "domain",
  help: "vnc display",
  desc: "Output the IP address and port number for the VNC display.",
  opts: [domainOpt()],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const root = await runningXML(ctx, dom, 0);
    if (!root) return false;
    const port = xpathInt(root, "/domain/devices/graphics[@type='vnc']/@port");
    if (port === undefined) return ctx.fail("Failed to get VNC port. Is this domain using VNC?");
    const listen =
      xpathString(root, "/domain/devices/graphics[@type='vnc']/@listen") ??
      xpathString(root, "/domain/devices/graphics[@type='vnc']/listen/@address");
    const address = listen === undefined || listen === "0.0.0.0" || listen === "::" ? "" : listen;
    const display = `${address}:${port - 5900}`;
    ctx.print(`${display}\n`);
    ctx.emit({ display, address: listen ?? null, port, domain: domJson(dom) });
    return true;
  },
};

/** The client URIs of a domain's graphics, virsh's cmdDomDisplay (the host of `uri` for wildcards). */
export function displayURIs(root: XElement, connURI: string, type: string | undefined): string[] {
  const out: string[] = [];
  for (const scheme of type !== undefined ? [type] : ["vnc", "spice", "rdp"]) {
    const g = `/domain/devices/graphics[@type='${scheme}']`;
    if (selectNodes(root, g).length === 0) continue;
    let port = xpathInt(root, `${g}/@port`) ?? 0;
    const tlsPort = scheme === "spice" ? (xpathInt(root, `${g}/@tlsPort`) ?? 0) : 0;
    let listen = xpathString(root, `${g}/@listen`) ?? xpathString(root, `${g}/listen/@address`);
    const socket =
      listen === undefined
        ? (xpathString(root, `${g}/listen[@type='socket']/@socket`) ?? xpathString(root, `${g}/@socket`))
        : undefined;
    if (port === 0 && tlsPort === 0 && socket === undefined) continue;
    if (listen !== undefined && isWildcard(listen)) listen = undefined;
    const passwd = xpathString(root, `${g}/@passwd`);
    let uri: string;
    if (socket !== undefined) {
      uri = `${scheme}+unix://${socket}`;
    } else {
      let host = listen;
      if (host === undefined) {
        try {
          host = new URL(connURI).hostname || undefined;
        } catch {
          host = undefined;
        }
      }
      host ??= "localhost";
      // VNC clients take the password as the user part of the URI
      const user = passwd !== undefined && scheme === "vnc" ? `:${passwd}@` : "";
      uri = `${scheme}://${user}${host.includes(":") ? `[${host}]` : host}`;
      if (port !== 0) {
        if (scheme === "vnc") port -= 5900;
        uri += `:${port}`;
      }
    }
    let params = false;
    if (tlsPort !== 0) {
      uri += `?tls-port=${tlsPort}`;
      params = true;
    }
    if (passwd !== undefined && (scheme !== "vnc" || socket !== undefined))
      uri += `${params ? "&" : "?"}password=${passwd}`;
    out.push(uri);
  }
  return out;
}

const domdisplay: Cmd = {
  name: "domdisplay",
  group: "domain",
  help: "domain display connection URI",
  desc: "Output the IP address and port number for the graphical display.",
  opts: [
    domainOpt(),
    {
      name: "include-password",
      type: "bool",
      help: "includes the password into the connection URI if available",
    },
    {
      name: "type",
      type: "string",
      named: true,
      help: 'select particular graphical display (e.g. "vnc", "spice", "rdp")',
    },
    { name: "all", type: "bool", help: "show all possible graphical displays" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "all", "type")) return false;
    const type = ctx.optString(cmd, "type");
    if (type === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const root = await runningXML(ctx, dom, cmd.bool("include-password") ? DomainXMLFlags.SECURE : 0);
    if (!root) return false;
    const uris = displayURIs(root, ctx.conn?.uri ?? "", type);
    if (uris.length === 0)
      return ctx.fail(
        type !== undefined ? `No graphical display with type '${type}' found` : "No graphical display found",
      );
    const shown = cmd.bool("all") ? uris : uris.slice(0, 1);
    // virsh ends each URI of --all with a newline, a single one without (the shell adds it)
    ctx.print(cmd.bool("all") ? shown.map((u) => `${u}\n`).join("") : shown[0]!);
    ctx.emit({ uris: shown, domain: domJson(dom) });
    return true;
  },
};

export const graphicsCommands: Cmd[] = [domdisplay, vncdisplay];
