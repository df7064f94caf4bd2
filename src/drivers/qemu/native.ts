/**
 * Domain XML → the QEMU command line tvirt would run for it (virsh's `domxml-to-native
 * qemu-argv`): parse with the binary's facts, assign aliases, and build the argv with the
 * command context of this host (`command/context.ts`).
 */
import { assignAliases, parseDomainXML, type XmlWarning } from "../../conf/domain/index.ts";
import { getQemuCaps, domainFactsFromCaps } from "./capabilities/index.ts";
import { loadCapsFile } from "./capabilities/load.ts";
import type { QemuCaps } from "./capabilities/types.ts";
import { defaultEmulator, hostCommandContext } from "./command/context.ts";
import { pretendPort } from "./command/graphics.ts";
import { buildQemuCommand } from "./command/index.ts";
import type { CommandContext, QemuCommand } from "./command/types.ts";
import { driverPaths, type DriverRoot } from "./paths.ts";
import { localVolumeResolver, resolveDomainVolumes, type VolumeResolver } from "./driver/volumes.ts";

// They moved to the command layer; kept here for importers on branches that have not moved yet.

export interface NativeOptions {
  /** Use this libvirt capabilities file instead of probing the emulator. */
  capsFile?: string;
  /** Whose paths the command line uses; default: system for root, session otherwise. */
  root?: DriverRoot;
  /** Names the document in errors. */
  document?: string;
  /** How `<disk type='volume'>` finds its volume (default: `localVolumeResolver(root)`). */
  resolveVolume?: VolumeResolver;
}

export interface NativeResult {
  command: QemuCommand;
  /** The context the command was built with (paths, monitor socket). */
  context: CommandContext;
  warnings: XmlWarning[];
  caps: QemuCaps;
}

function defaultRoot(): DriverRoot {
  return process.getuid?.() === 0 ? { kind: "system" } : { kind: "session" };
}

export async function domainXMLToNative(xml: string, options: NativeOptions = {}): Promise<NativeResult> {
  // The emulator named in the XML decides which binary to probe; read it without defaults first.
  const bare = parseDomainXML(xml, { document: options.document ?? "(domain_definition)", noDefaults: true });
  const emulator = bare.def.devices.emulator ?? defaultEmulator;
  const root = options.root ?? defaultRoot();
  const caps =
    options.capsFile !== undefined
      ? loadCapsFile(options.capsFile)
      : await getQemuCaps(emulator, { cacheDir: driverPaths(root).cacheDir });
  const { def, warnings } = parseDomainXML(xml, {
    document: options.document ?? "(domain_definition)",
    facts: domainFactsFromCaps(caps),
    // as the QEMU driver's default
    slirpPortForwards: true,
  });
  assignAliases(def);
  // volume disks become their path, as at start (libvirt translates them here too)
  await resolveDomainVolumes(options.resolveVolume ?? localVolumeResolver(root), def);
  // graphics with autoport get libvirt's pretend ports
  const context = { ...hostCommandContext(caps, def.name, root), allocatePort: pretendPort };
  const command = buildQemuCommand(def, context);
  return { command, context, warnings, caps };
}
