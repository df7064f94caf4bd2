/**
 * Domain XML → the QEMU command line tvirt would run for it (virsh's `domxml-to-native
 * qemu-argv`): parse with the binary's facts, assign aliases, and build the argv with a context
 * of this host (driver paths, domain id -1, the monitor socket path, mounted hugetlbfs).
 */
import { hostHugetlbfsMounts } from "../../host/hugetlbfs.ts";
import { assignAliases, parseDomainXML, type XmlWarning } from "../../conf/domain/index.ts";
import { getQemuCaps, domainFactsFromCaps } from "./capabilities/index.ts";
import { loadCapsFile } from "./capabilities/load.ts";
import type { QemuCaps } from "./capabilities/types.ts";
import { buildQemuCommand } from "./command/index.ts";
import type { CommandContext, QemuCommand } from "./command/types.ts";
import { domainPaths, driverPaths, type DriverRoot } from "./paths.ts";
import { join } from "node:path";
import { userInfo } from "node:os";

export const defaultEmulator = "/usr/bin/qemu-system-x86_64";

export interface NativeOptions {
  /** Use this libvirt capabilities file instead of probing the emulator. */
  capsFile?: string;
  /** Whose paths the command line uses; default: system for root, session otherwise. */
  root?: DriverRoot;
  /** Names the document in errors. */
  document?: string;
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

/** The context of this host for a domain that is not running (id -1). */
export function hostCommandContext(caps: QemuCaps, name: string, root: DriverRoot): CommandContext {
  const paths = driverPaths(root);
  const dp = domainPaths(paths, -1, name);
  // libvirt treats an embedded driver run by root like the system instance.
  const privileged = root.kind === "system" || (root.kind === "embed" && process.getuid?.() === 0);
  const user = userInfo().username;
  return {
    caps,
    domainId: -1,
    paths: dp,
    monitor: { path: join(dp.domainDir, "monitor.sock") },
    hugetlbfs: hostHugetlbfsMounts(),
    baseEnv: [
      ["LC_ALL", "C"],
      ["PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(privileged ? [] : ([["HOME", process.env.HOME ?? "/"]] as [string, string][])),
      ["USER", user],
      ["LOGNAME", user],
    ],
    privileged,
  };
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
  });
  assignAliases(def);
  const context = hostCommandContext(caps, def.name, root);
  const command = buildQemuCommand(def, context);
  return { command, context, warnings, caps };
}
