/**
 * Device hotplug on the QEMU driver (libvirt's `qemu_hotplug.c` and the attach/detach/update
 * device APIs of `qemu_driver.c`): disks (file and block, CD-ROM and floppy media change),
 * interfaces and USB host devices on a running guest, and any of them in the persistent
 * definition.
 *
 * - Scope is libvirt's: AFFECT_CURRENT is live for a running domain and config otherwise; LIVE on
 *   an inactive domain and CONFIG on a transient one are errors; with both, the config change is
 *   prepared first, the live one done, then the config written.
 * - A device for a running guest is parsed in the context of the live definition (the domain XML
 *   with the snippet added, parsed again with the domain's defaults), so it gets the address,
 *   alias and properties a cold-plugged device would; its QMP arguments come from the command
 *   builders that build `-blockdev`/`-netdev`/`-device` at start.
 * - A failed attach undoes what it added (blockdev/netdev nodes added before `device_add`) and
 *   leaves the live definition as it was.
 * - Detach sends `device_del` and waits for QEMU's DEVICE_DELETED; only then are the backends
 *   removed and the device dropped from the live definition. A guest that does not release the
 *   device in time gets a clear error; the request stays pending and completes when the event
 *   arrives later (`deviceDeleted`, called from the monitor's event handler).
 * - The live definition is written to the status file after every change.
 */
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { assignAliases, formatDomainXML, type DomainDef } from "../../../conf/domain/index.ts";
import {
  findDisk,
  findHostdev,
  hostdevLabel,
  matchInterfaces,
  parseSnippetDevice,
  readDeviceSnippet,
  readGraphicsSnippet,
  withDeviceXML,
  type DeviceSnippet,
} from "../../../conf/domain/device-snippet.ts";
import type {
  ControllerDef,
  DiskDef,
  FilesystemDef,
  GraphicsDef,
  HostdevDef,
  InterfaceDef,
} from "../../../conf/domain/types.ts";
import {
  checkGraphicsChange,
  graphicsPasswordChanged,
  setGraphicsPassword,
  withGraphicsPassword,
} from "./graphics.ts";
import { DisposableStore } from "../../../util/disposable.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { DomainDeviceModifyFlags, DomainEventId } from "../../enums.ts";
import { checkFlags } from "../../../util/errors/index.ts";
import { Build } from "../command/build.ts";
import {
  diskDeviceProps,
  formatProps,
  isEmptyDisk,
  localDiskPath,
  needsFormatLayer,
  storageProps,
  type DiskNodes,
} from "../command/disk.ts";
import { Props } from "../command/escape.ts";
import { diskSecretIds, diskSecretObjects } from "../command/disk-secrets.ts";
import { hostdevDeviceProps } from "../command/hostdev.ts";
import { hostNetProps, nicProps } from "../command/net.ts";
import {
  attachTaps,
  closeMacvtapFds,
  createMacvtaps,
  planTapPlugs,
  PLUGGED_TYPES,
  releaseMacvtaps,
  type PlugPlan,
} from "./net-plug.ts";
import type { CommandContext } from "../command/types.ts";
import type { QmpClient, QmpObject } from "../monitor/index.ts";
import { hostCommandContext } from "../command/context.ts";
import { domainPaths } from "../paths.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { prepareHostdevForAttach, releaseHostdevAfterDetach } from "./hotplug-hostdev.ts";
import { refreshProfile } from "./apparmor.ts";
import { startVirtiofsd } from "./virtiofs.ts";
import { stopWithGuest, watchVirtiofsd } from "./virtiofs-watch.ts";
import { virtiofsChardevId, virtiofsDeviceProps } from "../command/fs.ts";
import { resolveDiskVolume } from "./volumes.ts";
import { checkTunAccess, dacFilesOf, dacLabel, dacRelease, resolveRunAs } from "./dac.ts";

const F = DomainDeviceModifyFlags;

/** Timeouts of hotplug (tests shorten them). */
export const hotplugTimeouts = {
  /** How long detach waits for DEVICE_DELETED (libvirt: 5 s; TCG guests are slower). */
  detachMs: 30_000,
};

/**
 * Interface types a running guest takes. `direct`: the macvtap's descriptor goes to QEMU over
 * QMP (`getfd`, SCM_RIGHTS) and `netdev_add` names it, as libvirt does. vhost-user is not yet.
 */
const LIVE_NET_TYPES = [
  "user",
  "server",
  "client",
  "mcast",
  "udp",
  "network",
  "bridge",
  "ethernet",
  "direct",
] as const;

/** Of those, the ones on a tap (or the bridge helper) prepared by `net-plug.ts`. */
const TAP_NET_TYPES = PLUGGED_TYPES;

/** Disk buses a running guest takes disks on. */
const LIVE_DISK_BUSES = ["virtio", "scsi", "usb"] as const;

// ---------------------------------------------------------------------------------------------
// scope, job
// ---------------------------------------------------------------------------------------------

interface Scope {
  readonly live: boolean;
  readonly config: boolean;
}

/** virDomainObjUpdateModificationImpact */
function impact(obj: QemuDomainObj, flags: number): Scope {
  let f = flags & (F.LIVE | F.CONFIG);
  if (f === 0) f = obj.isActive() ? F.LIVE : F.CONFIG;
  if (f & F.LIVE && !obj.isActive()) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  if (f & F.CONFIG && !obj.persistent)
    throw new VirtError("HOTPLUG_TRANSIENT_CONFIG", {}, { name: obj.name });
  return { live: (f & F.LIVE) !== 0, config: (f & F.CONFIG) !== 0 };
}

async function withModifyJob<T>(obj: QemuDomainObj, api: string, fn: () => Promise<T>): Promise<T> {
  const job = await obj.job.acquire("modify", api);
  try {
    return await fn();
  } finally {
    job.release();
  }
}

