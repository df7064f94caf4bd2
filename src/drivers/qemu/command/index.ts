/**
 * The QEMU command line: a pure function from a domain definition, QEMU's capabilities and a
 * context (what the driver prepared on the host) to the environment and argv of QEMU, following
 * libvirt 11.3's choices (option order, JSON key order, node names, aliases).
 */
import { buildPstore } from "./pstore.ts";
import { buildThrottleGroups } from "./throttle.ts";
import { buildSysinfo } from "./sysinfo.ts";
import { assignAliases } from "../../../conf/domain/index.ts";
import { iothreadIds } from "../../../conf/domain/iothreads.ts";
import type { DeviceCommon, DomainDef } from "../../../conf/domain/types.ts";
import { Build, requireFlag } from "./build.ts";
import { buildChannels, buildConsoles, buildMonitor, buildParallels, buildSerials } from "./chardev.ts";
import { buildControllers, buildControllersOfType, buildGlobalControllers } from "./controllers.ts";
import { buildCpu, buildSmp } from "./cpu.ts";
import {
  buildAudios,
  buildHubs,
  buildInputs,
  buildIommu,
  buildLaunchSecurity,
  buildMemballoon,
  buildPanics,
  buildRedirdevs,
  buildSmartcards,
  buildRngs,
  buildSounds,
  buildTpms,
  buildVmcoreinfo,
  buildVsock,
  buildWatchdogs,
} from "./devices.ts";
import { assignDiskNodes, buildDisks, buildManagedPrHelper } from "./disk.ts";
import { Props } from "./escape.ts";
import { buildPflash, preparePflash } from "./firmware.ts";
import { buildFilesystems } from "./fs.ts";
import { buildGraphics, buildVideos } from "./graphics.ts";
import { buildHostdevs } from "./hostdev.ts";
import {
  buildAccel,
  buildBoot,
  buildClock,
  buildLoader,
  buildMachine,
  buildName,
  buildPM,
} from "./machine.ts";
import {
  assignMemorySlots,
  buildMemory,
  checkAlignedMemorySizes,
  buildMemoryDevices,
  buildNuma,
} from "./memory.ts";
import { actualType, buildInterfaces } from "./net.ts";
import type { CommandContext, QemuCommand } from "./types.ts";
import { assignUsbAddresses } from "./usb.ts";
import { buildCryptos, buildShmems } from "./shmem.ts";

export type * from "./types.ts";
export { formatArgsFile, compareArgs, parseArgsFile, shellQuote } from "./argsfile.ts";
export type { ArgsComparison } from "./argsfile.ts";

/** libvirt's start-time boot order: `<os><boot dev>` mapped onto the first device of each kind. */
function effectiveBootIndices(b: Build): Map<DeviceCommon, number> {
  const def = b.def;
  const map = new Map<DeviceCommon, number>();
  const d = def.devices;
  const all: DeviceCommon[] = [...d.disks, ...d.interfaces, ...d.hostdevs, ...d.redirdevs, ...d.filesystems];
  const perDevice = all.some((x) => x.boot !== undefined);
  if (perDevice) {
    for (const x of all) if (x.boot) map.set(x, x.boot.order);
    return map;
  }
  const order = def.os.boot.length > 0 ? def.os.boot : ["hd" as const];
  let cd = 0;
  let fd = 0;
  let hd = 0;
  let net = 0;
  order.forEach((dev, i) => {
    if (dev === "cdrom") cd = i + 1;
    else if (dev === "fd") fd = i + 1;
    else if (dev === "hd") hd = i + 1;
    else net = i + 1;
  });
  for (const disk of d.disks) {
    if (disk.device === "cdrom") {
      if (cd) map.set(disk, cd);
      cd = 0;
    } else if (disk.device === "floppy") {
      if (fd) map.set(disk, fd);
      fd = 0;
    } else {
      if (hd) map.set(disk, hd);
      hd = 0;
    }
  }
  const first = d.interfaces[0];
  if (first && net > 0) map.set(first, net);
  return map;
}

function buildEnv(b: Build): void {
  const env = b.env;
  for (const [k, v] of b.ctx.baseEnv) env.push([k, v]);
  const set = (k: string, v: string) => {
    const i = env.findIndex(([x]) => x === k);
    if (i >= 0) env[i] = [k, v];
    else env.push([k, v]);
  };
  const dir = b.ctx.paths.domainDir;
  if (b.ctx.privileged) {
    set("HOME", dir);
    set("XDG_DATA_HOME", `${dir}/.local/share`);
    set("XDG_CACHE_HOME", `${dir}/.cache`);
    set("XDG_CONFIG_HOME", `${dir}/.config`);
  } else {
    set("XDG_CACHE_HOME", `${dir}/.cache`);
  }
}

/**
 * `-compat` for `<qemu:deprecation behavior=>`: hide deprecated output (`omit`), and also refuse
 * (`reject`) or abort on (`crash`) deprecated input.
 */
