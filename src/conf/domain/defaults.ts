/**
 * Post-parse defaults, in libvirt 11.3's order (virDomainDefPostParse with the QEMU driver's
 * callbacks): basic (emulator), controller indexes, QEMU domain defaults (machine, default
 * devices, default CPU, audio, CPU checks), per-device defaults, common defaults (memory, boot,
 * implicit devices), then address assignment.
 */
import { randomBytes } from "node:crypto";
import type {
  AudioDef,
  ControllerDef,
  AudioSdlDriver,
  AudioType,
  DomainDef,
  DomainFacts,
  HostAudioFacts,
  InputDef,
} from "./types.ts";
import { isI440fx, isQ35, isX86 } from "./machine.ts";
import { findController, isUsb2Companion, maybeAddController } from "./controllers.ts";
import { insertController } from "./parse-devices.ts";
import { deviceDefaults, chrDefaults, controllerDefaults } from "./defaults-devices.ts";
import { commonDefaults } from "./defaults-common.ts";
import { seclabelHostModel } from "./parse-general.ts";
import { assignAddresses } from "./address.ts";
import { unsupported } from "./reader.ts";
import { VirtError } from "../../util/errors/index.ts";
import { formatBitmap, parseBitmap } from "./bitmap.ts";

export interface DefaultsContext {
  facts: DomainFacts;
  /** libvirt's VIR_DOMAIN_DEF_PARSE_ABI_UPDATE (define/create of a new domain). */
  abiUpdate: boolean;
}

function defaultEmulator(def: DomainDef, facts: DomainFacts): string {
  const arch = def.os.arch ?? "x86_64";
  const fromFacts = facts.defaultEmulator?.(arch, def.type);
  if (fromFacts) return fromFacts;
  return `/usr/bin/qemu-system-${isX86(arch) ? "x86_64" : arch}`;
}