function liveRun(obj: QemuDomainObj): { run: QemuRun; qmp: QmpClient } {
  const run = obj.run;
  if (!obj.isActive() || !run || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING", {}, { name: obj.name });
  if (!run.qmp)
    throw new VirtError("QEMU_MONITOR_UNAVAILABLE", { name: obj.name, operation: "device hotplug" });
  return { run, qmp: run.qmp };
}

/** Writes the persistent definition prepared by a CONFIG change. */
async function commitConfig(drv: QemuDriver, obj: QemuDomainObj, def: DomainDef): Promise<void> {
  const old = { def: obj.def, newDef: obj.newDef };
  if (obj.isActive()) obj.newDef = def;
  else obj.def = def;
  try {
    await drv.saveConfig(obj);
  } catch (e) {
    obj.def = old.def;
    obj.newDef = old.newDef;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// parsing a device against a definition
// ---------------------------------------------------------------------------------------------

function aloneDevice(s: DeviceSnippet): DomainDef {
  return parseSnippetDevice(s);
}

function snippetDisk(alone: DomainDef): DiskDef {
  return alone.devices.disks[0]!;
}

/** `def` with the snippet's device, parsed again with the domain's defaults. */
async function reparseWith(drv: QemuDriver, def: DomainDef, s: DeviceSnippet): Promise<DomainDef> {
  const xml = withDeviceXML(formatDomainXML(def, { secure: true }), s);
  return drv.parseDomain(xml, { abiUpdate: true });
}

function checkNotPresent(def: DomainDef, s: DeviceSnippet, alone: DomainDef, name: string): void {
  if (s.kind === "disk") {
    const d = snippetDisk(alone);
    if (findDisk(def, d.target.dev))
      throw new VirtError("HOTPLUG_TARGET_EXISTS", { target: d.target.dev }, { target: d.target.dev });
  } else if (s.kind === "interface") {
    const mac = alone.devices.interfaces[0]?.mac?.address;
    if (
      mac !== undefined &&
      def.devices.interfaces.some((n) => n.mac?.address.toLowerCase() === mac.toLowerCase())
    )
      throw new VirtError("HOTPLUG_DEVICE_EXISTS", { device: `interface with MAC address ${mac}`, name });
  } else if (s.kind === "hostdev") {
    const h = alone.devices.hostdevs[0]!;
    if (findHostdev(def, h)) {
      const l = hostdevLabel(h);
      throw new VirtError("HOTPLUG_DEVICE_EXISTS", { device: `host ${l.what} device ${l.id}`, name });
    }
  }
}

async function checkDiskSource(disk: DiskDef): Promise<void> {
  // file, block device, directory, or a volume once resolved (`resolveDiskVolume`)
  const path = localDiskPath(disk);
  if (path === undefined) return;
  try {
    await stat(path);
  } catch {
    throw new VirtError("HOTPLUG_SOURCE_MISSING", { target: disk.target.dev, path }, { path });
  }
}

// ---------------------------------------------------------------------------------------------
// QMP arguments from the command builders
// ---------------------------------------------------------------------------------------------

async function buildFor(
  drv: QemuDriver,
  obj: QemuDomainObj,
  run: QemuRun,
  def: DomainDef,
  plugs?: PlugPlan,
  /** Interfaces whose tap QEMU got with `getfd` under this name (a hotplugged macvtap). */
  fdNames?: ReadonlyMap<string, string>,
): Promise<Build> {
  const caps = await drv.caps(def.devices.emulator);
  const tapOf = new Map((plugs?.plugs ?? []).map((p) => [p.alias, p.tap]));
  const ctx: CommandContext = {
    ...hostCommandContext(caps, obj.name, drv.root),
    domainId: obj.id,
    paths: domainPaths(drv.paths, obj.id, obj.name),
    ...(() => {
      const key = runningMasterKey(domainPaths(drv.paths, obj.id, obj.name).masterKeyFile);
      return key ? { masterKey: key } : {};
    })(),
    monitor: { path: run.monitorPath },
    accel: def.type === "kvm" ? "kvm" : "tcg",
    ...(fdNames
      ? {
          interfaceFds: (alias: string) => {
            const name = fdNames.get(alias);
            return name === undefined ? undefined : { tap: [name], vhost: [] };
          },
        }
      : {}),
    // a hotplugged network/bridge interface: its tap, by name, as at start (net-plug.ts)
    ...(plugs
      ? {
          interfaceTapName: (alias: string) => tapOf.get(alias),
          interfaceBridgeHelper: (alias: string) => plugs.helpers.get(alias),
          resolveNetwork: (name: string) => {
            const bridge = plugs.bridgeOf.get(name);
            return bridge === undefined ? undefined : { type: "bridge" as const, bridge };
          },
        }
      : {}),
  };
  return new Build(def, ctx);
}

/** The running domain's master key (QEMU loaded it as `masterKey0` at start). */
function runningMasterKey(file: string): Uint8Array | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined; // a guest started before tvirt wrote keys: secrets cannot be added
  }
}

function args(p: Props): QmpObject {
  return JSON.parse(p.toString()) as QmpObject;
}

interface NamedNode {
  "node-name"?: unknown;
}

/** A node number N no `libvirt-N-*` node of this QEMU uses. */
async function freeNodeIndex(qmp: QmpClient): Promise<number> {
  const nodes = (await qmp.execute("query-named-block-nodes", { flat: true })) as NamedNode[];
  let max = 0;
  for (const n of nodes) {
    const m = typeof n["node-name"] === "string" ? /^libvirt-(\d+)-/.exec(n["node-name"]) : null;
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

function diskNodes(b: Build, disk: DiskDef, n: number): DiskNodes {
  const nodes: DiskNodes = { storage: `libvirt-${n}-storage` };
  if (needsFormatLayer(b, disk)) nodes.format = `libvirt-${n}-format`;
  return nodes;
}

interface BlockInfo {
  qdev?: unknown;
  inserted?: { "node-name"?: unknown };
}

function qdevMatches(qdev: unknown, alias: string): boolean {
  if (typeof qdev !== "string") return false;
  return qdev === alias || qdev.endsWith(`/${alias}`) || qdev.includes(`/${alias}/`);
}

/** The nodes behind a disk device, top first (what to delete once the device or medium is gone). */
async function nodesOfDevice(qmp: QmpClient, alias: string): Promise<string[]> {
  const blocks = (await qmp.execute("query-block")) as BlockInfo[];
  const top = blocks.find((x) => qdevMatches(x.qdev, alias))?.inserted?.["node-name"];
  if (typeof top !== "string") return [];
  const m = /^libvirt-(\d+)-(format|storage)$/.exec(top);
  if (!m) return [top];
  const all = (await qmp.execute("query-named-block-nodes", { flat: true })) as NamedNode[];
  const names = new Set(all.map((x) => x["node-name"]).filter((x): x is string => typeof x === "string"));
  return [`libvirt-${m[1]}-format`, `libvirt-${m[1]}-storage`].filter((x) => names.has(x));
}

async function deleteNodes(qmp: QmpClient, nodes: readonly string[]): Promise<void> {
  for (const n of nodes) await qmp.execute("blockdev-del", { "node-name": n }).catch(() => undefined);
  // and the secrets those nodes used (libvirt-N-storage-auth-secret0, ...-encryption-secretK)
  const m = nodes.map((n) => /^libvirt-(\d+)-(?:format|storage)$/.exec(n)?.[1]).find((x) => x !== undefined);
  if (m === undefined) return;
  const ids = diskSecretIds({ storage: `libvirt-${m}-storage`, format: `libvirt-${m}-format` }).concat(
    diskSecretIds({ storage: `libvirt-${m}-storage` }),
  );
  for (const id of new Set(ids)) await qmp.execute("object-del", { id }).catch(() => undefined);
}

/** Adds the blockdev nodes of `disk` (none for an empty drive); returns their names, top first. */
async function addDiskNodes(
  qmp: QmpClient,
  b: Build,
  disk: DiskDef,
): Promise<{ nodes: DiskNodes; added: string[] }> {
  const nodes = diskNodes(b, disk, await freeNodeIndex(qmp));
  const added: string[] = [];
  if (isEmptyDisk(disk)) return { nodes, added };
  const secrets: string[] = [];
  try {
    // LUKS passphrases and auth passwords first, encrypted with the domain's master key
    for (const o of diskSecretObjects(b, disk, nodes)) {
      const obj = args(o);
      await qmp.execute("object-add", obj);
      secrets.push(String(obj.id));
    }
    await qmp.execute("blockdev-add", args(storageProps(b, disk, nodes)));
    added.unshift(nodes.storage);
    if (nodes.format !== undefined) {
      await qmp.execute("blockdev-add", args(formatProps(disk, nodes)));
      added.unshift(nodes.format);
    }
  } catch (e) {
    await deleteNodes(qmp, added);
    for (const id of secrets) await qmp.execute("object-del", { id }).catch(() => undefined);
    throw e;
  }
  return { nodes, added };
}

// ---------------------------------------------------------------------------------------------
// attach
// ---------------------------------------------------------------------------------------------

const LIVE_KINDS = ["disk", "interface", "hostdev", "filesystem"];

export async function attachDevice(
  drv: QemuDriver,
  obj: QemuDomainObj,
  xml: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, F.LIVE | F.CONFIG, "qemuDomainAttachDeviceFlags");
  const s = readDeviceSnippet(xml);
  const alone = aloneDevice(s);
  await withModifyJob(obj, "virDomainAttachDeviceFlags", async () => {
    const scope = impact(obj, flags);
    let config: DomainDef | undefined;
    if (scope.config) {
      // as libvirt: the source of a disk for the next boot need not exist yet
      checkNotPresent(obj.persistentDef(), s, alone, obj.name);
      config = await reparseWith(drv, obj.persistentDef(), s);
    }
    if (scope.live) await attachLive(drv, obj, s, alone);
    if (config) await commitConfig(drv, obj, config);
  });
}

function newDeviceOf(reparsed: DomainDef, s: DeviceSnippet, alone: DomainDef) {
  const d = reparsed.devices;
  if (s.kind === "disk") return findDisk(reparsed, snippetDisk(alone).target.dev)!;
  if (s.kind === "interface") return d.interfaces[d.interfaces.length - 1]!;
  if (s.kind === "filesystem") {
    const dir = alone.devices.filesystems[0]!.target.dir;
    return d.filesystems.find((f) => f.target.dir === dir)!;
  }
  return d.hostdevs[d.hostdevs.length - 1]!;
}

/** Only disks, interfaces and host devices are plugged into a running QEMU. */
function checkLiveKind(s: DeviceSnippet, action: string): void {
  if (LIVE_KINDS.includes(s.kind)) return;
  throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
    action,
    kind: s.kind,
    where: " on a running domain",
    allowed: LIVE_KINDS.join(", "),
  });
}

