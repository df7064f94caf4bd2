/**
 * Network interfaces: the `-netdev` backend (tap by inherited fd with optional vhost, user/SLIRP,
 * passt over a stream socket, vhost-user, sockets) and the NIC `-device`.
 */
import { VirtError } from "../../../util/errors/index.ts";
import type { InterfaceDef } from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { buildChardev } from "./chardev.ts";
import { Props } from "./escape.ts";
import { virtioProps } from "./virtio.ts";

export function isVirtioNet(net: InterfaceDef): boolean {
  const m = net.model ?? "";
  return m === "virtio" || m === "virtio-transitional" || m === "virtio-non-transitional";
}

function xpath(b: Build, net: InterfaceDef): string {
  return `/domain/devices/interface[${b.def.devices.interfaces.indexOf(net) + 1}]`;
}

/** The connection type after resolving `type='network'`. */
export function actualType(b: Build, net: InterfaceDef): string {
  if (net.type !== "network") return net.type;
  const name = net.source?.network ?? "";
  if (!b.ctx.resolveNetwork) {
    return fail("QEMU_CMD_CONTEXT_MISSING", {
      element: `interface ${net.alias ?? ""}`,
      what: `the resolution of network '${name}'`,
    });
  }
  const r = b.ctx.resolveNetwork(name, net.source?.portgroup);
  if (!r) {
    return fail(
      "QEMU_CMD_INVALID_VALUE",
      { element: `interface ${net.alias ?? ""}`, reason: `network '${name}' is not known` },
      { xpath: xpath(b, net) },
    );
  }
  return r.type;
}

function socketAddr(net: InterfaceDef): string {
  return `${net.source?.address ?? ""}:${net.source?.port ?? 0}`;
}

export function hostNetProps(b: Build, net: InterfaceDef, type: string): Props {
  const alias = net.alias ?? "";
  const element = `interface ${alias}`;
  if (net.script !== undefined && type !== "ethernet") {
    fail(
      "QEMU_CMD_UNSUPPORTED",
      { element, reason: `scripts are not supported on interfaces of type ${type}` },
      { xpath: xpath(b, net) },
    );
  }
  const p = new Props();
  switch (type) {
    case "bridge":
    case "network":
    case "direct":
    case "ethernet": {
      // an unprivileged guest on a bridge: QEMU runs qemu-bridge-helper, which makes the tap
      const helper = type === "bridge" ? b.ctx.interfaceBridgeHelper?.(alias) : undefined;
      if (helper !== undefined) {
        p.set("type", "bridge").set("br", helper.bridge).set("helper", helper.helper);
        break;
      }
      const ifname = type === "direct" ? undefined : b.ctx.interfaceTapName?.(alias);
      if (ifname !== undefined) {
        p.set("type", "tap").set("ifname", ifname).set("script", "no").set("downscript", "no");
        if (net.tune?.sndbuf !== undefined) p.set("sndbuf", net.tune.sndbuf);
        break;
      }
      // one tap queue (and vhost descriptor) per queue of a multiqueue virtio NIC
      const fds = b.ctx.interfaceFds?.(alias, type, isVirtioNet(net), Math.max(1, net.driver?.queues ?? 1));
      if (!fds || fds.tap.length === 0) {
        return fail("QEMU_CMD_CONTEXT_MISSING", { element, what: "the file descriptor of its tap device" });
      }
      p.set("type", "tap");
      p.set(fds.tap.length > 1 ? "fds" : "fd", fds.tap.join(":"));
      if (fds.vhost.length > 0) {
        p.set("vhost", true);
        p.set(fds.vhost.length > 1 ? "vhostfds" : "vhostfd", fds.vhost.join(":"));
      }
      if (net.tune?.sndbuf !== undefined) p.set("sndbuf", net.tune.sndbuf);
      break;
    }
    case "client":
      p.set("type", "socket").set("connect", socketAddr(net));
      break;
    case "server":
      p.set("type", "socket").set("listen", socketAddr(net));
      break;
    case "mcast":
      p.set("type", "socket").set("mcast", socketAddr(net));
      break;
    case "udp":
      p.set("type", "socket")
        .set("udp", socketAddr(net))
        .set("localaddr", `${net.source?.local?.address ?? ""}:${net.source?.local?.port ?? 0}`);
      break;
    case "user":
      if (net.backend?.type === "passt") {
        requireFlag(b, "netdev.stream", element);
        if (!b.ctx.passtSocket) return passtUnsupported(element);
        const path = b.ctx.passtSocket(alias);
        p.set("type", "stream").set("addr", { type: "unix", path }).set("server", false);
        if (b.has("netdev-stream-reconnect-miliseconds")) p.set("reconnect-ms", 5000);
        else if (b.has("netdev.stream.reconnect")) p.set("reconnect", 5);
      } else {
        p.set("type", "user");
        for (const ip of net.ips ?? []) {
          const v6 = ip.family === "ipv6" || ip.address.includes(":");
          if (!v6) p.set("net", ip.prefix !== undefined ? `${ip.address}/${ip.prefix}` : ip.address);
          else p.set("ipv6-prefix", ip.address).pos("ipv6-prefixlen", ip.prefix);
        }
        const fwd = slirpHostForwards(net);
        // QAPI's NetdevUserOptions.hostfwd is a list of String objects
        if (fwd.length > 0)
          p.set(
            "hostfwd",
            fwd.map((str) => ({ str })),
          );
      }
      break;
    case "internal":
      p.set("type", "user");
      break;
    case "vdpa": {
      // the vhost-vdpa device goes to QEMU as an inherited descriptor in an fd set
      const dev = net.source?.dev ?? "";
      const fd = b.ctx.vdpaNetFd?.(alias, dev);
      if (fd === undefined)
        return fail("QEMU_CMD_CONTEXT_MISSING", { element, what: `the descriptor of vDPA device ${dev}` });
      const set = b.nextFdset();
      b.add("-add-fd", `set=${set},fd=${fd},opaque=${alias}-vdpa`);
      p.set("type", "vhost-vdpa").set("vhostdev", `/dev/fdset/${set}`);
      if ((net.driver?.queues ?? 0) > 1) p.set("queues", net.driver?.queues ?? 0);
      break;
    }
    case "vhostuser":
      p.set("type", "vhost-user").set("chardev", `char${alias}`);
      if ((net.driver?.queues ?? 0) > 1) p.set("queues", net.driver?.queues ?? 0);
      break;
    default:
      return fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: `network device type '${type}' is not supported by QEMU` },
        { xpath: xpath(b, net) },
      );
  }
  p.set("id", `host${alias}`);
  return p;
}

