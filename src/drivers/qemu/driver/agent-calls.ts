/**
 * The calls answered by the guest agent (libvirt's qemuDomain* through qemu_agent.c):
 * qemu-agent-command, fsfreeze/fsthaw, fsinfo, guest info, user password, guest time, guest
 * vCPUs and interface addresses (source agent). Each takes the agent of a running domain
 * (`agentOf`: not configured / not connected errors as libvirt's) and turns qemu-ga's replies
 * into libvirt's shapes: guest disks are matched to the domain's disks by PCI address (virtio)
 * or serial, and reported by target name as libvirt does.
 */
import type { DiskDef } from "../../../conf/domain/types.ts";
import { checkFlags, VirtError } from "../../../util/errors/index.ts";
import type { DomainInterfaceAddrs, TypedParameter } from "../../driver.ts";
import { AGENT_TIMEOUT_BLOCK } from "../agent/client.ts";
import { agentOf, agentTimeout, setAgentTimeout } from "./agent.ts";
import type { QemuDomainObj } from "./domain.ts";

/** VIR_DOMAIN_QEMU_AGENT_COMMAND_MIN */
const TIMEOUT_MIN = AGENT_TIMEOUT_BLOCK;

function liveOnly(obj: QemuDomainObj): void {
  if (!obj.isActive() || !obj.run || obj.run.ended)
    throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
}

function checkTimeout(timeout: number): void {
  if (!Number.isInteger(timeout) || timeout < TIMEOUT_MIN)
    throw new VirtError("QEMU_AGENT_BAD_TIMEOUT", { timeout: String(timeout), min: String(TIMEOUT_MIN) });
}

/** virDomainQemuAgentCommand: `cmd` as given, the whole reply back as JSON text. */
export async function agentCommand(
  obj: QemuDomainObj,
  cmd: string,
  timeout: number,
  flags: number,
): Promise<string> {
  checkFlags(flags, 0, "qemuDomainQemuAgentCommand");
  checkTimeout(timeout);
  liveOnly(obj);
  const agent = agentOf(obj);
  obj.run?.taints.add("custom-ga-command");
  return agent.raw(cmd, { timeout });
}

/** virDomainAgentSetResponseTimeout */
export function setResponseTimeout(obj: QemuDomainObj, timeout: number, flags: number): void {
  checkFlags(flags, 0, "qemuDomainAgentSetResponseTimeout");
  checkTimeout(timeout);
  liveOnly(obj);
  setAgentTimeout(obj, timeout);
}

function call(obj: QemuDomainObj, execute: string, args?: Record<string, unknown>): Promise<unknown> {
  liveOnly(obj);
  return agentOf(obj).command(execute, args, { timeout: agentTimeout(obj) });
}

function asArray(v: unknown, command: string): Record<string, unknown>[] {
  if (!Array.isArray(v)) throw new VirtError("QEMU_AGENT_BAD_REPLY", { command, reason: "not an array" });
  return v.filter((x): x is Record<string, unknown> => x !== null && typeof x === "object");
}

function asCount(v: unknown, command: string): number {
  if (typeof v !== "number") throw new VirtError("QEMU_AGENT_BAD_REPLY", { command, reason: "not a number" });
  return v;
}

export async function fsFreeze(
  obj: QemuDomainObj,
  mountpoints: readonly string[],
  flags: number,
): Promise<number> {
  checkFlags(flags, 0, "qemuDomainFSFreeze");
  if (mountpoints.length > 0)
    return asCount(
      await call(obj, "guest-fsfreeze-freeze-list", { mountpoints: [...mountpoints] }),
      "guest-fsfreeze-freeze-list",
    );
  return asCount(await call(obj, "guest-fsfreeze-freeze"), "guest-fsfreeze-freeze");
}

export async function fsThaw(
  obj: QemuDomainObj,
  mountpoints: readonly string[],
  flags: number,
): Promise<number> {
  checkFlags(flags, 0, "qemuDomainFSThaw");
  if (mountpoints.length > 0) throw new VirtError("QEMU_AGENT_THAW_MOUNTPOINTS", {});
  return asCount(await call(obj, "guest-fsfreeze-thaw"), "guest-fsfreeze-thaw");
}

interface GuestDiskAddr {
  "bus-type"?: string;
  bus?: number;
  unit?: number;
  target?: number;
  serial?: string;
  dev?: string;
  "pci-controller"?: { domain?: number; bus?: number; slot?: number; function?: number };
}