async function attachLive(
  drv: QemuDriver,
  obj: QemuDomainObj,
  s: DeviceSnippet,
  alone: DomainDef,
): Promise<void> {
  const { run, qmp } = liveRun(obj);
  checkLiveKind(s, "live attach");
  const live = obj.def;
  checkNotPresent(live, s, alone, obj.name);
  if (s.kind === "disk") {
    const d = snippetDisk(alone);
    const bus = d.target.bus ?? "ide";
    if (!(LIVE_DISK_BUSES as readonly string[]).includes(bus)) {
      throw new VirtError(
        "HOTPLUG_BUS_NOT_HOTPLUGGABLE",
        { bus, target: d.target.dev, allowed: LIVE_DISK_BUSES.join(", ") },
        { allowed: LIVE_DISK_BUSES },
      );
    }
    await checkDiskSource(d);
  }
  if (s.kind === "interface") {
    const type = alone.devices.interfaces[0]!.type;
    const backend = alone.devices.interfaces[0]!.backend?.type;
    if (!(LIVE_NET_TYPES as readonly string[]).includes(type) || backend === "passt") {
      throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
        action: "live attach",
        kind: `interface type='${type}'${backend === "passt" ? " with the passt backend" : ""}`,
        where: " on a running domain (vhost-user and helper-process backends are not hotplugged yet)",
        allowed: LIVE_NET_TYPES.map((x) => `interface type='${x}'`).join(", "),
      });
    }
  }
  if (s.kind === "hostdev") {
    const h = alone.devices.hostdevs[0]!;
    if (h.mode !== "subsystem" || (h.type !== "usb" && h.type !== "pci")) {
      throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
        action: "live attach",
        kind: `hostdev type='${h.type}'`,
        where: " on a running domain",
        allowed: "hostdev mode='subsystem' type='usb' or type='pci'",
      });
    }
  }
  if (s.kind === "filesystem") {
    const f = alone.devices.filesystems[0]!;
    if (f.driver?.type !== "virtiofs" || f.source?.socket !== undefined) {
      throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
        action: "live attach",
        kind: `filesystem driver '${f.driver?.type ?? "path"}'${f.source?.socket !== undefined ? " with an external socket" : ""}`,
        where: " on a running domain",
        allowed: "filesystem <driver type='virtiofs'/> with <source dir> (tvirt starts its virtiofsd)",
      });
    }
    // vhost-user: virtiofsd maps guest memory, which must be shared (libvirt's message)
    const whole = live.memoryBacking?.access?.mode;
    const cells = live.cpu?.numa?.cells ?? [];
    const shared =
      cells.length > 0 ? cells.every((c) => (c.memAccess ?? whole) === "shared") : whole === "shared";
    if (!shared) throw new VirtError("DOMAIN_VHOSTUSER_SHARED_MEMORY", { device: "virtiofs" });
    if (live.devices.filesystems.some((x) => x.target.dir === f.target.dir))
      throw new VirtError("HOTPLUG_DEVICE_EXISTS", {
        device: `filesystem with target '${f.target.dir}'`,
        name: obj.name,
      });
  }
  const reparsed = await reparseWith(drv, live, s);
  for (const c of reparsed.devices.controllers) {
    if (!live.devices.controllers.some((x) => x.type === c.type && x.index === c.index)) {
      throw new VirtError("HOTPLUG_CONTROLLER_NEEDED", {
        device: `${s.kind} ${describe(s, alone)}`,
        controller: `${c.type}${c.model !== undefined ? ` (${c.model})` : ""}`,
      });
    }
  }
  const next = structuredClone(live);
  const dev = structuredClone(newDeviceOf(reparsed, s, alone));
  if (s.kind === "disk" && (dev as DiskDef).type === "volume") {
    // the storage driver's path, type and format, as at start
    await resolveDiskVolume(drv.options.resolveVolume, dev as DiskDef);
    await checkDiskSource(dev as DiskDef);
  }
  if (s.kind === "disk") next.devices.disks.push(dev as DiskDef);
  else if (s.kind === "interface") next.devices.interfaces.push(dev as InterfaceDef);
  else if (s.kind === "filesystem") next.devices.filesystems.push(dev as FilesystemDef);
  else next.devices.hostdevs.push(dev as HostdevDef);
  assignAliases(next);
  // a network/bridge interface: its network must run; its bridge and tap name go in the live XML
  const plugs =
    s.kind === "interface" && TAP_NET_TYPES.includes((dev as InterfaceDef).type)
      ? await planTapPlugs(
          drv.root,
          { ...next, devices: { ...next.devices, interfaces: [dev as InterfaceDef] } },
          drv.options.bridgeHelper,
        )
      : undefined;
  if (plugs && plugs.helpers.size > 0) {
    // the running QEMU has its seccomp sandbox (spawn=deny): forking the helper would kill it
    throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
      action: "live attach",
      kind: "interface on a bridge through qemu-bridge-helper",
      where: " on a running domain (QEMU's seccomp sandbox forbids it to run the helper)",
      allowed: "interface type='user', or a bridge when tvirt runs as root",
    });
  }
  const alias = dev.alias ?? "";
  const direct = s.kind === "interface" && (dev as InterfaceDef).type === "direct";
  const fdNames = direct ? new Map([[alias, `hostnet-fd-${alias}`]]) : undefined;
  const b = await buildFor(drv, obj, run, next, plugs, fdNames);

  // what the attach added, removed newest first if a later step fails
  const undo = new DisposableStore();
  try {
    // AppArmor: the new device's files are allowed before QEMU opens them
    await refreshProfile(drv, obj, run, next);
    undo.addFn(() => refreshProfile(drv, obj, run, live));
    await labelHotplug(drv, obj, undo, s.kind === "disk" ? [dev as DiskDef] : [], plugs, dev);
    if (s.kind === "disk") {
      const disk = dev as DiskDef;
      const { nodes, added } = await addDiskNodes(qmp, b, disk);
      undo.addFn(() => deleteNodes(qmp, added));
      await qmp.execute("device_add", args(diskDeviceProps(b, disk, nodes, disk.boot?.order)));
    } else if (s.kind === "interface") {
      const net = dev as InterfaceDef;
      if (direct) {
        // the macvtap is made and opened here, its descriptor handed to QEMU by name
        const [tap] = await createMacvtaps({ ...next, devices: { ...next.devices, interfaces: [net] } });
        if (tap) {
          undo.addFn(() => releaseMacvtaps([{ dev: tap.dev }]));
          try {
            await qmp.executeWithFd("getfd", { fdname: fdNames!.get(alias)! }, tap.fd);
          } finally {
            closeMacvtapFds([tap]);
          }
        }
      }
      const hostnet = args(hostNetProps(b, net, net.type));
      await qmp.execute("netdev_add", hostnet);
      undo.addFn(async () => {
        await qmp.execute("netdev_del", { id: `host${alias}` });
      });
      // QEMU opened (created) the tap: onto the bridge before the guest sees the NIC
      if (plugs) await attachTaps(plugs);
      await qmp.execute("device_add", args(nicProps(b, net, net.boot?.order)));
    } else if (s.kind === "filesystem") {
      // virtiofs: its virtiofsd listening first, QEMU's socket chardev to it, then the device
      const f = dev as FilesystemDef;
      const d = await startVirtiofsd({
        domain: obj.name,
        fs: f,
        alias,
        socket: join(run.domainDir, `${alias}-fs.sock`),
        logPath: drv.logPath(`${obj.name}-${alias}-virtiofsd`),
      });
      undo.addFn(() => d.stop());
      const chr = virtiofsChardevId(f);
      await qmp.execute("chardev-add", {
        id: chr,
        backend: {
          type: "socket",
          data: { addr: { type: "unix", data: { path: d.socket } }, server: false },
        },
      });
      undo.addFn(async () => {
        await qmp.execute("chardev-remove", { id: chr });
      });
      await qmp.execute("device_add", args(virtiofsDeviceProps(b, f)));
      run.virtiofsDaemons.set(alias, d);
      run.store.addFn(stopWithGuest(run, d));
      watchVirtiofsd(drv, obj, run, d);
    } else {
      const h = dev as HostdevDef;
      undo.add(await prepareHostdevForAttach(drv, obj, h));
      // an unassigned PCI device is taken from the host but given to no guest bus
      if (h.address?.type !== "unassigned") await qmp.execute("device_add", args(hostdevDeviceProps(b, h)));
    }
    undo.forgetAll();
  } catch (e) {
    // every undo runs even when one fails
    await undo.dispose().catch(() => undefined);
    throw e;
  }
  obj.def = next;
  await drv.saveStatus(obj);
  drv.events.emit(obj.ref(), { id: DomainEventId.DEVICE_ADDED, devAlias: alias });
}