/** Most host ports one interface forwards (each is one SLIRP rule and one listening socket). */
export const MAX_SLIRP_FORWARDS = 1024;

/**
 * `<portForward>` of a SLIRP interface as QEMU's `hostfwd` rules
 * (`PROTO:HOSTADDR:HOSTPORT-:GUESTPORT`, one per port): each range's host ports `start..end`
 * go to the guest's `to..` (the same port without `to`), minus the excluded ranges. SLIRP binds
 * an IPv4 host address only and cannot bind to a device, so `dev=` and IPv6 are refused.
 */
export function slirpHostForwards(net: InterfaceDef): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  const mac = net.mac?.address ?? net.alias ?? "";
  for (const pf of net.portForwards ?? []) {
    const refuse = (reason: string): never => {
      throw new VirtError("QEMU_NET_SLIRP_PORT_FORWARD", { mac, proto: pf.proto, reason });
    };
    if (pf.proto !== "tcp" && pf.proto !== "udp") refuse(`proto must be tcp or udp, not '${pf.proto}'`);
    if (pf.dev !== undefined) refuse(`dev='${pf.dev}' is only supported by the passt backend`);
    const addr = pf.address ?? "";
    if (addr !== "" && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(addr))
      refuse(`address '${addr}' is not an IPv4 address (SLIRP forwards only IPv4 host addresses)`);
    if (addr !== "" && addr.split(".").some((o) => Number(o) > 255))
      refuse(`address '${addr}' is not an IPv4 address`);
    const excluded = new Set<number>();
    for (const r of pf.ranges) {
      if (r.exclude !== true) continue;
      if (r.to !== undefined) refuse(`an excluded range (start='${r.start}') cannot have to=`);
      for (let port = r.start; port <= (r.end ?? r.start); port++) excluded.add(port);
    }
    const forwarded = pf.ranges.filter((r) => r.exclude !== true);
    if (forwarded.length === 0) refuse("it has no <range> that is not excluded");
    for (const r of forwarded) {
      const end = r.end ?? r.start;
      if (end < r.start) refuse(`range end='${end}' is below start='${r.start}'`);
      const to = r.to ?? r.start;
      if (to + (end - r.start) > 65535)
        refuse(`range ${r.start}-${end} to='${to}' goes past guest port 65535`);
      for (let port = r.start; port <= end; port++) {
        if (excluded.has(port)) continue;
        const key = `${pf.proto}:${addr}:${port}`;
        const other = seen.get(key);
        if (other !== undefined) refuse(`host port ${port} is forwarded twice (${other} and this one)`);
        seen.set(key, `range start='${r.start}'`);
        out.push(`${pf.proto}:${addr}:${port}-:${to + (port - r.start)}`);
        if (out.length > MAX_SLIRP_FORWARDS) refuse(`more than ${MAX_SLIRP_FORWARDS} ports are forwarded`);
      }
    }
  }
  return out;
}

