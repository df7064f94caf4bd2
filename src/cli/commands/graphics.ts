/**
 * Graphical consoles (issue 19): `vncdisplay` and `domdisplay` read the live XML as virsh 9.0
 * does (so they work on any driver that fills the ports in, stock libvirt included);
 * `screenshot` saves virDomainScreenshot's stream to a file with virsh's messages.
 *
 * `domdisplay --type web` (tvirt) prints the guest's page on the web face (issue 16), whose
 * address comes from `--web-url` or `TVIRT_WEB_URL`: virsh's own types and output are untouched.
 */
import { open, unlink, type FileHandle } from "node:fs/promises";
import {
  DomainXMLFlags,
  KEYCODE_SETS,
  keycodeFromName,
  parseXmlTree,
  selectNodes,
  selectValue,
  type Domain,
  type XElement,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import type { CmdDef, ParsedCmd } from "../grammar.ts";
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

/** The web face's base URL: http(s) only, without query or fragment. */
function webBase(text: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  u.hash = "";
  u.search = "";
  return u;
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
    {
      name: "web-url",
      type: "string",
      named: true,
      help: "with --type web: the web face's address (default $TVIRT_WEB_URL), e.g. https://host:8443",
    },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "all", "type")) return false;
    const type = ctx.optString(cmd, "type");
    const webUrl = ctx.optString(cmd, "web-url");
    if (type === null || webUrl === null) return false;
    let web: URL | undefined;
    if (type === "web") {
      const base = webUrl ?? ctx.opts.webUrl;
      if (base === undefined)
        return ctx.fail(
          "no web face known: give --web-url URL or set TVIRT_WEB_URL (the address 'tvirsh web' or tvirtd's web_listen_tcp serves)",
        );
      web = webBase(base);
      if (!web) return ctx.fail(`invalid web face address '${base}': expected an http:// or https:// URL`);
    }
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    if (web) {
      if (!(await runningXML(ctx, dom, 0))) return false;
      // the page's guest view (its consoles); the token is never part of the URL
      const uri = `${web.href.replace(/\/+$/, "")}/#/domain/${encodeURIComponent(dom.name)}`;
      ctx.print(uri);
      ctx.emit({ uris: [uri], domain: domJson(dom) });
      return true;
    }
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

/** vshCommandOptUInt: undefined when absent, null (error printed) when malformed. */
function optUInt(ctx: Ctx, cmd: ParsedCmd<Ctx>, name: string): number | undefined | null {
  const v = cmd.raw(name);
  if (v === undefined) return undefined;
  const n = /^\s*\+?\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n > 0xffffffff) {
    ctx.fail(`Numeric value '${v}' for <${name}> option is malformed or out of range`);
    return null;
  }
  return n;
}

/** virshGenFileName: `<domain>-<local time>.<extension of the MIME type>`. */
export function screenshotFileName(domain: string, mime: string, now = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  const ext = mime === "image/x-portable-pixmap" ? ".ppm" : mime === "image/png" ? ".png" : "";
  return `${domain}-${stamp}${ext}`;
}