function describe(s: DeviceSnippet, alone: DomainDef): string {
  if (s.kind === "disk") return snippetDisk(alone).target.dev;
  if (s.kind === "interface")
    return alone.devices.interfaces[0]?.mac?.address ?? alone.devices.interfaces[0]?.type ?? "";
  if (s.kind === "hostdev") return hostdevLabel(alone.devices.hostdevs[0]!).id;
  return "";
}

// ---------------------------------------------------------------------------------------------
// detach
// ---------------------------------------------------------------------------------------------

/** The device of `def` the snippet names; throws the libvirt error for a missing one. */
function findTarget(
  def: DomainDef,
  s: DeviceSnippet,
  alone: DomainDef,
  where: "live" | "config",
): { list: unknown[]; dev: DiskDef | InterfaceDef | HostdevDef | FilesystemDef | ControllerDef } {
  const d = def.devices;
  if (s.kind === "disk") {
    const t = snippetDisk(alone).target.dev;
    const dev = findDisk(def, t);
    if (!dev)
      throw new VirtError(where === "live" ? "HOTPLUG_DISK_NOT_FOUND" : "HOTPLUG_CONFIG_TARGET_NOT_FOUND", {
        target: t,
      });
    return { list: d.disks, dev };
  }
  if (s.kind === "interface") {
    return { list: d.interfaces, dev: findInterface(def, alone.devices.interfaces[0]!) };
  }
  if (s.kind === "hostdev") {
    const want = alone.devices.hostdevs[0]!;
    const dev = findHostdev(def, want);
    if (!dev) throw new VirtError("HOTPLUG_HOSTDEV_NOT_FOUND", hostdevLabel(want));
    return { list: d.hostdevs, dev };
  }
  if (s.kind === "filesystem") {
    const want = alone.devices.filesystems[0]!;
    const dev = d.filesystems.find((x) => x.target.dir === want.target.dir);
    if (dev) return { list: d.filesystems, dev };
  }
  if (s.kind === "controller") {
    const want = alone.devices.controllers[0]!;
    const dev = d.controllers.find((x) => x.type === want.type && x.index === want.index);
    if (dev) return { list: d.controllers, dev };
  }
  throw new VirtError("HOTPLUG_DEVICE_NOT_FOUND", { kind: s.kind });
}

