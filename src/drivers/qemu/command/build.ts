/**
 * The state shared by the option builders while one command line is assembled: the definition
 * (with aliases and the start-time preparation applied), the context, and the argv so far.
 */
import type { DomainDef } from "../../../conf/domain/types.ts";
import type { Accel, AccelCaps, MachineInfo } from "../capabilities/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { ErrorArgs } from "../../../util/errors/index.ts";
import { Props, toJson } from "./escape.ts";
import type { JsonValue } from "./escape.ts";
import type { CommandContext } from "./types.ts";
import { parseHpbMachine, type HpbMachine } from "../capabilities/hpb.ts";

/** A `<qemu:property>` value as the JSON type it names. */
function overrideValue(type: "string" | "signed" | "unsigned" | "bool", value: string): JsonValue {
  if (type === "string") return value;
  if (type === "bool") return value === "true";
  const n = BigInt(value);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** `<qemu:override><qemu:device alias=>`'s frontend properties on that device's `-device`. */
function applyDeviceOverrides(def: DomainDef, props: Props): void {
  const overrides = def.qemu?.overrides;
  if (!overrides || overrides.length === 0) return;
  const id = props.get("id");
  for (const o of overrides) {
    if (o.alias !== id) continue;
    for (const p of o.frontend) {
      if (p.type === "remove") props.delete(p.name);
      else props.set(p.name, overrideValue(p.type, p.value));
    }
  }
}

export class Build {
  readonly args: string[] = [];
  readonly env: [string, string][] = [];
  readonly accel: Accel;
  readonly accelCaps: AccelCaps | undefined;
  readonly machine: MachineInfo | undefined;
  /** Set when the XML names one of Ubuntu's `-hpb` machines (run as its base, host-phys-bits on). */
  readonly hpb: HpbMachine | undefined;
  private fdset = 0;
  /** Node names of old-style UEFI flashes (`pflash0=`, `pflash1=`). */
  readonly pflash: { code?: string; vars?: string } = {};

  constructor(
    readonly def: DomainDef,
    readonly ctx: CommandContext,
  ) {
    this.accel = ctx.accel ?? (def.type === "kvm" ? "kvm" : def.type === "hvf" ? "hvf" : "tcg");
    this.accelCaps = ctx.caps.accel[this.accel];
    this.hpb = parseHpbMachine(def.os.machine);
    const m = this.hpb?.base ?? def.os.machine ?? "";
    this.machine = this.accelCaps?.machines.find((x) => x.name === m || x.alias === m);
  }

  /** Next `-add-fd` set number. */
  nextFdset(): number {
    return this.fdset++;
  }

  /** Whether QEMU has a capability flag (libvirt's flag names). */
  has(flag: string): boolean {
    return this.ctx.caps.flags.has(flag);
  }

  add(...a: string[]): void {
    this.args.push(...a);
  }

  /**
   * Adds `option` with a JSON value (`-device '{...}'`). A `-device` whose id has a
   * `<qemu:override>` gets those properties set or removed last, as libvirt does.
   */
  addJson(option: string, props: Props | JsonValue): void {
    if (option === "-device" && props instanceof Props) applyDeviceOverrides(this.def, props);
    // a QEMU without JSON -device (before 7.0) takes the driver,key=value form
    if (option === "-device" && props instanceof Props && !this.jsonDevice()) {
      this.args.push(option, deviceKeyValue(props));
      return;
    }
    this.args.push(option, props instanceof Props ? props.toString() : toJson(props));
  }

  /** Whether QEMU takes `-device` as JSON: it says so, or it is 7.0 or newer. */
  jsonDevice(): boolean {
    const v = this.ctx.caps.version;
    return this.has("device.json") || !(v > 0 && v < 7000000);
  }

  get machineName(): string {
    return this.hpb?.base ?? this.def.os.machine ?? "";
  }

  get emulator(): string {
    return this.def.devices.emulator ?? this.ctx.caps.emulator;
  }

  get arch(): string {
    return this.def.os.arch ?? "x86_64";
  }

  get isX86(): boolean {
    return this.arch === "x86_64" || this.arch === "i686";
  }

  get isQ35(): boolean {
    const m = this.machineName;
    return m === "q35" || m.startsWith("pc-q35") || (this.machine?.name.startsWith("pc-q35") ?? false);
  }

  get isI440fx(): boolean {
    const m = this.machine?.name ?? this.machineName;
    return m === "pc" || m.startsWith("pc-i440fx") || m.startsWith("pc-0.") || m.startsWith("pc-1.");
  }

  /** Machines with a built-in IDE controller (its first bus needs no `-device`). */
  get hasBuiltinIDE(): boolean {
    const m = this.machine?.name ?? this.machineName;
    return (
      this.isI440fx ||
      m === "isapc" ||
      m === "g3beige" ||
      m === "mac99" ||
      m === "malta" ||
      m.startsWith("sun4")
    );
  }

  fail<C extends BuildErrorCode>(code: C, ...args: ErrorArgs<C>): never {
    return fail(code, ...args);
  }
}

/**
 * `-device` properties in QEMU's key=value syntax: the driver first, booleans as on/off,
 * commas in values doubled.
 */
function deviceKeyValue(props: Props): string {
  const o = props.toObject();
  const esc = (v: string): string => v.replace(/,/g, ",,");
  let s = esc(typeof o.driver === "string" ? o.driver : "");
  for (const [k, v] of Object.entries(o)) {
    if (k === "driver" || v === null) continue;
    const text = typeof v === "boolean" ? (v ? "on" : "off") : typeof v === "object" ? toJson(v) : String(v);
    s += `,${k}=${esc(text)}`;
  }
  return s;
}

/** The errors the command builders raise. */
export type BuildErrorCode =
  | "QEMU_CMD_UNSUPPORTED"
  | "QEMU_CMD_MEMORY_ALIGN_OVERFLOW"
  | "QEMU_CMD_CAPABILITY_MISSING"
  | "QEMU_CMD_INVALID_VALUE"
  | "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE"
  | "QEMU_CMD_HUGETLBFS_MISSING"
  | "QEMU_CMD_NUMA_NODE_UNAVAILABLE"
  | "QEMU_CMD_HOST_MODEL_UNAVAILABLE"
  | "QEMU_CMD_HOST_BACKEND_UNSUPPORTED"
  | "QEMU_CMD_CONTEXT_MISSING";

export function fail<C extends BuildErrorCode>(code: C, ...args: ErrorArgs<C>): never {
  throw new VirtError(code, ...args);
}

/** Throws unless QEMU has the flag. */
export function requireFlag(b: Build, flag: string, element: string, xpath?: string): void {
  if (!b.has(flag)) {
    fail(
      "QEMU_CMD_CAPABILITY_MISSING",
      { element, flag, binary: b.ctx.caps.emulator || "the QEMU binary" },
      xpath ? { xpath } : {},
    );
  }
}

export function unsupported(element: string, reason: string, xpath?: string): never {
  return fail("QEMU_CMD_UNSUPPORTED", { element, reason }, xpath ? { xpath } : {});
}