function buildCompat(b: Build): void {
  const behavior = b.def.qemu?.deprecation;
  if (behavior === undefined || behavior === "none" || !b.has("compat-deprecated")) return;
  const p = new Props().set("deprecated-output", "hide");
  if (behavior !== "omit") p.set("deprecated-input", behavior);
  b.addJson("-compat", p);
}

/** `-object iothread` per iothread id (pool sizes, polling), then QEMU's main loop's pool. */
function buildIothreads(b: Build): void {
  for (const t of iothreadIds(b.def)) {
    const p = new Props().set("qom-type", "iothread").set("id", `iothread${t.id}`);
    p.opt("thread-pool-min", t.threadPoolMin).opt("thread-pool-max", t.threadPoolMax);
    p.opt("poll-max-ns", t.pollMax).opt("poll-grow", t.pollGrow).opt("poll-shrink", t.pollShrink);
    b.addJson("-object", p);
  }
  const d = b.def.defaultIothread;
  if (d && (d.threadPoolMin !== undefined || d.threadPoolMax !== undefined)) {
    const p = new Props().set("qom-type", "main-loop").set("id", "main-loop");
    b.addJson("-object", p.opt("thread-pool-min", d.threadPoolMin).opt("thread-pool-max", d.threadPoolMax));
  }
}

/** Builds QEMU's environment and argv. Throws catalogued VirtErrors for what cannot be expressed. */
export function buildQemuCommand(input: DomainDef, ctx: CommandContext): QemuCommand {
  const def = structuredClone(input);
  const b = new Build(def, ctx);
  // libvirt numbers DIMM slots before it names devices: a DIMM's alias is its slot
  assignMemorySlots(b);
  checkAlignedMemorySizes(b);
  assignAliases(def);
  assignUsbAddresses(def);
  buildEnv(b);
  const boot = effectiveBootIndices(b);
  const bootOf = (x: DeviceCommon) => boot.get(x);
  const nodes = assignDiskNodes(b);
  preparePflash(b);
  // resolve networks early so lookup failures surface before anything else
  for (const n of def.devices.interfaces) actualType(b, n);

  buildName(b);
  buildCompat(b);
  b.add("-S");
  b.addJson(
    "-object",
    new Props()
      .set("qom-type", "secret")
      .set("id", "masterKey0")
      .set("format", "raw")
      .set("file", ctx.paths.masterKeyFile),
  );
  buildManagedPrHelper(b);
  buildPflash(b);
  buildMachine(b);
  buildAccel(b);
  buildCpu(b);
  buildLoader(b);
  buildMemory(b);
  buildSmp(b);
  buildIothreads(b);
  buildNuma(b);
  buildThrottleGroups(b);
  b.add("-uuid", def.uuid);
  buildSysinfo(b);
  if (def.genid !== undefined) {
    requireFlag(b, "vmgenid", "<genid>");
    b.addJson("-device", new Props().set("driver", "vmgenid").set("guid", def.genid).set("id", "vmgenid0"));
  }
  if (def.devices.graphics.length === 0) b.add("-display", "none");
  b.add("-no-user-config", "-nodefaults");
  buildMonitor(b);
  buildClock(b);
  buildPM(b);
  buildBoot(b);
  buildIommu(b);
  buildGlobalControllers(b);
  buildControllers(b);
  buildMemoryDevices(b);
  buildHubs(b);
  buildControllersOfType(b, "ccid");
  buildDisks(b, nodes, bootOf);
  buildFilesystems(b);
  buildInterfaces(b, bootOf);
  buildSmartcards(b);
  buildSerials(b);
  buildParallels(b);
  buildChannels(b);
  buildConsoles(b);
  buildTpms(b);
  buildInputs(b);
  buildAudios(b);
  buildGraphics(b);
  buildVideos(b);
  buildSounds(b);
  buildWatchdogs(b);
  buildRedirdevs(b);
  buildHostdevs(b, bootOf);
  if (ctx.incoming !== undefined) b.add("-incoming", ctx.incoming);
  buildMemballoon(b);
  buildRngs(b);
  buildVmcoreinfo(b);
  buildLaunchSecurity(b);
  if (def.qemu) {
    b.add(...def.qemu.args);
    for (const e of def.qemu.env) b.env.push([e.name, e.value ?? ""]);
  }
  if (b.has("seccomp-sandbox")) {
    if (ctx.seccompSandbox === false) b.add("-sandbox", "off");
    else b.add("-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
  }
  buildPanics(b);
  buildShmems(b);
  buildVsock(b);
  buildCryptos(b);
  buildPstore(b);
  const at = def.features?.asyncTeardown;
  if (at !== undefined && b.has("run-with.async-teardown"))
    b.add("-run-with", `async-teardown=${at ? "on" : "off"}`);
  if (ctx.logTimestamp !== false) b.add("-msg", "timestamp=on");
  return { env: b.env, emulator: b.emulator, args: b.args };
}