export async function detachDevice(
  drv: QemuDriver,
  obj: QemuDomainObj,
  xml: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, F.LIVE | F.CONFIG, "qemuDomainDetachDeviceFlags");
  const s = readDeviceSnippet(xml);
  const alone = aloneDevice(s);
  await withModifyJob(obj, "virDomainDetachDeviceFlags", async () => {
    const scope = impact(obj, flags);
    let config: DomainDef | undefined;
    if (scope.config) {
      config = structuredClone(obj.persistentDef());
      const { list, dev } = findTarget(config, s, alone, "config");
      list.splice(list.indexOf(dev), 1);
    }
    if (scope.live) await detachLive(drv, obj, s, alone);
    if (config) await commitConfig(drv, obj, config);
  });
}

interface PendingUnplug {
  readonly alias: string;
  /** Resolves once the device is gone and its backends are released. */
  readonly done: Promise<void>;
  finish(): Promise<void>;
}

/** Unplug requests sent to a QEMU process and not yet answered by DEVICE_DELETED. */
const pendingByRun = new WeakMap<QemuRun, Map<string, PendingUnplug>>();

function pendingOf(run: QemuRun): Map<string, PendingUnplug> {
  let m = pendingByRun.get(run);
  if (!m) {
    m = new Map();
    pendingByRun.set(run, m);
  }
  return m;
}

