/**
 * Supervising a guest's virtiofsd (at start and after a hotplug): a daemon that dies under a QEMU
 * still running leaves the guest's mount dead; that is reported as a line in the domain's log
 * and an `io-error-reason` event naming the share, the device and why.
 */
import { isProcessAlive } from "../../../util/spawn.ts";
import { DomainEventId, DomainEventIOErrorAction } from "../../enums.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { appendLog } from "./log.ts";
import type { VirtiofsDaemon } from "./virtiofs.ts";

/** Reports `d`'s exit if it happens while `run`'s QEMU runs on (not when both stop together). */
export function watchVirtiofsd(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, d: VirtiofsDaemon): void {
  void d.exited.then(async (st) => {
    // QEMU going away (destroy, shutdown, crash) ends virtiofsd too: only a daemon that
    // died under a QEMU still running is news; a detach stops it on purpose
    await new Promise((resolve) => setTimeout(resolve, 200));
    const qemuRuns = isProcessAlive(run.pid, run.starttime);
    if (!run.ended && run.stopping === undefined && obj.run === run && qemuRuns && !d.stopping) {
      await reportVirtiofsdExit(drv, obj, d, st);
    }
  });
}

async function reportVirtiofsdExit(
  drv: QemuDriver,
  obj: QemuDomainObj,
  d: VirtiofsDaemon,
  st: { code: number | null; signal: NodeJS.Signals | null },
): Promise<void> {
  const how = st.signal !== null ? `killed by ${st.signal}` : `exited with status ${String(st.code)}`;
  const reason = `virtiofsd ${how}`;
  await appendLog(
    drv.logPath(obj.def.name),
    `${new Date().toISOString()}: virtiofsd of filesystem '${d.tag}' (${d.alias}, ${d.source}) ${how}: the guest's mount of '${d.tag}' no longer works until the domain is restarted\n`,
  ).catch(() => undefined);
  drv.events.emit(obj.ref(), {
    id: DomainEventId.IO_ERROR_REASON,
    srcPath: d.source,
    devAlias: d.alias,
    action: DomainEventIOErrorAction.REPORT,
    reason,
  });
}
