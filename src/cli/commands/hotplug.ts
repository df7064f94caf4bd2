/**
 * Device hotplug commands (virsh 9.0, `tools/virsh-domain.c`): attach-device, detach-device,
 * update-device from an XML file; attach-disk, detach-disk, attach-interface,
 * detach-interface and change-media, which build or pick the device XML the way virsh does
 * (`--print-xml` prints it byte for byte as virsh would) and call the same APIs with the same
 * flags. Scope options: `--current` excludes `--live`/`--config`/`--persistent`; `--persistent`
 * is config plus live when the domain runs.
 */
import { stat } from "node:fs/promises";
import {
  DomainDeviceModifyFlags as F,
  DomainXMLFlags,
  parseXmlTree,
  selectNodes,
  type Domain,
  type XElement,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import { domainOpt, domJson } from "./domain.ts";
import { configOpt, currentOpt, liveOpt, persistentOpt, scopeOf, type Scope } from "./scope.ts";
import type { CmdDef, OptDef, ParsedCmd } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

const fileOpt: OptDef = { name: "file", type: "data", required: true, help: "XML file", complete: "file" };
const scopeOpts = [persistentOpt, configOpt, liveOpt, currentOpt];

async function withPersistentLive(dom: Domain, s: Scope): Promise<number> {
  if (s.persistent && (await dom.isActive().catch(() => false))) return s.flags | F.LIVE;
  return s.flags;
}

/**
 * Attaches or detaches `xml` as virsh does: through the `...Flags` call when a scope was given
 * (flags or --current), else through the plain call (what the driver then names in errors).
 */
async function applyDevice(
  dom: Domain,
  verb: "attach" | "detach",
  xml: string,
  flags: number,
  current: boolean,
): Promise<void> {
  if (flags !== 0 || current) {
    if (verb === "attach") await dom.attachDeviceFlags(xml, flags);
    else await dom.detachDeviceFlags(xml, flags);
  } else if (verb === "attach") await dom.attachDevice(xml);
  else await dom.detachDevice(xml);
}

/** The end of attach-disk and attach-interface: print the XML built (--print-xml) or attach it. */
async function attachBuilt(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  s: Scope,
  xml: string,
  noun: "Disk" | "Interface",
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  if (cmd.bool("print-xml")) {
    ctx.print(xml);
    ctx.emit({ xml });
    return true;
  }
  const dom = await ctx.domain(cmd);
  if (!dom) return false;
  const flags = await withPersistentLive(dom, s);
  try {
    await applyDevice(dom, "attach", xml, flags, s.current);
  } catch (e) {
    return ctx.fail(`Failed to attach ${noun.toLowerCase()}`, e);
  }
  ctx.printExtra(`${noun} attached successfully\n`);
  ctx.emit({ action: "attached", domain: domJson(dom), ...extra, xml, ...scopeJson(flags) });
  return true;
}

function scopeJson(flags: number): { live: boolean; config: boolean } {
  return { live: (flags & F.LIVE) !== 0, config: (flags & F.CONFIG) !== 0 };
}

// ---------------------------------------------------------------------------------------------
// device XML as virsh handles it
// ---------------------------------------------------------------------------------------------

/** The text of each `<name ...>...</name>` element of a canonical domain XML, in order. */
function elementTexts(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}[\\s>]`, "g");
  let m: RegExpExecArray | null;
  while ((m = re.exec(xml)) !== null) {
    const close = `</${name}>`;
    const tagEnd = xml.indexOf(">", m.index);
    if (tagEnd > 0 && xml[tagEnd - 1] === "/") {
      out.push(xml.slice(m.index, tagEnd + 1));
      continue;
    }
    const end = xml.indexOf(close, m.index);
    if (end < 0) break;
    out.push(xml.slice(m.index, end + close.length));
    re.lastIndex = end + close.length;
  }
  return out;
}

/** libxml2's attribute quoting (what virsh prints for a node of a document it read). */
function libxmlQuotes(text: string): string {
  return text.replace(/<[^>]*>/g, (tag) =>
    tag.replace(
      /(\s[\w:.-]+)='([^']*)'/g,
      (_m, n: string, v: string) => `${n}="${v.replaceAll("&apos;", "'").replaceAll('"', "&quot;")}"`,
    ),
  );
}

function attrOf(el: XElement, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

function childOf(el: XElement, name: string): XElement | undefined {
  return el.children.find((c): c is XElement => c.kind === "element" && c.name === name);
}

/** virshFindDisk: the disk whose target or source is `path` (CD-ROM/floppy only when `changeable`). */
function findDiskText(
  xml: string,
  path: string,
  changeable: boolean,
): { text: string; el: XElement } | undefined {
  for (const text of elementTexts(xml, "disk")) {
    const el = parseXmlTree(text);
    if (changeable) {
      const device = attrOf(el, "device");
      if (device !== "cdrom" && device !== "floppy") continue;
    }
    const target = childOf(el, "target");
    if (target && attrOf(target, "dev") === path) return { text, el };
    const source = childOf(el, "source");
    if (source) {
      for (const a of ["file", "dev", "dir", "name"]) if (attrOf(source, a) === path) return { text, el };
    }
  }
  return undefined;
}

async function domainXML(ctx: Ctx, dom: Domain, flags: number): Promise<string | undefined> {
  try {
    return await dom.getXMLDesc(flags & F.CONFIG ? DomainXMLFlags.INACTIVE : 0);
  } catch (e) {
    ctx.fail(undefined, e);
    return undefined;
  }
}

function xmlAttr(v: string): string {
  return v.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;");
}

// ---------------------------------------------------------------------------------------------
// attach-device, detach-device, update-device
// ---------------------------------------------------------------------------------------------

function fileCommand(
  name: "attach-device" | "detach-device" | "update-device",
  help: string,
  desc: string,
  verb: "attach" | "detach" | "update",
  done: string,
): Cmd {
  const force: OptDef[] =
    verb === "update" ? [{ name: "force", type: "bool", help: "force device update" }] : [];
  return {
    name,
    group: "domain",
    help,
    desc,
    opts: [domainOpt(), fileOpt, ...scopeOpts, ...force],
    async run(ctx, cmd) {
      const s = scopeOf(ctx, cmd);
      if (!s) return false;
      const dom = await ctx.domain(cmd);
      if (!dom) return false;
      let flags = await withPersistentLive(dom, s);
      if (cmd.bool("force")) flags |= F.FORCE;
      const from = ctx.optString(cmd, "file");
      if (!from) return false;
      const xml = await ctx.readFile(from);
      if (xml === undefined) return false;
      try {
        if (verb === "update") await dom.updateDeviceFlags(xml, flags);
        else await applyDevice(dom, verb, xml, flags, s.current);
      } catch (e) {
        return ctx.fail(`Failed to ${verb} device from ${from}`, e);
      }
      ctx.printExtra(`${done}\n`);
      ctx.emit({
        action: verb === "update" ? "updated" : `${verb}ed`,
        domain: domJson(dom),
        file: from,
        ...scopeJson(flags),
      });
      return true;
    },
  };
}

const attachDevice = fileCommand(
  "attach-device",
  "attach device from an XML file",
  "Attach device from an XML <file>.",
  "attach",
  "Device attached successfully",
);
const detachDevice = fileCommand(
  "detach-device",
  "detach device from an XML file",
  "Detach device from an XML <file>",
  "detach",
  "Device detached successfully",
);
const updateDevice = fileCommand(
  "update-device",
  "update device from an XML file",
  "Update device from an XML <file>.",
  "update",
  "Device updated successfully",
);

// ---------------------------------------------------------------------------------------------
// attach-disk, detach-disk
// ---------------------------------------------------------------------------------------------

const str = (name: string, help: string): OptDef => ({ name, type: "string", help });

/** `--address` of attach-disk: pci:D.B.S.F, scsi:C.B.U, sata|ide:C.B.U, usb:B.P, ccw:C.S.D. */
function diskAddress(spec: string): string | undefined {
  const colon = spec.indexOf(":");
  if (colon < 0) return undefined;
  const kind = spec.slice(0, colon);
  const parts = spec.slice(colon + 1).split(".");
  const num = (s: string | undefined, hex: boolean): number | undefined => {
    if (s === undefined || !(hex ? /^(0x)?[0-9a-fA-F]+$/ : /^\d+$/).test(s)) return undefined;
    return hex ? parseInt(s.replace(/^0x/, ""), 16) : Number(s);
  };
  const h = (n: number, w: number) => `0x${n.toString(16).padStart(w, "0")}`;
  if (kind === "pci" && parts.length === 4) {
    const [d, b, sl, f] = parts.map((p) => num(p, true));
    if (d === undefined || b === undefined || sl === undefined || f === undefined) return undefined;
    return `<address type='pci' domain='${h(d, 4)}' bus='${h(b, 2)}' slot='${h(sl, 2)}' function='${h(f, 1)}'/>`;
  }
  if ((kind === "scsi" || kind === "sata" || kind === "ide") && parts.length === 3) {
    const [c, b, u] = parts.map((p) => num(p, false));
    if (c === undefined || b === undefined || u === undefined) return undefined;
    return `<address type='drive' controller='${c}' bus='${b}' unit='${u}'/>`;
  }
  if (kind === "usb" && parts.length === 2) {
    const [b, p] = parts.map((x) => num(x, false));
    if (b === undefined || p === undefined) return undefined;
    return `<address type='usb' bus='${b}' port='${p}'/>`;
  }
  if (kind === "ccw" && parts.length === 3) {
    const [c, s, d] = parts.map((x) => num(x, true));
    if (c === undefined || s === undefined || d === undefined) return undefined;
    return `<address type='ccw' cssid='${h(c, 2)}' ssid='${h(s, 1)}' devno='${h(d, 4)}'/>`;
  }
  return undefined;
}

const attachDisk: Cmd = {
  name: "attach-disk",
  group: "domain",
  help: "attach disk device",
  desc: "Attach new disk device.",
  opts: [
    domainOpt(),
    {
      name: "source",
      type: "data",
      required: true,
      help: "source of disk device or name of network disk",
      complete: "file",
    },
    { name: "target", type: "data", required: true, help: "target of disk device" },
    str("targetbus", "target bus of disk device"),
    str("driver", "driver of disk device"),
    str("subdriver", "subdriver of disk device"),
    str("iothread", "IOThread to be used by supported device"),
    str("cache", "cache mode of disk device"),
    str("io", "io policy of disk device"),
    str("type", "target device type"),
    str("mode", "mode of device reading and writing"),
    str("sourcetype", "type of source (block|file|network)"),
    str("serial", "serial of disk device"),
    str("wwn", "wwn of disk device"),
    str("alias", "custom alias name of disk device"),
    { name: "rawio", type: "bool", help: "needs rawio capability" },
    str("address", "address of disk device"),
    { name: "multifunction", type: "bool", help: "use multifunction pci under specified address" },
    { name: "print-xml", type: "bool", help: "print XML document rather than attach the disk" },
    str("source-protocol", "protocol used by disk device source"),
    str("source-host-name", "host name for source of disk device"),
    str("source-host-transport", "host transport for source of disk device"),
    str("source-host-socket", "host socket for source of disk device"),
    ...scopeOpts,
  ],
  async run(ctx, cmd) {
    const s = scopeOf(ctx, cmd);
    if (!s) return false;
    const v = (n: string): string | undefined | null => ctx.optString(cmd, n);
    const names = [
      "source",
      "target",
      "targetbus",
      "driver",
      "subdriver",
      "iothread",
      "cache",
      "io",
      "type",
      "mode",
      "sourcetype",
      "serial",
      "wwn",
      "alias",
      "address",
      "source-protocol",
      "source-host-name",
      "source-host-transport",
      "source-host-socket",
    ];
    const o: Record<string, string | undefined> = {};
    for (const n of names) {
      const x = v(n);
      if (x === null) return false;
      o[n] = x;
    }
    const source = o.source ?? "";
    const target = o.target ?? "";
    if (o.mode !== undefined && o.mode !== "readonly" && o.mode !== "shareable")
      return ctx.fail(`No support for ${o.mode} in command 'attach-disk'`);
    let stype = o.sourcetype;
    if (stype === undefined) {
      if (o["source-protocol"] !== undefined) stype = "network";
      else {
        const st = await stat(source).catch(() => undefined);
        stype = st?.isBlockDevice() === true ? "block" : "file";
      }
    }
    if (stype !== "file" && stype !== "block" && stype !== "network")
      return ctx.fail(`Unknown source type: '${stype}'`);
    let address = "";
    if (o.address !== undefined) {
      const a = diskAddress(o.address);
      if (a === undefined) return ctx.fail(`Invalid address.`);
      address = cmd.bool("multifunction") ? a.replace("/>", " multifunction='on'/>") : a;
    }

    let xml = `<disk type='${stype}'`;
    if (o.type !== undefined) xml += ` device='${xmlAttr(o.type)}'`;
    if (cmd.bool("rawio")) xml += ` rawio='yes'`;
    xml += ">\n";
    const drv: string[] = [];
    if (o.driver !== undefined) drv.push(`name='${xmlAttr(o.driver)}'`);
    if (o.subdriver !== undefined) drv.push(`type='${xmlAttr(o.subdriver)}'`);
    if (o.iothread !== undefined) drv.push(`iothread='${xmlAttr(o.iothread)}'`);
    if (o.cache !== undefined) drv.push(`cache='${xmlAttr(o.cache)}'`);
    if (o.io !== undefined) drv.push(`io='${xmlAttr(o.io)}'`);
    if (drv.length > 0) xml += `  <driver ${drv.join(" ")}/>\n`;
    if (stype === "network") {
      xml += `  <source protocol='${xmlAttr(o["source-protocol"] ?? "")}' name='${xmlAttr(source)}'`;
      const hn = o["source-host-name"];
      const ht = o["source-host-transport"];
      const hs = o["source-host-socket"];
      if (hn !== undefined || ht !== undefined || hs !== undefined) {
        xml += ">\n    <host";
        if (hn !== undefined) {
          const [host, port] = hn.split(":");
          xml += ` name='${xmlAttr(host ?? "")}'`;
          if (port !== undefined) xml += ` port='${xmlAttr(port)}'`;
        }
        if (ht !== undefined) xml += ` transport='${xmlAttr(ht)}'`;
        if (hs !== undefined) xml += ` socket='${xmlAttr(hs)}'`;
        xml += "/>\n  </source>\n";
      } else xml += "/>\n";
    } else {
      xml += `  <source ${stype === "block" ? "dev" : "file"}='${xmlAttr(source)}'/>\n`;
    }
    xml += `  <target dev='${xmlAttr(target)}'`;
    if (o.targetbus !== undefined) xml += ` bus='${xmlAttr(o.targetbus)}'`;
    xml += "/>\n";
    if (o.mode !== undefined) xml += `  <${o.mode}/>\n`;
    if (o.serial !== undefined) xml += `  <serial>${xmlAttr(o.serial)}</serial>\n`;
    if (o.alias !== undefined) xml += `  <alias name='${xmlAttr(o.alias)}'/>\n`;
    if (o.wwn !== undefined) xml += `  <wwn>${xmlAttr(o.wwn)}</wwn>\n`;
    if (address !== "") xml += `  ${address}\n`;
    xml += "</disk>\n";

    return attachBuilt(ctx, cmd, s, xml, "Disk", { target });
  },
};

const detachDisk: Cmd = {
  name: "detach-disk",
  group: "domain",
  help: "detach disk device",
  desc: "Detach disk device.",
  opts: [
    domainOpt(),
    { name: "target", type: "data", required: true, help: "target of disk device" },
    ...scopeOpts,
    { name: "print-xml", type: "bool", help: "print XML document rather than detach the disk" },
  ],
  async run(ctx, cmd) {
    const s = scopeOf(ctx, cmd);
    if (!s) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const target = ctx.optString(cmd, "target");
    if (!target) return false;
    const flags = await withPersistentLive(dom, s);
    const xml = await domainXML(ctx, dom, flags);
    if (xml === undefined) return false;
    const found = findDiskText(xml, target, false);
    if (!found) return ctx.fail(`No disk found whose source path or target is ${target}`);
    const diskXml = libxmlQuotes(found.text);
    if (cmd.bool("print-xml")) {
      ctx.print(diskXml);
      ctx.emit({ xml: diskXml });
      return true;
    }
    try {
      await applyDevice(dom, "detach", diskXml, flags, s.current);
    } catch (e) {
      return ctx.fail("Failed to detach disk", e);
    }
    ctx.printExtra("Disk detached successfully\n");
    ctx.emit({ action: "detached", domain: domJson(dom), target, xml: diskXml, ...scopeJson(flags) });
    return true;
  },
};

// ---------------------------------------------------------------------------------------------
// attach-interface, detach-interface
// ---------------------------------------------------------------------------------------------

const attachInterface: Cmd = {
  name: "attach-interface",
  group: "domain",
  help: "attach network interface",
  desc: "Attach new network interface.",
  opts: [
    domainOpt(),
    { name: "type", type: "data", required: true, help: "network interface type" },
    { name: "source", type: "data", required: true, help: "source of network interface" },
    str("target", "target network name"),
    str("mac", "MAC address"),
    str("script", "script used to bridge network interface"),
    str("model", "model type"),
    str("alias", "custom alias name of interface device"),
    str("inbound", "control domain's incoming traffics"),
    str("outbound", "control domain's outgoing traffics"),
    ...scopeOpts,
    { name: "print-xml", type: "bool", help: "print XML document rather than attach the interface" },
    {
      name: "managed",
      type: "bool",
      help: "libvirt will automatically detach/attach the device from/to host",
    },
    str("source-mode", "mode attribute of <source/> element"),
  ],
  async run(ctx, cmd) {
    const s = scopeOf(ctx, cmd);
    if (!s) return false;
    const o: Record<string, string | undefined> = {};
    for (const n of [
      "type",
      "source",
      "target",
      "mac",
      "script",
      "model",
      "alias",
      "inbound",
      "outbound",
      "source-mode",
    ]) {
      const x = ctx.optString(cmd, n);
      if (x === null) return false;
      o[n] = x;
    }
    const type = o.type ?? "";
    const source = o.source ?? "";
    let xml = `<interface type='${xmlAttr(type)}'`;
    if (cmd.bool("managed") && type === "hostdev") xml += ` managed='yes'`;
    xml += ">\n";
    switch (type) {
      case "network":
      case "bridge":
        xml += `  <source ${type}='${xmlAttr(source)}'/>\n`;
        break;
      case "direct":
        xml += `  <source dev='${xmlAttr(source)}'/>\n`;
        break;
      case "vhostuser":
        xml += `  <source type='unix' path='${xmlAttr(source)}' mode='${xmlAttr(o["source-mode"] ?? "client")}'/>\n`;
        break;
      default:
        return ctx.fail(`No support for ${type} in command 'attach-interface'`);
    }
    if (o.target !== undefined) xml += `  <target dev='${xmlAttr(o.target)}'/>\n`;
    if (o.mac !== undefined) xml += `  <mac address='${xmlAttr(o.mac)}'/>\n`;
    if (o.script !== undefined) xml += `  <script path='${xmlAttr(o.script)}'/>\n`;
    if (o.model !== undefined) xml += `  <model type='${xmlAttr(o.model)}'/>\n`;
    if (o.alias !== undefined) xml += `  <alias name='${xmlAttr(o.alias)}'/>\n`;
    if (o.inbound !== undefined || o.outbound !== undefined) {
      xml += "  <bandwidth>\n";
      for (const dir of ["inbound", "outbound"] as const) {
        const spec = o[dir];
        if (spec === undefined) continue;
        const names = ["average", "peak", "burst", "floor"];
        const parts = spec.split(",");
        if (
          parts.length > 4 ||
          parts.some((p) => p !== "" && !/^\d+$/.test(p)) ||
          !/^\d+$/.test(parts[0] ?? "")
        )
          return ctx.fail(`${dir} rate format is incorrect`);
        const attrs = parts.map((p, i) => (p === "" ? "" : ` ${names[i]!}='${p}'`)).join("");
        xml += `    <${dir}${attrs}/>\n`;
      }
      xml += "  </bandwidth>\n";
    }
    xml += "</interface>\n";
    return attachBuilt(ctx, cmd, s, xml, "Interface");
  },
};

const detachInterface: Cmd = {
  name: "detach-interface",
  group: "domain",
  help: "detach network interface",
  desc: "Detach network interface.",
  opts: [
    domainOpt(),
    { name: "type", type: "data", required: true, help: "network interface type" },
    str("mac", "MAC address"),
    ...scopeOpts,
    { name: "print-xml", type: "bool", help: "print XML document rather than detach the interface" },
  ],
  async run(ctx, cmd) {
    const s = scopeOf(ctx, cmd);
    if (!s) return false;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const type = ctx.optString(cmd, "type");
    if (!type) return false;
    const mac = ctx.optString(cmd, "mac");
    if (mac === null) return false;
    const flags = await withPersistentLive(dom, s);
    const xml = await domainXML(ctx, dom, flags);
    if (xml === undefined) return false;
    const ofType = elementTexts(xml, "interface").filter((t) => attrOf(parseXmlTree(t), "type") === type);
    let text: string | undefined;
    if (ofType.length === 0) {
      ctx.error(`No interface found whose type is ${type}`);
    } else if (mac === undefined) {
      if (ofType.length > 1)
        ctx.error(`Domain has ${ofType.length} interfaces. Please specify which one to detach using --mac`);
      else text = ofType[0];
    } else {
      const want = mac.toLowerCase();
      text = ofType.find((t) => {
        const m = selectNodes(parseXmlTree(t), "./mac/@address")[0];
        return m?.kind === "attr" && m.value.toLowerCase() === want;
      });
      if (text === undefined) ctx.error(`No interface with MAC address ${mac} was found`);
    }
    if (text === undefined) return ctx.fail("Failed to detach interface");
    const netXml = libxmlQuotes(text);
    if (cmd.bool("print-xml")) {
      ctx.print(netXml);
      ctx.emit({ xml: netXml });
      return true;
    }
    try {
      await applyDevice(dom, "detach", netXml, flags, s.current);
    } catch (e) {
      return ctx.fail("Failed to detach interface", e);
    }
    ctx.printExtra("Interface detached successfully\n");
    ctx.emit({ action: "detached", domain: domJson(dom), xml: netXml, ...scopeJson(flags) });
    return true;
  },
};

// ---------------------------------------------------------------------------------------------
// change-media
// ---------------------------------------------------------------------------------------------

/** virshUpdateDiskXML on the disk's text: the source removed (eject), added before `<target>`, or both. */
function updateDiskText(
  ctx: Ctx,
  found: { text: string; el: XElement },
  path: string,
  source: string | undefined,
  block: boolean,
  kind: "eject" | "insert" | "update",
): string | undefined {
  let text = found.text;
  const hasSource = childOf(found.el, "source") !== undefined;
  if (kind === "eject" && !hasSource) {
    ctx.fail(`The disk device '${path}' doesn't have media`);
    return undefined;
  }
  if (kind === "insert" && hasSource) {
    ctx.fail(`The disk device '${path}' already has media`);
    return undefined;
  }
  if (hasSource) {
    const m = /<source\b[^>]*\/>|<source\b[^>]*>[\s\S]*?<\/source>/.exec(text);
    if (m) text = text.slice(0, m.index) + text.slice(m.index + m[0].length);
  }
  if (kind !== "eject" && source !== undefined) {
    const at = text.indexOf("<target");
    const indent = /([ \t]*)$/.exec(text.slice(0, at))?.[1] ?? "";
    const node = `<source ${block ? "dev" : "file"}='${xmlAttr(source)}'/>\n${indent}`;
    text = text.slice(0, at) + node + text.slice(at);
    text = text.replace(/^<disk type='[^']*'/, `<disk type='${block ? "block" : "file"}'`);
  }
  return libxmlQuotes(text);
}

