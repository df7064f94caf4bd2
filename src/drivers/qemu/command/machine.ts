/**
 * `-name`, `-machine` (with its properties), `-accel`, firmware, `-rtc` and timers, power
 * management, `-boot` and direct kernel boot.
 */
import { VirtError } from "../../../util/errors/index.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { escapeComma } from "./escape.ts";
import { machineMemoryParams, numaCells } from "./memory.ts";
import { machinePcspk } from "./devices.ts";

export function buildName(b: Build): void {
  let s = `guest=${escapeComma(b.def.name)}`;
  if (b.ctx.setProcessName === true) s += `,process=qemu:${b.def.name}`;
  s += ",debug-threads=on";
  b.add("-name", s);
}

/** Whether `query-machines` reported ACPI support for this machine (QEMU ≥ 8.0 does). */
function machineAcpi(b: Build): boolean | undefined {
  return b.machine?.acpi;
}

export function buildMachine(b: Build): void {
  const def = b.def;
  const f = def.features ?? {};
  let s = `${b.machineName},usb=off`;
  if (f.vmport !== undefined) s += `,vmport=${f.vmport ? "on" : "off"}`;
  if (f.smm !== undefined) s += `,smm=${f.smm.state ? "on" : "off"}`;
  if (f.ioapic?.driver === "qemu") s += ",kernel_irqchip=split";
  else if (f.ioapic?.driver === "kvm") s += ",kernel_irqchip=on";
  if (def.devices.iommu?.model === "smmuv3") s += ",iommu=smmuv3";
  if (f.ps2 !== undefined) {
    if (!b.has("machine-i8042-opt"))
      throw new VirtError("QEMU_PS2_STATE_UNSUPPORTED", {}, { xpath: "/domain/features/ps2" });
    s += `,i8042=${f.ps2 ? "on" : "off"}`;
  }
  const dump = def.memoryDumpCore ?? b.ctx.dumpGuestCore ?? false;
  s += `,dump-guest-core=${dump ? "on" : "off"}`;
  if (def.memoryBacking?.nosharepages === true) s += ",mem-merge=off";
  s += machineMemoryParams(b);
  if (numaCells(b).length === 0 && b.machine?.defaultRAMid !== undefined)
    s += `,memory-backend=${b.machine.defaultRAMid}`;
  if (def.launchSecurity) {
    if (def.launchSecurity.type === "sev" || def.launchSecurity.type === "sev-snp") {
      s += b.has("confidential-guest-support")
        ? ",confidential-guest-support=lsec0"
        : ",memory-encryption=lsec0";
    } else {
      s += ",confidential-guest-support=lsec0";
    }
  }
  const pflash = b.pflash;
  if (pflash.code !== undefined) s += `,pflash0=${pflash.code}`;
  if (pflash.vars !== undefined) s += `,pflash1=${pflash.vars}`;
  if (def.os.bios?.useserial === true) s += ",graphics=off";
  for (const t of def.clock.timers) {
    if (t.name === "hpet" && b.has("machine-hpet") && t.present !== undefined)
      s += `,hpet=${t.present ? "on" : "off"}`;
  }
  s += machinePcspk(b);
  if (machineAcpi(b) === true) s += `,acpi=${f.acpi === true ? "on" : "off"}`;
  b.add("-machine", s);
}

export function buildAccel(b: Build): void {
  let s: string;
  if (b.accel === "kvm") {
    s = "kvm";
    const ring = b.def.features?.kvm?.features.find((k) => k.name === "dirty-ring");
    if (ring?.state === true && ring.attrs?.size !== undefined) s += `,dirty-ring-size=${ring.attrs.size}`;
  } else if (b.accel === "hvf") {
    s = "hvf";
  } else {
    s = "tcg";
    const tb = b.def.features?.tcg?.tbCache;
    if (tb !== undefined && tb > 0) s += `,tb-size=${Math.floor(tb / 1024)}`;
  }
  b.add("-accel", s);
  const tseg = b.def.features?.smm?.tseg;
  if (tseg !== undefined) b.add("-global", `mch.extended-tseg-mbytes=${Math.floor(tseg / 1024)}`);
}

