/**
 * QEMU's firmware descriptors (docs/interop/firmware.json): the JSON files firmware packages
 * install under `/usr/share/qemu/firmware`, overridable per host (`/etc/qemu/firmware`) and per
 * user (`$XDG_CONFIG_HOME/qemu/firmware`). As in libvirt, a file in a higher-priority directory
 * replaces the file of the same name below it, an empty file masks it, and the survivors are
 * taken in file-name order. Used for what domain capabilities report about `<os firmware>`.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface FirmwareDescriptor {
  /** File the descriptor came from. */
  readonly path: string;
  readonly interfaces: readonly string[];
  readonly device: string;
  /** Code image: `mapping.executable.filename` (flash) or `mapping.filename` (memory, kernel). */
  readonly executable?: string;
  /** Format of the flash code image (`raw`, `qcow2`); flash only. */
  readonly executableFormat?: string;
  /** Flash mode: `split` (code + variable store, the default), `combined` or `stateless`. */
  readonly mode?: string;
  /** Variable store template of a split flash build, with its format. */
  readonly nvramTemplate?: string;
  readonly nvramTemplateFormat?: string;
  readonly targets: readonly { readonly arch: string; readonly machines: readonly string[] }[];
  readonly features: readonly string[];
}

/** The descriptor directories, highest priority first (libvirt's order). */
export function firmwareDirs(privileged: boolean, root = "/"): string[] {
  const dirs: string[] = [];
  if (!privileged) {
    const xdg = process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config");
    dirs.push(join(xdg, "qemu/firmware"));
  }
  dirs.push(join(root, "etc/qemu/firmware"), join(root, "usr/share/qemu/firmware"));
  return dirs;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** One descriptor's text, or undefined when it is not a descriptor (libvirt skips those too). */
export function parseFirmwareDescriptor(text: string, path: string): FirmwareDescriptor | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== "object" || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  const mapping: unknown = d.mapping;
  if (typeof mapping !== "object" || mapping === null) return undefined;
  const map = mapping as Record<string, unknown>;
  if (typeof map.device !== "string") return undefined;
  const exec: unknown = map.executable;
  const executable =
    typeof exec === "object" &&
    exec !== null &&
    typeof (exec as Record<string, unknown>).filename === "string"
      ? ((exec as Record<string, unknown>).filename as string)
      : typeof map.filename === "string"
        ? map.filename
        : undefined;
  const file = (v: unknown): { filename?: string; format?: string } => {
    if (typeof v !== "object" || v === null) return {};
    const r = v as Record<string, unknown>;
    return {
      ...(typeof r.filename === "string" ? { filename: r.filename } : {}),
      // the descriptor schema's default format is raw
      format: typeof r.format === "string" ? r.format : "raw",
    };
  };
  const flash = map.device === "flash";
  const template = flash ? file(map["nvram-template"]) : {};
  const targets = Array.isArray(d.targets)
    ? d.targets.flatMap((t: unknown) => {
        if (typeof t !== "object" || t === null) return [];
        const r = t as Record<string, unknown>;
        return typeof r.architecture === "string"
          ? [{ arch: r.architecture, machines: strings(r.machines) }]
          : [];
      })
    : [];
  return {
    path,
    interfaces: strings(d["interface-types"]),
    device: map.device,
    ...(executable !== undefined ? { executable } : {}),
    ...(flash
      ? {
          executableFormat: file(exec).format ?? "raw",
          mode: typeof map.mode === "string" ? map.mode : "split",
          ...(template.filename !== undefined
            ? { nvramTemplate: template.filename, nvramTemplateFormat: template.format ?? "raw" }
            : {}),
        }
      : {}),
    targets,
    features: strings(d.features),
  };
}

/** The effective descriptors of `dirs` (highest priority first), in file-name order. */
export function loadFirmwareDescriptors(dirs: readonly string[]): FirmwareDescriptor[] {
  const chosen = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith(".json") && !chosen.has(n)) chosen.set(n, join(dir, n));
  }
  const out: FirmwareDescriptor[] = [];
  for (const name of [...chosen.keys()].sort()) {
    const path = chosen.get(name)!;
    let text: string;
    try {
      if (statSync(path).size === 0) continue; // masked
      text = readFileSync(path, "utf8");
    } catch {
      continue;
    }
    const d = parseFirmwareDescriptor(text, path);
    if (d) out.push(d);
  }
  return out;
}

/** QEMU's name of an architecture in descriptors (`i386` for libvirt's `i686`). */
function qemuArch(arch: string): string {
  return arch === "i686" ? "i386" : arch;
}

/** Shell-style glob (`*`, `?`) as descriptors use for machine types. */
export function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(name);
}

/** Whether the descriptor offers its firmware to `machine` on `arch`. */
export function firmwareMatches(d: FirmwareDescriptor, arch: string, machine: string): boolean {
  const a = qemuArch(arch);
  return d.targets.some((t) => t.arch === a && t.machines.some((m) => globMatch(m, machine)));
}

export interface SupportedFirmware {
  /** Automatic firmware kinds (`bios`, `efi`) some descriptor offers for this machine. */
  readonly kinds: readonly ("bios" | "efi")[];
  /** Whether a matching UEFI build does Secure Boot. */
  readonly secure: boolean;
  /** Code images of the matching UEFI flash builds. */
  readonly images: readonly string[];
}

/** What the descriptors offer `machine` on `arch` (libvirt's qemuFirmwareGetSupported). */
export function supportedFirmware(
  descriptors: readonly FirmwareDescriptor[],
  arch: string,
  machine: string,
): SupportedFirmware {
  let bios = false;
  let efi = false;
  let secure = false;
  const images: string[] = [];
  for (const d of descriptors) {
    if (!firmwareMatches(d, arch, machine)) continue;
    if (d.interfaces.includes("bios")) bios = true;
    if (d.interfaces.includes("uefi")) {
      efi = true;
      if (d.features.includes("secure-boot")) secure = true;
      if (d.device === "flash" && d.executable !== undefined && !images.includes(d.executable))
        images.push(d.executable);
    }
  }
  const kinds: ("bios" | "efi")[] = [];
  if (bios) kinds.push("bios");
  if (efi) kinds.push("efi");
  return { kinds, secure, images };
}
