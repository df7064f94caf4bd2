/**
 * `virDomainQemuMonitorCommand` on the QEMU driver (libvirt's `qemuDomainQemuMonitorCommand`):
 * a QMP command passed through as JSON, its reply returned as JSON text (an error reply too, as
 * libvirt's `qemuMonitorJSONArbitraryCommand` does), or with HMP a human monitor command run
 * through QMP's `human-monitor-command`. The domain is marked tainted (`custom-monitor`): once
 * per QEMU process, in its `QemuRun.taints` and as a line in the domain log.
 */
import { checkFlags } from "../../../util/errors/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog } from "./log.ts";

/** `VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP` */
export const MONITOR_COMMAND_HMP = 1;

function stamp(): string {
  return new Date().toISOString().replace("T", " ").replace("Z", "+0000");
}

/** qemuDomainObjTaint: records the taint once per process and logs it as libvirt does. */
async function taint(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, flag: string): Promise<void> {
  if (run.taints.has(flag)) return;
  run.taints.add(flag);
  await appendLog(drv.logPath(obj.name), `${stamp()}: Domain id=${obj.id} is tainted: ${flag}\n`);
  // Kept in the status file, so a restarted manager still knows (libvirt's `<taint flag=/>`).
  await drv.saveStatus(obj);
}

let nextId = 1;

export async function domainMonitorCommand(
  drv: QemuDriver,
  obj: QemuDomainObj,
  cmd: string,
  flags: number,
): Promise<string> {
  checkFlags(flags, MONITOR_COMMAND_HMP, "qemuDomainQemuMonitorCommand");
  const run = obj.run;
  if (!obj.isActive() || !run?.qmp || run.ended) throw new VirtError("DOMAIN_NOT_RUNNING");
  await taint(drv, obj, run, "custom-monitor");
  const qmp = run.qmp;

  if (flags & MONITOR_COMMAND_HMP) {
    const out = await qmp.execute("human-monitor-command", { "command-line": cmd });
    return typeof out === "string" ? out : "";
  }

  let msg: unknown;
  try {
    msg = JSON.parse(cmd);
  } catch (e) {
    throw new VirtError("API_INVALID_ARG", {
      what: `cannot parse json ${cmd}: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const m = msg as { execute?: unknown; arguments?: unknown } | null;
  if (typeof m !== "object" || m === null || Array.isArray(m) || typeof m.execute !== "string") {
    throw new VirtError("API_INVALID_ARG", { what: `cannot parse json ${cmd}: no 'execute' command` });
  }
  const args =
    typeof m.arguments === "object" && m.arguments !== null && !Array.isArray(m.arguments)
      ? (m.arguments as Record<string, unknown>)
      : undefined;
  const id = `libvirt-${nextId++}`;
  try {
    const ret = await qmp.execute(m.execute, args);
    return JSON.stringify({ return: ret ?? {}, id });
  } catch (e) {
    if (e instanceof VirtError && e.code === "QEMU_COMMAND_FAILED") {
      const { qemuClass, qemuDesc } = e.details as { qemuClass?: unknown; qemuDesc?: unknown };
      return JSON.stringify({ id, error: { class: qemuClass, desc: qemuDesc } });
    }
    throw e;
  }
}