/** The domain disk a guest disk address names (libvirt's qemuAgentDiskAddr matching). */
function findDisk(obj: QemuDomainObj, a: GuestDiskAddr): DiskDef | undefined {
  const disks = obj.def.devices.disks;
  const pci = a["pci-controller"];
  if (a["bus-type"] === "virtio" && pci) {
    const hit = disks.find((d) => {
      const ad = d.address as
        { type?: string; domain?: number; bus?: number; slot?: number; function?: number } | undefined;
      return (
        d.target.bus === "virtio" &&
        ad?.type === "pci" &&
        (ad.domain ?? 0) === (pci.domain ?? 0) &&
        (ad.bus ?? 0) === (pci.bus ?? 0) &&
        (ad.slot ?? 0) === (pci.slot ?? 0) &&
        (ad.function ?? 0) === (pci.function ?? 0)
      );
    });
    if (hit) return hit;
  }
  if (a.serial) return disks.find((d) => d.serial === a.serial);
  return undefined;
}

export interface GuestFSInfo {
  mountpoint: string;
  name: string;
  fstype: string;
  devAliases: string[];
}

async function guestFilesystems(obj: QemuDomainObj): Promise<Record<string, unknown>[]> {
  return asArray(await call(obj, "guest-get-fsinfo"), "guest-get-fsinfo");
}

function fsDisks(obj: QemuDomainObj, fs: Record<string, unknown>): { disk?: DiskDef; addr: GuestDiskAddr }[] {
  const list = Array.isArray(fs.disk) ? (fs.disk as GuestDiskAddr[]) : [];
  return list.map((addr) => ({ disk: findDisk(obj, addr), addr }));
}

export async function getFSInfo(obj: QemuDomainObj, flags: number): Promise<GuestFSInfo[]> {
  checkFlags(flags, 0, "qemuDomainGetFSInfo");
  const list = await guestFilesystems(obj);
  return list.map((fs) => ({
    mountpoint: text(fs.mountpoint),
    name: text(fs.name),
    fstype: text(fs.type),
    devAliases: fsDisks(obj, fs).flatMap((d) => (d.disk ? [d.disk.target.dev] : [])),
  }));
}

/** virDomainGuestInfoTypes */
export const GuestInfoTypes = {
  USERS: 1 << 0,
  OS: 1 << 1,
  TIMEZONE: 1 << 2,
  HOSTNAME: 1 << 3,
  FILESYSTEM: 1 << 4,
  DISKS: 1 << 5,
  INTERFACES: 1 << 6,
} as const;
const ALL_TYPES = Object.values(GuestInfoTypes).reduce((a, b) => a | b, 0);

/** A string member of a reply ("" when absent or not a string). */
const text = (v: unknown): string => (typeof v === "string" ? v : "");

const str = (field: string, value: string): TypedParameter => ({ field, value: { type: 7, value } });
const uint = (field: string, value: number): TypedParameter => ({ field, value: { type: 2, value } });
const int = (field: string, value: number): TypedParameter => ({ field, value: { type: 1, value } });
const ull = (field: string, value: bigint): TypedParameter => ({ field, value: { type: 4, value } });
const bool = (field: string, value: boolean): TypedParameter => ({ field, value: { type: 6, value } });

const OS_FIELDS = [
  ["id", "id"],
  ["name", "name"],
  ["pretty-name", "pretty-name"],
  ["version", "version"],
  ["version-id", "version-id"],
  ["kernel-release", "kernel-release"],
  ["kernel-version", "kernel-version"],
  ["machine", "machine"],
  ["variant", "variant"],
  ["variant-id", "variant-id"],
] as const;

/**
 * virDomainGetGuestInfo. `types` 0 asks for everything; then a part the agent does not
 * support is left out, as libvirt does, while an explicitly asked part fails.
 */