const changeMedia: Cmd = {
  name: "change-media",
  group: "domain",
  help: "Change media of CD or floppy drive",
  desc: "Change media of CD or floppy drive.",
  opts: [
    domainOpt(),
    { name: "path", type: "data", required: true, help: "Fully-qualified path or target of disk device" },
    str("source", "source of the media"),
    { name: "eject", type: "bool", help: "Eject the media" },
    { name: "insert", type: "bool", help: "Insert the media" },
    { name: "update", type: "bool", help: "Update the media" },
    {
      name: "current",
      type: "bool",
      help: "can be either or both of --live and --config, depends on implementation hypervisor driver",
    },
    { name: "live", type: "bool", help: "alter live configuration of running domain" },
    { name: "config", type: "bool", help: "alter persistent configuration, effect observed on next boot" },
    { name: "force", type: "bool", help: "force media changing" },
    { name: "print-xml", type: "bool", help: "print XML document rather than change media" },
    { name: "block", type: "bool", help: "source media is a block device" },
  ],
  async run(ctx, cmd) {
    if (!ctx.exclusive(cmd, "eject", "insert")) return false;
    if (!ctx.exclusive(cmd, "eject", "update")) return false;
    if (!ctx.exclusive(cmd, "insert", "update")) return false;
    if (!ctx.exclusive(cmd, "eject", "block")) return false;
    const source = ctx.optString(cmd, "source");
    if (source === null) return false;
    let eject = cmd.bool("eject");
    let update = cmd.bool("update");
    const insert = cmd.bool("insert");
    if (update && source === undefined) {
      update = false;
      eject = true;
    }
    let kind: "eject" | "insert" | "update" = "update";
    let success = "Successfully updated media.";
    if (eject) {
      kind = "eject";
      success = "Successfully ejected media.";
    }
    if (insert) {
      kind = "insert";
      success = "Successfully inserted media.";
    }
    if (update || (!eject && !insert)) {
      kind = "update";
      success = "Successfully updated media.";
    }
    if (!ctx.exclusive(cmd, "current", "live")) return false;
    if (!ctx.exclusive(cmd, "current", "config")) return false;
    let flags = 0;
    if (cmd.bool("config")) flags |= F.CONFIG;
    if (cmd.bool("live")) flags |= F.LIVE;
    if (cmd.bool("force")) flags |= F.FORCE;
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const path = ctx.optString(cmd, "path");
    if (!path) return false;
    const xml = await domainXML(ctx, dom, flags);
    if (xml === undefined) return false;
    const found = findDiskText(xml, path, true);
    if (!found) return ctx.fail(`No disk found whose source path or target is ${path}`);
    const diskXml = updateDiskText(ctx, found, path, source, cmd.bool("block"), kind);
    if (diskXml === undefined) return false;
    if (cmd.bool("print-xml")) {
      ctx.print(diskXml);
      ctx.emit({ xml: diskXml });
      return true;
    }
    try {
      await dom.updateDeviceFlags(diskXml, flags);
    } catch (e) {
      return ctx.fail(`Failed to complete action ${kind} on media`, e);
    }
    ctx.print(success);
    ctx.emit({ action: kind, domain: domJson(dom), path, source: source ?? null, ...scopeJson(flags) });
    return true;
  },
};

export const hotplugCommands: Cmd[] = [
  attachDevice,
  attachDisk,
  attachInterface,
  changeMedia,
  detachDevice,
  detachDisk,
  detachInterface,
  updateDevice,
];