/**
 * QEMU's DEVICE_DELETED for `alias` (from the monitor's event handler): completes an unplug
 * that was asked for, now or after its detach call gave up waiting.
 */
export function deviceDeleted(run: QemuRun, alias: string): void {
  const p = pendingByRun.get(run)?.get(alias);
  if (p) void p.finish();
}

async function detachLive(
  drv: QemuDriver,
  obj: QemuDomainObj,
  s: DeviceSnippet,
  alone: DomainDef,
): Promise<void> {
  const { run, qmp } = liveRun(obj);
  checkLiveKind(s, "live detach");
  const { dev } = findTarget(obj.def, s, alone, "live");
  const alias = dev.alias ?? "";
  if (s.kind === "disk") {
    const bus = (dev as DiskDef).target.bus ?? "ide";
    if (!(LIVE_DISK_BUSES as readonly string[]).includes(bus)) {
      throw new VirtError(
        "HOTPLUG_BUS_NOT_HOTPLUGGABLE",
        { bus, target: (dev as DiskDef).target.dev, allowed: LIVE_DISK_BUSES.join(", ") },
        { allowed: LIVE_DISK_BUSES },
      );
    }
  }
  const pending = pendingOf(run);
  if (pending.has(alias)) throw new VirtError("HOTPLUG_DETACH_PENDING", { alias, name: obj.name });

  // What to release once QEMU let go of the device.
  const release: (() => Promise<void>)[] = [];
  if (s.kind === "disk") {
    const nodes = await nodesOfDevice(qmp, alias);
    release.push(() => deleteNodes(qmp, nodes));
    const path = localDiskPath(dev as DiskDef);
    if (path !== undefined) release.push(() => releaseHotplug(drv, obj, [path], [], alias));
  } else if (s.kind === "interface") {
    release.push(async () => {
      await qmp.execute("netdev_del", { id: `host${alias}` }).catch(() => undefined);
    });
    const tap = (dev as InterfaceDef).target?.dev;
    // a macvtap outlives QEMU's use of it: deleted as at stop
    if ((dev as InterfaceDef).type === "direct") {
      if (tap !== undefined) release.push(() => releaseMacvtaps([{ dev: tap }]));
    } else if (tap !== undefined) release.push(() => releaseHotplug(drv, obj, [], [tap], alias));
  } else if (s.kind === "filesystem") {
    const f = dev as FilesystemDef;
    if (f.driver?.type !== "virtiofs" || f.source?.socket !== undefined) {
      throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
        action: "live detach",
        kind: `filesystem driver '${f.driver?.type ?? "path"}'`,
        where: " on a running domain",
        allowed: "filesystem <driver type='virtiofs'/>",
      });
    }
    // once QEMU let go: its chardev, then the daemon (stopped on purpose: no report)
    release.push(async () => {
      await qmp.execute("chardev-remove", { id: virtiofsChardevId(f) }).catch(() => undefined);
      const d = run.virtiofsDaemons.get(alias);
      run.virtiofsDaemons.delete(alias);
      await d?.stop();
    });
  } else if (s.kind === "hostdev") {
    const h = dev as HostdevDef;
    release.push(() => releaseHostdevAfterDetach(drv, obj, h));
    if (h.address?.type === "unassigned") {
      // QEMU never had it: give it back to the host and drop it from the live definition
      for (const r of release) await r();
      const next = structuredClone(obj.def);
      removeByAlias(next, alias);
      obj.def = next;
      await drv.saveStatus(obj);
      drv.events.emit(obj.ref(), { id: DomainEventId.DEVICE_REMOVED, devAlias: alias });
      return;
    }
  }

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let finishing: Promise<void> | undefined;
  const entry: PendingUnplug = {
    alias,
    done,
    finish() {
      finishing ??= (async () => {
        for (const r of release) await r().catch(() => undefined);
        if (obj.run === run && !run.ended) {
          const next = structuredClone(obj.def);
          removeByAlias(next, alias);
          obj.def = next;
          await drv.saveStatus(obj).catch(() => undefined);
          // AppArmor: the detached device's files are no longer the guest's
          await refreshProfile(drv, obj, run, next).catch(() => undefined);
        }
        pending.delete(alias);
        resolveDone();
      })();
      return finishing;
    },
  };
  pending.set(alias, entry);
  try {
    await qmp.execute("device_del", { id: alias });
  } catch (e) {
    pending.delete(alias);
    throw e;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((r) => {
    timer = setTimeout(() => {
      r(true);
    }, hotplugTimeouts.detachMs);
  });
  const gone = await Promise.race([done.then(() => false), timedOut]);
  clearTimeout(timer);
  if (gone) {
    throw new VirtError(
      "HOTPLUG_DETACH_TIMEOUT",
      { alias, name: obj.name, seconds: Math.round(hotplugTimeouts.detachMs / 100) / 10 },
      { alias },
    );
  }
}