export async function getGuestInfo(
  obj: QemuDomainObj,
  types: number,
  flags: number,
): Promise<TypedParameter[]> {
  checkFlags(flags, 0, "qemuDomainGetGuestInfo");
  if (types & ~ALL_TYPES)
    throw new VirtError("API_INVALID_ARG", {
      what: `unsupported guest information types 0x${(types & ~ALL_TYPES).toString(16)}`,
    });
  const all = types === 0;
  const want = all ? ALL_TYPES : types;
  liveOnly(obj);
  agentOf(obj);
  const out: TypedParameter[] = [];
  const part = async (bit: number, fn: () => Promise<void>): Promise<void> => {
    if (!(want & bit)) return;
    try {
      await fn();
    } catch (e) {
      if (!all || !(e instanceof VirtError) || e.code !== "QEMU_AGENT_COMMAND_FAILED") throw e;
    }
  };
  await part(GuestInfoTypes.USERS, async () => {
    const users = asArray(await call(obj, "guest-get-users"), "guest-get-users");
    out.push(uint("user.count", users.length));
    users.forEach((u, i) => {
      out.push(str(`user.${i}.name`, text(u.user)));
      if (typeof u.domain === "string") out.push(str(`user.${i}.domain`, u.domain));
      if (typeof u["login-time"] === "number")
        out.push(ull(`user.${i}.login-time`, BigInt(Math.round(u["login-time"] * 1000))));
    });
  });
  await part(GuestInfoTypes.OS, async () => {
    const os = (await call(obj, "guest-get-osinfo")) as Record<string, unknown>;
    for (const [key, name] of OS_FIELDS)
      if (typeof os[key] === "string") out.push(str(`os.${name}`, os[key]));
  });
  await part(GuestInfoTypes.TIMEZONE, async () => {
    const tz = (await call(obj, "guest-get-timezone")) as Record<string, unknown>;
    if (typeof tz.zone === "string") out.push(str("timezone.name", tz.zone));
    if (typeof tz.offset === "number") out.push(int("timezone.offset", tz.offset));
  });
  await part(GuestInfoTypes.HOSTNAME, async () => {
    const h = (await call(obj, "guest-get-host-name")) as Record<string, unknown>;
    if (typeof h["host-name"] === "string") out.push(str("hostname", h["host-name"]));
  });
  await part(GuestInfoTypes.FILESYSTEM, async () => {
    const list = await guestFilesystems(obj);
    out.push(uint("fs.count", list.length));
    list.forEach((fs, i) => {
      const p = `fs.${i}`;
      out.push(str(`${p}.mountpoint`, text(fs.mountpoint)));
      out.push(str(`${p}.name`, text(fs.name)));
      out.push(str(`${p}.fstype`, text(fs.type)));
      if (typeof fs["total-bytes"] === "number") out.push(ull(`${p}.total-bytes`, BigInt(fs["total-bytes"])));
      if (typeof fs["used-bytes"] === "number") out.push(ull(`${p}.used-bytes`, BigInt(fs["used-bytes"])));
      const disks = fsDisks(obj, fs);
      out.push(uint(`${p}.disk.count`, disks.length));
      disks.forEach((d, j) => {
        if (d.disk) out.push(str(`${p}.disk.${j}.alias`, d.disk.target.dev));
        if (d.addr.serial) out.push(str(`${p}.disk.${j}.serial`, d.addr.serial));
        if (d.addr.dev) out.push(str(`${p}.disk.${j}.device`, d.addr.dev));
      });
    });
  });
  await part(GuestInfoTypes.DISKS, async () => {
    const disks = asArray(await call(obj, "guest-get-disks"), "guest-get-disks");
    out.push(uint("disk.count", disks.length));
    disks.forEach((d, i) => {
      const p = `disk.${i}`;
      out.push(str(`${p}.name`, text(d.name)));
      out.push(bool(`${p}.partition`, d.partition === true));
      const deps = Array.isArray(d.dependencies) ? (d.dependencies as unknown[]) : [];
      out.push(uint(`${p}.dependency.count`, deps.length));
      deps.forEach((dep, j) => out.push(str(`${p}.dependency.${j}.name`, String(dep))));
      const addr = d.address as GuestDiskAddr | undefined;
      if (addr?.serial) out.push(str(`${p}.serial`, addr.serial));
      const disk = addr ? findDisk(obj, addr) : undefined;
      if (disk) out.push(str(`${p}.alias`, disk.target.dev));
      if (addr?.["bus-type"]) out.push(str(`${p}.guest_bus`, addr["bus-type"]));
    });
  });
  await part(GuestInfoTypes.INTERFACES, async () => {
    const ifaces = await guestInterfaces(obj);
    out.push(uint("if.count", ifaces.length));
    ifaces.forEach((ifc, i) => {
      const p = `if.${i}`;
      out.push(str(`${p}.name`, ifc.name));
      if (ifc.hwaddr !== null) out.push(str(`${p}.hwaddr`, ifc.hwaddr));
      out.push(uint(`${p}.addr.count`, ifc.addrs.length));
      ifc.addrs.forEach((a, j) => {
        out.push(str(`${p}.addr.${j}.type`, a.type === 1 ? "ipv6" : "ipv4"));
        out.push(str(`${p}.addr.${j}.addr`, a.addr));
        out.push(uint(`${p}.addr.${j}.prefix`, a.prefix));
      });
    });
  });
  return out;
}