export function nicProps(b: Build, net: InterfaceDef, bootindex: number | undefined): Props {
  const alias = net.alias ?? "";
  let p: Props;
  if (isVirtioNet(net)) {
    p = virtioProps(b, "virtio-net", net.address, net.model, `interface ${alias}`, true, net.virtio);
    const d = net.driver ?? {};
    let tx: string | undefined;
    if (d.txmode === "iothread") tx = "bh";
    else if (d.txmode === "timer") tx = "timer";
    const queues = d.queues ?? 0;
    p.opt("tx", tx).opt("ioeventfd", d.ioeventfd).opt("event_idx", d.event_idx);
    // offloads the XML turns on or off, host side then guest side (QEMU's property names)
    const host = d.host ?? {};
    const guest = d.guest ?? {};
    p.opt("csum", host.csum)
      .opt("gso", host.gso)
      .opt("host_tso4", host.tso4)
      .opt("host_tso6", host.tso6)
      .opt("host_ecn", host.ecn)
      .opt("host_ufo", host.ufo)
      .opt("mrg_rxbuf", host.mrg_rxbuf)
      .opt("guest_csum", guest.csum)
      .opt("guest_tso4", guest.tso4)
      .opt("guest_tso6", guest.tso6)
      .opt("guest_ecn", guest.ecn)
      .opt("guest_ufo", guest.ufo);
    if (queues > 1) {
      p.set("mq", true);
      if (net.address?.type !== "ccw") p.set("vectors", 2 * queues + 2);
    }
    p.pos("rx_queue_size", d.rx_queue_size)
      .pos("tx_queue_size", d.tx_queue_size)
      .opt("rss", d.rss)
      .opt("hash", d.rss_hash_report)
      .pos("host_mtu", net.mtu);
    // the persistent half of a failover pair: the guest sees one NIC that fails over to it
    if (net.teaming?.type === "persistent") p.set("failover", true);
  } else {
    p = new Props().set("driver", net.model ?? "rtl8139");
  }
  p.set("netdev", `host${alias}`)
    .set("id", alias)
    .set("mac", net.mac?.address ?? "")
    .pos("bootindex", bootindex);
  addAddressProps(b, p, net, `interface ${alias}`);
  addRomProps(p, net.rom, net.address?.type);
  return p;
}

export function addRomProps(p: Props, rom: InterfaceDef["rom"], addressType: string | undefined): void {
  if (!rom || (rom.enabled === undefined && rom.bar === undefined && rom.file === undefined)) return;
  if (addressType !== undefined && addressType !== "pci") {
    fail("QEMU_CMD_UNSUPPORTED", {
      element: "<rom>",
      reason: "ROM tuning is only supported for PCI devices",
    });
  }
  if (rom.enabled === false) {
    p.set("romfile", "");
    return;
  }
  if (rom.bar !== undefined) p.set("rombar", rom.bar ? 1 : 0);
  if (rom.file !== undefined) p.set("romfile", rom.file);
}

export function buildInterfaces(b: Build, bootIndex: (n: InterfaceDef) => number | undefined): void {
  for (const net of b.def.devices.interfaces) {
    const type = actualType(b, net);
    // A tap device path only makes sense for tap-backed types (qemuProcessPrepareDomainNetwork).
    if (net.backend?.tap !== undefined && type !== "ethernet" && type !== "network" && type !== "bridge") {
      throw new VirtError(
        "QEMU_NET_TAP_PATH_UNSUPPORTED",
        { mac: net.mac?.address ?? "", type },
        { xpath: `${xpath(b, net)}/backend/@tap` },
      );
    }
    if (type === "hostdev") continue;
    if (type === "vhostuser") {
      const s = net.source ?? {};
      const alias = net.alias ?? "";
      if (net.backend?.type === "passt") {
        // the passt process libvirt starts serves vhost-user on its socket; QEMU reconnects to
        // it (after 5 s) when passt restarts
        if (!b.ctx.passtSocket) passtUnsupported(`interface ${alias}`);
        const path = b.ctx.passtSocket(alias);
        buildChardev(
          b,
          {
            type: "unix",
            source: { path, mode: "connect", reconnect: { enabled: true, timeout: 5 } },
            plainSocket: true,
          },
          `char${alias}`,
        );
      } else {
        buildChardev(
          b,
          {
            type: "unix",
            source: {
              path: s.path,
              mode: s.mode === "server" ? "bind" : "connect",
              ...(s.reconnect ? { reconnect: s.reconnect } : {}),
            },
            plainSocket: true,
          },
          `char${alias}`,
        );
      }
    }
    b.addJson("-netdev", hostNetProps(b, net, type));
    b.addJson("-device", nicProps(b, net, bootIndex(net)));
  }
}

/** The driver does not run passt for an interface yet (the harness names libvirt's socket). */
function passtUnsupported(element: string): never {
  return fail("QEMU_CMD_HOST_BACKEND_UNSUPPORTED", {
    element,
    what: "the passt back end (<backend type='passt'/>)",
    hint: "leave <backend> out for QEMU's user-mode network (SLiRP), or use a network or bridge",
  });
}