/** Opens `path` as virsh does: created new (O_EXCL), else truncated; `created` says which. */
async function createOutput(path: string): Promise<{ fh: FileHandle; created: boolean } | undefined> {
  try {
    return { fh: await open(path, "wx", 0o666), created: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return undefined;
  }
  try {
    return { fh: await open(path, "w", 0o666), created: false };
  } catch {
    return undefined;
  }
}

const screenshot: Cmd = {
  name: "screenshot",
  group: "domain",
  help: "take a screenshot of a current domain console and store it into a file",
  desc: "screenshot of a current domain console",
  opts: [
    domainOpt(),
    { name: "file", type: "string", help: "where to store the screenshot", complete: "file" },
    { name: "screen", type: "string", named: true, help: "ID of a screen to take screenshot of" },
  ],
  async run(ctx, cmd) {
    let file = ctx.optString(cmd, "file");
    if (file === null) return false;
    const screen = optUInt(ctx, cmd, "screen");
    if (screen === null) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    let shot;
    try {
      shot = await dom.screenshot(screen ?? 0, 0);
    } catch (e) {
      return ctx.fail(`could not take a screenshot of ${dom.name}`, e);
    }
    const { mime, stream } = shot;
    file ??= screenshotFileName(dom.name, mime);
    const out = await createOutput(file);
    if (!out) {
      await stream.close().catch(() => undefined);
      return ctx.fail(`cannot create file ${file}`);
    }
    let bytes = 0;
    try {
      for await (const chunk of stream) {
        await out.fh.write(chunk);
        bytes += chunk.length;
      }
    } catch (e) {
      await stream.close().catch(() => undefined);
      await out.fh.close().catch(() => undefined);
      if (out.created) await unlink(file).catch(() => undefined);
      return ctx.fail(`could not receive data from domain ${dom.name}`, e);
    }
    try {
      await out.fh.close();
    } catch (e) {
      if (out.created) await unlink(file).catch(() => undefined);
      return ctx.fail(`cannot close file ${file}`, e);
    }
    try {
      await stream.close();
    } catch (e) {
      return ctx.fail(`cannot close stream on domain ${dom.name}`, e);
    }
    ctx.printExtra(`Screenshot saved to ${file}, with type of ${mime}`);
    ctx.emit({ file, mime, bytes, domain: domJson(dom) });
    return true;
  },
};

/** virsh's get_keycode: a key name of the code set, else a number (decimal, 0x hex, 0 octal). */
function keycodeOf(arg: string, codeset: number): number | undefined {
  const named = keycodeFromName(codeset, arg);
  if (named !== undefined) return named;
  let n: number;
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(arg)) n = parseInt(arg, 16);
  else if (/^[+-]?0[0-7]+$/.test(arg)) n = parseInt(arg, 8);
  else if (/^[+-]?\d+$/.test(arg)) n = parseInt(arg, 10);
  else return undefined;
  return n >= 0 && n <= 0x7fffffff ? n : undefined;
}

const sendKey: Cmd = {
  name: "send-key",
  group: "domain",
  help: "Send keycodes to the guest",
  desc: "Send keycodes (integers or symbolic names) to the guest",
  opts: [
    domainOpt(),
    { name: "codeset", type: "string", named: true, help: "the codeset of keycodes, default:linux" },
    {
      name: "holdtime",
      type: "string",
      named: true,
      help: "the time (in milliseconds) how long the keys will be held",
    },
    { name: "keycode", type: "argv", required: true, help: "the key code" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const codesetName = ctx.optString(cmd, "codeset");
    if (codesetName === null) return false;
    const holdtime = optUInt(ctx, cmd, "holdtime");
    if (holdtime === null) return false;
    let codeset = KEYCODE_SETS.linux!;
    if (codesetName !== undefined) {
      const c = Object.hasOwn(KEYCODE_SETS, codesetName) ? KEYCODE_SETS[codesetName] : undefined;
      if (c === undefined) return ctx.fail(`unknown codeset: '${codesetName}'`);
      codeset = c;
    }
    const keycodes: number[] = [];
    for (const arg of cmd.argv) {
      if (keycodes.length === 16) return ctx.fail("too many keycodes");
      const k = keycodeOf(arg, codeset);
      if (k === undefined) return ctx.fail(`invalid keycode: '${arg}'`);
      keycodes.push(k);
    }
    try {
      await dom.sendKey(codeset, holdtime ?? 0, keycodes, 0);
    } catch (e) {
      return ctx.fail(undefined, e);
    }
    ctx.emit({ codeset, holdtime: holdtime ?? 0, keycodes, domain: domJson(dom) });
    return true;
  },
};

export const graphicsCommands: Cmd[] = [domdisplay, screenshot, sendKey, vncdisplay];