function removeByAlias(def: DomainDef, alias: string): void {
  const d = def.devices;
  for (const list of [d.disks, d.interfaces, d.hostdevs, d.filesystems] as { alias?: string }[][]) {
    const i = list.findIndex((x) => x.alias === alias);
    if (i >= 0) list.splice(i, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// update (media change)
// ---------------------------------------------------------------------------------------------

function checkMediaUpdate(old: DiskDef, want: DiskDef): void {
  if (old.device !== "cdrom" && old.device !== "floppy")
    throw new VirtError("HOTPLUG_UPDATE_KIND", { target: old.target.dev, device: old.device });
  if (want.device !== old.device)
    throw new VirtError("HOTPLUG_UPDATE_UNSUPPORTED", { field: "device", target: old.target.dev });
  if (want.target.bus !== undefined && want.target.bus !== old.target.bus)
    throw new VirtError("HOTPLUG_UPDATE_UNSUPPORTED", { field: "target bus", target: old.target.dev });
}

function withMedia(old: DiskDef, want: DiskDef): DiskDef {
  const d: DiskDef = { ...structuredClone(old), type: want.type };
  if (want.source) d.source = structuredClone(want.source);
  else delete d.source;
  if (want.driver?.type !== undefined) d.driver = { ...(d.driver ?? {}), type: want.driver.type };
  return d;
}

export async function updateDevice(
  drv: QemuDriver,
  obj: QemuDomainObj,
  xml: string,
  flags: number,
): Promise<void> {
  checkFlags(flags, F.LIVE | F.CONFIG | F.FORCE, "qemuDomainUpdateDeviceFlags");
  const graphics = readGraphicsSnippet(xml);
  if (graphics) return updateGraphics(drv, obj, graphics, flags);
  const s = readDeviceSnippet(xml);
  if (s.kind === "interface") return updateInterface(drv, obj, s, flags);
  if (s.kind !== "disk") {
    throw new VirtError("HOTPLUG_DEVICE_KIND_UNSUPPORTED", {
      action: "update",
      kind: s.kind,
      where: "",
      allowed: "disk (cdrom and floppy media), interface (link state)",
    });
  }
  const want = snippetDisk(aloneDevice(s));
  await withModifyJob(obj, "virDomainUpdateDeviceFlags", async () => {
    const scope = impact(obj, flags);
    if (scope.live) await checkDiskSource(want);
    let config: DomainDef | undefined;
    if (scope.config) {
      config = structuredClone(obj.persistentDef());
      const old = findDisk(config, want.target.dev);
      if (!old) throw new VirtError("HOTPLUG_CONFIG_TARGET_NOT_FOUND", { target: want.target.dev });
      checkMediaUpdate(old, want);
      config.devices.disks[config.devices.disks.indexOf(old)] = withMedia(old, want);
    }
    if (scope.live) await changeMediaLive(drv, obj, want);
    if (config) await commitConfig(drv, obj, config);
  });
}

async function changeMediaLive(drv: QemuDriver, obj: QemuDomainObj, want: DiskDef): Promise<void> {
  const { run, qmp } = liveRun(obj);
  const old = findDisk(obj.def, want.target.dev);
  if (!old) throw new VirtError("HOTPLUG_DISK_NOT_FOUND", { target: want.target.dev });
  checkMediaUpdate(old, want);
  const alias = old.alias ?? "";
  // a volume as the new medium: the storage driver's path, as at start (the config keeps the volume)
  const media = structuredClone(want);
  await resolveDiskVolume(drv.options.resolveVolume, media);
  await checkDiskSource(media);
  const disk = withMedia(old, media);
  const next = structuredClone(obj.def);
  next.devices.disks[obj.def.devices.disks.indexOf(old)] = disk;
  const b = await buildFor(drv, obj, run, next);
  const oldNodes = await nodesOfDevice(qmp, alias);
  // AppArmor: the new medium is allowed before QEMU opens it (the old one stays open meanwhile)
  await refreshProfile(drv, obj, run, next);
  // QEMU as another user opens the new medium itself: its owner changes first (given back on failure)
  const labelled = new DisposableStore();
  await labelHotplug(drv, obj, labelled, [disk], undefined, undefined).catch(async (e: unknown) => {
    await refreshProfile(drv, obj, run, obj.def).catch(() => undefined);
    throw e;
  });
  let added: string[] = [];
  let removed = false;
  try {
    added = (await addDiskNodes(qmp, b, disk)).added;
    await qmp.execute("blockdev-open-tray", { id: alias, force: true });
    if (oldNodes.length > 0) {
      await qmp.execute("blockdev-remove-medium", { id: alias });
      removed = true;
    }
    if (added.length > 0) await qmp.execute("blockdev-insert-medium", { id: alias, "node-name": added[0]! });
    await qmp.execute("blockdev-close-tray", { id: alias });
  } catch (e) {
    // put the old medium back, drop the new nodes
    if (removed && oldNodes[0] !== undefined)
      await qmp
        .execute("blockdev-insert-medium", { id: alias, "node-name": oldNodes[0] })
        .catch(() => undefined);
    await qmp.execute("blockdev-close-tray", { id: alias }).catch(() => undefined);
    await deleteNodes(qmp, added);
    await refreshProfile(drv, obj, run, obj.def).catch(() => undefined);
    await labelled.dispose().catch(() => undefined);
    throw e;
  }
  labelled.forgetAll();
  await deleteNodes(qmp, oldNodes);
  const oldPath = localDiskPath(old);
  if (oldPath !== undefined && oldPath !== localDiskPath(disk))
    await releaseHotplug(drv, obj, [oldPath], [], alias);
  obj.def = next;
  await drv.saveStatus(obj);
}

/**
 * update-device of a `<graphics>` (virt-manager changes a console password this way): live,
 * libvirt's qemuDomainChangeGraphics (the password, its validity and `connected` change, set
 * over QMP when they differ); in the config the device of that type is replaced.
 */
async function updateGraphics(
  drv: QemuDriver,
  obj: QemuDomainObj,
  want: GraphicsDef,
  flags: number,
): Promise<void> {
  await withModifyJob(obj, "virDomainUpdateDeviceFlags", async () => {
    const scope = impact(obj, flags);
    let config: DomainDef | undefined;
    if (scope.config) {
      config = structuredClone(obj.persistentDef());
      const i = config.devices.graphics.findIndex((g) => g.type === want.type);
      if (i < 0) throw new VirtError("QEMU_GRAPHICS_CONFIG_NOT_FOUND", { type: want.type });
      config.devices.graphics[i] = structuredClone(want);
      // parsed again with the domain's defaults, as a definition with it would be
      config = await drv.parseDomain(formatDomainXML(config, { secure: true }));
    }
    if (scope.live) {
      const { qmp } = liveRun(obj);
      const old = checkGraphicsChange(obj.def, want);
      if (graphicsPasswordChanged(old, want)) {
        const next = withGraphicsPassword(old, want);
        await setGraphicsPassword(qmp, next, drv.options.graphics);
        const live = structuredClone(obj.def);
        live.devices.graphics[obj.def.devices.graphics.indexOf(old)] = next;
        obj.def = live;
        await drv.saveStatus(obj);
      }
    }
    if (config) await commitConfig(drv, obj, config);
  });
}

/** The flag-less APIs (virDomainAttachDevice, virDomainDetachDevice) act on the running guest. */
export const LEGACY_FLAGS = F.LIVE;

/** The one interface of `def` the snippet names (by MAC, as libvirt's virDomainNetFindIdx). */
function findInterface(def: DomainDef, want: InterfaceDef): InterfaceDef {
  const m = matchInterfaces(def, want);
  const mac = want.mac?.address ?? "(none)";
  if (m.length === 0) throw new VirtError("HOTPLUG_NET_NOT_FOUND", { mac });
  if (m.length > 1) throw new VirtError("HOTPLUG_NET_AMBIGUOUS", { mac });
  return m[0]!;
}

/** update-device of an interface: its link state (QMP `set_link` on a running guest). */
async function updateInterface(
  drv: QemuDriver,
  obj: QemuDomainObj,
  s: DeviceSnippet,
  flags: number,
): Promise<void> {
  const want = aloneDevice(s).devices.interfaces[0]!;
  const withLink = (n: InterfaceDef): InterfaceDef => {
    const next = structuredClone(n);
    if (want.link) next.link = { ...want.link };
    else delete next.link;
    return next;
  };
  await withModifyJob(obj, "virDomainUpdateDeviceFlags", async () => {
    const scope = impact(obj, flags);
    let config: DomainDef | undefined;
    if (scope.config) {
      config = structuredClone(obj.persistentDef());
      const old = findInterface(config, want);
      config.devices.interfaces[config.devices.interfaces.indexOf(old)] = withLink(old);
    }
    if (scope.live) {
      const { qmp } = liveRun(obj);
      const old = findInterface(obj.def, want);
      await qmp.execute("set_link", { name: old.alias ?? "", up: want.link?.state !== "down" });
      const next = structuredClone(obj.def);
      next.devices.interfaces[obj.def.devices.interfaces.indexOf(old)] = withLink(old);
      obj.def = next;
      await drv.saveStatus(obj);
    }
    if (config) await commitConfig(drv, obj, config);
  });
}

/**
 * QEMU running as another user (system instance): a hotplugged disk's file is handed to that
 * user and a hotplugged NIC's tap made for it (as at start, `dac.ts`), recorded in the run's
 * ownership record; `undo` gives them back if the attach fails.
 */
async function labelHotplug(
  drv: QemuDriver,
  obj: QemuDomainObj,
  undo: DisposableStore,
  disks: readonly DiskDef[],
  plugs: PlugPlan | undefined,
  nic: unknown,
): Promise<void> {
  if (drv.options.runAs === undefined) return;
  const id = resolveRunAs(drv.options.runAs);
  const targets = drv.options.dynamicOwnership
    ? disks.flatMap((d) => {
        const p = localDiskPath(d);
        return p === undefined ? [] : [{ path: p }];
      })
    : [];
  const taps = (plugs?.plugs ?? [])
    .filter((p) => p.managed)
    .map((p) => ({ name: p.tap, multiQueue: ((nic as InterfaceDef).driver?.queues ?? 0) > 1 }));
  if (taps[0] !== undefined)
    await checkTunAccess(id, { alias: (nic as InterfaceDef).alias ?? "", name: obj.name });
  if (targets.length === 0 && taps.length === 0) return;
  const inUse = dacFilesOf(obj.def).map((f) => f.path);
  undo.addFn(async () => {
    const problems = await dacRelease(
      drv.paths.stateDir,
      obj.name,
      targets.map((t) => t.path),
      taps.map((t) => t.name),
      inUse,
    );
    for (const p of problems) drv.warn(p);
  });
  await dacLabel(drv.paths.stateDir, obj.name, id, targets, [], [], taps);
}

/** A device unplugged (or a medium replaced): its files' owners back, its taps deleted. */
async function releaseHotplug(
  drv: QemuDriver,
  obj: QemuDomainObj,
  paths: readonly string[],
  taps: readonly string[],
  alias: string,
): Promise<void> {
  if (drv.options.runAs === undefined) return;
  // files the domain's other devices still name keep the user as owner
  const others = structuredClone(obj.def);
  removeByAlias(others, alias);
  const stillUsed = dacFilesOf(others).map((f) => f.path);
  for (const p of await dacRelease(drv.paths.stateDir, obj.name, paths, taps, stillUsed)) drv.warn(p);
}