/** A version 4 UUID from the facts' random source (libvirt's virUUIDGenerate). */
function generateUuid(facts: DomainFacts): string {
  const b = Uint8Array.from(facts.randomBytes?.(16) ?? randomBytes(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Buffer.from(b).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function basicDefaults(def: DomainDef, ctx: DefaultsContext): void {
  def.uuid ||= generateUuid(ctx.facts);
  // an empty <genid/> asks for a generated one
  if (def.genid === "") def.genid = generateUuid(ctx.facts);
  def.os.arch ??= "x86_64";
  def.devices.emulator ??= defaultEmulator(def, ctx.facts);
}

function machineDefaults(def: DomainDef, facts: DomainFacts): void {
  const arch = def.os.arch ?? "x86_64";
  if (!def.os.machine) {
    def.os.machine = facts.defaultMachine?.(arch, def.type) ?? (isX86(arch) ? "pc" : undefined);
    if (!def.os.machine) {
      const emulator = def.devices.emulator ?? arch;
      // The binary's capabilities have no machine for this arch (with TCG), or for this type.
      if (facts.defaultMachine && facts.defaultMachine(arch, "qemu") === undefined)
        throw new VirtError("DOMAIN_EMULATOR_ARCH_UNSUPPORTED", { emulator, arch });
      if (facts.defaultMachine)
        throw new VirtError("DOMAIN_EMULATOR_VIRT_TYPE_UNSUPPORTED", { emulator, type: def.type });
      throw unsupported(undefined, `could not get preferred machine for ${emulator} type=${def.type}`);
    }
  }
  // A virt type the QEMU driver knows but this binary lacks (kvm and others are the driver's).
  if (def.type === "hvf" && facts.supportsVirtType?.(def.type) === false) {
    throw new VirtError("DOMAIN_EMULATOR_VIRT_TYPE_UNSUPPORTED", {
      emulator: def.devices.emulator ?? arch,
      type: def.type,
    });
  }
  const canon = facts.canonicalMachine?.(arch, def.type, def.os.machine);
  if (canon) def.os.machine = canon;
}

function maybeAddInput(def: DomainDef, type: InputDef["type"], bus: InputDef["bus"]): void {
  if (def.devices.inputs.some((i) => i.type === type && i.bus === bus)) return;
  def.devices.inputs.push({ type, bus });
}

/** QEMU's audiodev driver names (`QEMU_AUDIO_DRV`) → `<audio type=>`. */
const QEMU_AUDIO_DRIVERS: Readonly<Record<string, AudioType>> = {
  none: "none",
  alsa: "alsa",
  coreaudio: "coreaudio",
  jack: "jack",
  oss: "oss",
  pa: "pulseaudio",
  sdl: "sdl",
  spice: "spice",
  wav: "file",
  dbus: "dbus",
  pipewire: "pipewire",
};
const SDL_DRIVERS: readonly AudioSdlDriver[] = ["esd", "alsa", "arts", "pulseaudio"];

/**
 * qemuDomainDefAddDefaultAudioBackend: a definition without `<audio>` gets one when it has no
 * graphics or VNC, SDL or SPICE graphics. SPICE carries the sound itself; without graphics and
 * with VNC, `none` unless qemu.conf lets the guest use the host's audio; SDL always does. Host
 * audio follows the daemon's `QEMU_AUDIO_DRV`; when that is unset no `<audio>` is added, so
 * QEMU picks its own default.
 */
function defaultAudio(def: DomainDef, host: HostAudioFacts | undefined): void {
  if (def.devices.audios.length > 0) return;
  let add = false;
  let passthrough = false;
  let type: AudioType = "none";
  if (def.devices.graphics.length === 0) {
    add = true;
    passthrough = host?.nogfxAllowHostAudio === true;
  }
  for (const g of def.devices.graphics) {
    if (g.type === "vnc") {
      add = true;
      passthrough = host?.vncAllowHostAudio === true;
    } else if (g.type === "sdl") {
      add = true;
      passthrough = true;
    } else if (g.type === "spice") {
      add = true;
      type = "spice";
      passthrough = false;
    }
  }
  if (!add) return;
  const audio: AudioDef = { id: 1, type };
  if (passthrough) {
    const drv = host?.env?.QEMU_AUDIO_DRV;
    if (drv === undefined) return;
    const t = QEMU_AUDIO_DRIVERS[drv];
    if (t === undefined) throw new VirtError("QEMU_AUDIO_ENV", { variable: "QEMU_AUDIO_DRV", value: drv });
    audio.type = t;
    const sdl = host?.env?.SDL_AUDIODRIVER;
    if (t === "sdl" && sdl !== undefined) {
      if (!(SDL_DRIVERS as readonly string[]).includes(sdl))
        throw new VirtError("QEMU_AUDIO_ENV", { variable: "SDL_AUDIODRIVER", value: sdl });
      audio.driver = sdl as AudioSdlDriver;
    }
    const pa = host?.env?.QEMU_PA_SERVER;
    if (t === "pulseaudio" && pa !== undefined) audio.serverName = pa;
  }
  def.devices.audios.push(audio);
}

/** qemuDomainDefAddDefaultDevices for x86 (pc and q35). */
function defaultDevices(def: DomainDef, facts: DomainFacts): void {
  const arch = def.os.arch;
  // isapc has the i8042 too (qemuDomainDefAddImplicitInputDevice), but no USB or PCI defaults
  const ps2 = isX86(arch) && def.os.machine !== "microvm" && def.features?.ps2 !== false;
  if (ps2 && def.os.machine === "isapc") {
    maybeAddInput(def, "mouse", "ps2");
    maybeAddInput(def, "keyboard", "ps2");
  }
  if (!isX86(arch) || def.os.machine === "isapc" || def.os.machine === "microvm") {
    defaultAudio(def, facts.hostAudio);
    return;
  }
  if (ps2) {
    maybeAddInput(def, "mouse", "ps2");
    maybeAddInput(def, "keyboard", "ps2");
  }
  const q35 = isQ35(def);
  if (!findController(def, "usb", 0)) {
    const has = (device: string): boolean => facts.hasDevice?.(device) !== false;
    // The implicit controller: on q35 the first of USB3, NEC USB3, USB2 that QEMU has, or none
    // at all; elsewhere PIIX3's UHCI, without a model when QEMU lacks it (starting fails).
    const model = q35
      ? [
          ["qemu-xhci", "qemu-xhci"],
          ["nec-xhci", "nec-usb-xhci"],
          ["ich9-ehci1", "ich9-usb-ehci1"],
        ].find(([, device]) => has(device!))?.[0]
      : has("piix3-usb-uhci")
        ? "piix3-uhci"
        : undefined;
    if (model !== undefined || !q35) maybeAddController(def, "usb", 0, model);
  }
  if (q35) maybeAddController(def, "sata", 0);
  const root = findController(def, "pci", 0);
  const rootModel = q35 ? "pcie-root" : isI440fx(def) ? "pci-root" : undefined;
  if (rootModel) {
    if (root && root.model !== rootModel) {
      throw new VirtError(
        "DOMAIN_PCI_ROOT_MODEL",
        { expected: rootModel, found: root.model ?? "default" },
        { xpath: "/domain/devices/controller[@type='pci']" },
      );
    }
    if (!root) maybeAddController(def, "pci", 0, rootModel);
  }
  def.devices.memballoon ??= { model: "virtio" };
  if (q35 && !def.devices.watchdogs.some((w) => w.model === "itco")) {
    def.devices.watchdogs.push({ model: "itco", action: def.devices.watchdogs[0]?.action ?? "reset" });
  }
  defaultAudio(def, facts.hostAudio);
}

/** vCPUs a q35 guest reaches without the IOMMU's extended interrupt mode (8-bit APIC IDs). */
const MAX_VCPUS_WITHOUT_EIM = 255;

/**
 * A new q35 guest with more vCPUs than 8-bit APIC IDs address gets what x2APIC needs: an Intel
 * IOMMU (added when there is none) with interrupt remapping and EIM, and the split irqchip
 * (`<ioapic driver='qemu'/>`) that remapping requires. Settings the XML gives are kept.
 */
function eimForManyVcpus(def: DomainDef): void {
  if (!isX86(def.os.arch) || !isQ35(def) || def.vcpu.count <= MAX_VCPUS_WITHOUT_EIM) return;
  const iommu = (def.devices.iommu ??= { model: "intel" });
  if (iommu.model !== "intel") return;
  const driver = (iommu.driver ??= {});
  if (!("intremap" in driver)) driver.intremap = "on";
  if (!("eim" in driver)) driver.eim = "on";
  const features = (def.features ??= {});
  features.ioapic ??= { driver: "qemu" };
}

/** qemuDomainDefSetDefaultCPU. */
function defaultCpu(def: DomainDef, facts: DomainFacts): void {
  if (def.cpu && (def.cpu.mode !== "custom" || def.cpu.model?.name)) return;
  const arch = def.os.arch ?? "x86_64";
  if (!isX86(arch) && def.type !== "qemu") return;
  const fromFacts = facts.defaultCpuModel?.(arch, def.type, def.os.machine ?? "");
  const model = fromFacts === undefined ? (isX86(arch) ? "qemu64" : null) : fromFacts;
  if (model === null) return;
  def.cpu ??= { mode: "custom", features: [] };
  if (model === "host") {
    def.cpu.mode = "host-passthrough";
    return;
  }
  def.cpu.check = "none";
  def.cpu.mode = "custom";
  def.cpu.match = "exact";
  def.cpu.model = { ...def.cpu.model, name: model, fallback: "forbid" };
}

/** qemuDomainDefCPUPostParse (migratable default, check default). */
/**
 * vCPUs no NUMA cell claims go to the first cell (qemuDomainDefNumaCPUsRectify): QEMU would
 * otherwise place them itself.
 */
function numaCpusRectify(def: DomainDef): void {
  const cells = def.cpu?.numa?.cells;
  if (!cells || cells.length === 0) return;
  const max = def.vcpu.count;
  const claimed = cells.reduce((n, c) => n + (c.cpus ? (parseBitmap(c.cpus) ?? []).length : 0), 0);
  if (claimed >= max) return;
  const others = new Set(cells.slice(1).flatMap((c) => (c.cpus ? (parseBitmap(c.cpus) ?? []) : [])));
  const first = Array.from({ length: max }, (_, i) => i).filter((i) => !others.has(i));
  cells[0]!.cpus = formatBitmap(first);
}

function cpuPostParse(def: DomainDef): void {
  const cpu = def.cpu;
  if (!cpu) return;
  if (cpu.mode === "host-passthrough" && cpu.migratable === undefined && def.id === undefined)
    cpu.migratable = true;
  if (cpu.mode === "custom" && !cpu.model?.name) return;
  if (cpu.check !== undefined) return;
  if (cpu.mode === "host-passthrough" || cpu.mode === "maximum") cpu.check = "none";
  else if (cpu.mode === "host-model") cpu.check = "partial";
  else cpu.check = def.type === "qemu" ? "none" : "partial";
}

/**
 * Lowest unused index for controllers written without one (virDomainAssignControllerIndexes),
 * except a USB2 controller (ICH9 EHCI1 or a UHCI companion) right after another USB2 one: it
 * joins that one's group (same index) unless the group already has its model. So virt-install's
 * `ich9-ehci1` + `ich9-uhci1..3` without indexes become one controller set at index 0.
 */
function assignControllerIndexes(def: DomainDef): void {
  const list = def.devices.controllers;
  const unindexed = list.some((c) => c.index === -1);
  list.forEach((c, i) => {
    if (c.index !== -1) return;
    const prev = i > 0 ? list[i - 1] : undefined;
    if (
      prev !== undefined &&
      prev.index !== -1 &&
      isUsb2Companion(c) &&
      isUsb2Companion(prev) &&
      !list.some((x) => x !== c && isUsb2Companion(x) && x.index === prev.index && x.model === c.model)
    ) {
      c.index = prev.index;
      return;
    }
    let idx = 0;
    while (list.some((x) => x !== c && x.type === c.type && x.index === idx)) idx++;
    c.index = idx;
  });
  if (!unindexed) return;
  // Now indexed, each takes its place among its type (a USB2 master ahead of its companions).
  const sorted: ControllerDef[] = [];
  for (const c of list) insertController(sorted, c);
  list.splice(0, list.length, ...sorted);
}

export function applyDefaults(def: DomainDef, ctx: DefaultsContext): void {
  basicDefaults(def, ctx);
  seclabelHostModel(def, ctx.facts);
  assignControllerIndexes(def);
  machineDefaults(def, ctx.facts);
  // libvirt selects firmware right after the machine's defaults (qemuDomainDefBootPostParse)
  ctx.facts.fillFirmware?.(def, ctx.abiUpdate);
  defaultDevices(def, ctx.facts);
  if (ctx.abiUpdate) eimForManyVcpus(def);
  defaultCpu(def, ctx.facts);
  cpuPostParse(def);
  numaCpusRectify(def);
  chrDefaults(def);
  deviceDefaults(def, ctx.facts);
  commonDefaults(def, ctx);
  for (const c of def.devices.controllers) {
    if (c.type === "scsi" && c.model === undefined) controllerDefaults(def, c);
  }
  expanderBusMachine(def);
  assignAddresses(def, ctx);
}

/**
 * Expander buses exist on one machine type each (qemuValidateDomainDeviceDefControllerPCI);
 * checked before addresses are given, which would otherwise fail to place them.
 */
function expanderBusMachine(def: DomainDef): void {
  if (!isX86(def.os.arch)) return;
  for (const c of def.devices.controllers) {
    if (c.type !== "pci") continue;
    const bad =
      (c.model === "pcie-expander-bus" && !isQ35(def)) || (c.model === "pci-expander-bus" && !isI440fx(def));
    if (bad) throw new VirtError("DOMAIN_EXPANDER_BUS_MACHINE", { model: c.model ?? "" });
  }
}