/** `-bios` for ROM loaders, secure pflash. */
export function buildLoader(b: Build): void {
  const l = b.def.os.loader;
  if (!l) return;
  if (l.type === "rom" && l.path !== undefined) b.add("-bios", l.path);
  else if (l.type === "pflash" && l.secure === true)
    b.add("-global", "driver=cfi.pflash01,property=secure,value=on");
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export function buildClock(b: Build): void {
  const c = b.def.clock;
  let s: string;
  switch (c.offset) {
    case "utc":
      s = "base=utc";
      break;
    case "localtime":
    case "timezone":
      s = "base=localtime";
      break;
    case "variable": {
      let adj = typeof c.adjustment === "number" ? c.adjustment : 0;
      // libvirt turns a local-time basis into an offset from UTC at start
      if (c.basis === "localtime") {
        const local = b.ctx.localOffsetFromUtc;
        if (local === undefined) {
          fail("QEMU_CMD_UNSUPPORTED", {
            element: "clock basis='localtime'",
            reason: "the host's offset from UTC is not known to the builder",
          });
        }
        adj += local;
      }
      s = `base=${isoTime((b.ctx.now ?? Date.now()) + adj * 1000)}`;
      break;
    }
    case "absolute":
      s = `base=${isoTime((c.start ?? 0) * 1000)}`;
      break;
  }
  const rtc = c.timers.find((t) => t.name === "rtc");
  if (rtc) {
    switch (rtc.track) {
      case "boot":
        fail("QEMU_CMD_UNSUPPORTED", { element: "rtc timer track='boot'", reason: "QEMU has no such clock" });
        break;
      case "guest":
        s += ",clock=vm";
        break;
      case "wall":
        s += ",clock=host";
        break;
      case "realtime":
        s += ",clock=rt";
        break;
      default:
        break;
    }
    if (rtc.tickpolicy === "catchup") s += ",driftfix=slew";
    else if (rtc.tickpolicy === "merge" || rtc.tickpolicy === "discard") {
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `rtc timer tickpolicy='${rtc.tickpolicy}'`,
        reason: "QEMU does not support it",
      });
    }
  }
  b.add("-rtc", s);
  if (c.offset === "timezone" && c.timezone !== undefined) b.env.push(["TZ", c.timezone]);
  for (const t of c.timers) {
    if (t.name === "platform")
      fail("QEMU_CMD_UNSUPPORTED", { element: "platform timer", reason: "QEMU does not support it" });
    if (t.name === "pit") {
      const tp = t.tickpolicy;
      if ((tp === undefined || tp === "delay") && b.has("kvm-pit-lost-tick-policy"))
        b.add("-global", "kvm-pit.lost_tick_policy=delay");
      else if (tp === "discard" && b.has("kvm-pit-lost-tick-policy"))
        b.add("-global", "kvm-pit.lost_tick_policy=discard");
      else if (tp === "merge")
        fail("QEMU_CMD_UNSUPPORTED", {
          element: "pit timer tickpolicy='merge'",
          reason: "QEMU does not support it",
        });
    }
    if (t.name === "hpet" && t.present === false && !b.has("machine-hpet") && b.isX86) b.add("-no-hpet");
  }
}

export function buildPM(b: Build): void {
  if (b.has("set-action")) b.add("-no-shutdown");
  else if (b.def.onReboot === "destroy") b.add("-no-reboot");
  else b.add("-no-shutdown");
  if (machineAcpi(b) === undefined && (b.isX86 || b.arch === "aarch64") && b.def.features?.acpi !== true)
    b.add("-no-acpi");
  const pm = b.def.pm;
  if (pm && (pm.suspendToMem !== undefined || pm.suspendToDisk !== undefined)) {
    const obj = b.isQ35 ? "ICH9-LPC" : "PIIX4_PM";
    if (pm.suspendToMem !== undefined) b.add("-global", `${obj}.disable_s3=${pm.suspendToMem ? 0 : 1}`);
    if (pm.suspendToDisk !== undefined) b.add("-global", `${obj}.disable_s4=${pm.suspendToDisk ? 0 : 1}`);
  }
}

export function buildBoot(b: Build): void {
  const os = b.def.os;
  let s = "";
  if (os.bootmenu) s += `menu=${os.bootmenu.enable ? "on" : "off"},`;
  if (os.bios?.rebootTimeout !== undefined) s += `reboot-timeout=${os.bios.rebootTimeout},`;
  if (os.bootmenu?.timeout !== undefined) s += `splash-time=${os.bootmenu.timeout},`;
  s += "strict=on";
  b.add("-boot", s);
  if (os.kernel !== undefined) b.add("-kernel", os.kernel);
  if (os.initrd !== undefined) b.add("-initrd", os.initrd);
  if (os.cmdline !== undefined) b.add("-append", os.cmdline);
  if (os.shim !== undefined) {
    requireFlag(b, "shim", "<os><shim>");
    b.add("-shim", os.shim);
  }
  if (os.dtb !== undefined) b.add("-dtb", os.dtb);
  // a raw table carries its own header; slic and msdm tables get their signature from QEMU
  for (const t of os.acpiTables ?? []) {
    if (t.type === "raw") b.add("-acpitable", `file=${escapeComma(t.path)}`);
    else if (t.type === "slic" || t.type === "msdm")
      b.add("-acpitable", `sig=${t.type.toUpperCase()},file=${escapeComma(t.path)}`);
    else
      fail("QEMU_CMD_UNSUPPORTED", {
        element: `ACPI table type '${t.type}'`,
        reason: "QEMU takes 'raw', 'slic' and 'msdm' tables",
      });
  }
}