/** guest-network-get-interfaces as virDomainInterfaceAddresses' list. */
export async function guestInterfaces(obj: QemuDomainObj): Promise<DomainInterfaceAddrs[]> {
  const list = asArray(await call(obj, "guest-network-get-interfaces"), "guest-network-get-interfaces");
  return list.map((ifc) => {
    const addrs = Array.isArray(ifc["ip-addresses"])
      ? (ifc["ip-addresses"] as Record<string, unknown>[])
      : [];
    return {
      name: text(ifc.name),
      hwaddr: typeof ifc["hardware-address"] === "string" ? ifc["hardware-address"] : null,
      addrs: addrs.map((a) => ({
        type: a["ip-address-type"] === "ipv6" ? 1 : 0,
        addr: text(a["ip-address"]),
        prefix: typeof a.prefix === "number" ? a.prefix : 0,
      })),
    };
  });
}

/** virDomainSetUserPassword (flag 1: the password is already crypted). */
export async function setUserPassword(
  obj: QemuDomainObj,
  user: string,
  password: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, 1, "qemuDomainSetUserPassword");
  await call(obj, "guest-set-user-password", {
    username: user,
    password: Buffer.from(password, "utf8").toString("base64"),
    crypted: (flags & 1) !== 0,
  });
}

export async function getTime(
  obj: QemuDomainObj,
  flags: number,
): Promise<{ seconds: bigint; nseconds: number }> {
  checkFlags(flags, 0, "qemuDomainGetTime");
  const ns = await call(obj, "guest-get-time");
  if (typeof ns !== "number")
    throw new VirtError("QEMU_AGENT_BAD_REPLY", { command: "guest-get-time", reason: "not a number" });
  const big = BigInt(Math.round(ns));
  return { seconds: big / 1_000_000_000n, nseconds: Number(big % 1_000_000_000n) };
}

/** virDomainSetTime: flag 1 (SYNC) has the guest read its RTC; otherwise the given time. */
export async function setTime(
  obj: QemuDomainObj,
  seconds: bigint,
  nseconds: number,
  flags: number,
): Promise<void> {
  checkFlags(flags, 1, "qemuDomainSetTime");
  if (flags & 1) {
    await call(obj, "guest-set-time");
    return;
  }
  // libvirt: the agent takes nanoseconds in a long long
  if (seconds < 0n || seconds > 9223372036n)
    throw new VirtError("API_INVALID_ARG", { what: `time '${seconds}' is too big for the guest agent` });
  await call(obj, "guest-set-time", { time: Number(seconds * 1_000_000_000n + BigInt(nseconds)) });
}

function formatBitmap(ids: number[]): string {
  const s = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j === i ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

function parseBitmap(text: string): number[] | undefined {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** virDomainGetGuestVcpus: `vcpus`, `online`, `offlinable` bitmaps. */
export async function getGuestVcpus(obj: QemuDomainObj, flags: number): Promise<TypedParameter[]> {
  checkFlags(flags, 0, "qemuDomainGetGuestVcpus");
  const list = asArray(await call(obj, "guest-get-vcpus"), "guest-get-vcpus");
  const id = (v: Record<string, unknown>): number => Number(v["logical-id"]);
  return [
    str("vcpus", formatBitmap(list.map(id))),
    str("online", formatBitmap(list.filter((v) => v.online === true).map(id))),
    str("offlinable", formatBitmap(list.filter((v) => v["can-offline"] === true).map(id))),
  ];
}

/** virDomainSetGuestVcpus: the vCPUs of `cpumap` on (state 1) or off (0). */
export async function setGuestVcpus(
  obj: QemuDomainObj,
  cpumap: string,
  state: number,
  flags: number,
): Promise<void> {
  checkFlags(flags, 0, "qemuDomainSetGuestVcpus");
  const ids = parseBitmap(cpumap);
  if (!ids) throw new VirtError("API_INVALID_ARG", { what: `failed to parse vcpu map '${cpumap}'` });
  const list = asArray(await call(obj, "guest-get-vcpus"), "guest-get-vcpus");
  const known = new Set(list.map((v) => Number(v["logical-id"])));
  const missing = ids.find((i) => !known.has(i));
  if (missing !== undefined)
    throw new VirtError("API_INVALID_ARG", { what: `guest is missing vCPUs '${missing}'` });
  const done = await call(obj, "guest-set-vcpus", {
    vcpus: ids.map((i) => ({ "logical-id": i, online: state !== 0 })),
  });
  if (typeof done === "number" && done < ids.length)
    throw new VirtError("QEMU_AGENT_COMMAND_FAILED", {
      command: "guest-set-vcpus",
      reason: `only ${done} of ${ids.length} vCPUs changed`,
    });
}

/** Shutdown or reboot through `guest-shutdown` (qemu-ga does not answer it). */
export async function agentPower(obj: QemuDomainObj, mode: "powerdown" | "reboot"): Promise<void> {
  liveOnly(obj);
  await agentOf(obj).command("guest-shutdown", { mode }, { noReply: true });
}
