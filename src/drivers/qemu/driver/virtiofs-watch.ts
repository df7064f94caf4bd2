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
import { adoptVirtiofsd, virtiofsFilesystems, type VirtiofsDaemon } from "./virtiofs.ts";
import { join } from "node:path";

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

/** Stops `d` with its guest, but not when the driver only lets go of the guest (it keeps running). */
export function stopWithGuest(run: QemuRun, d: VirtiofsDaemon): () => Promise<void> {
  return async () => {
    if (!run.detached) await d.stop();
  };
}

/**
 * After a driver restart: adopts each virtiofsd an earlier instance started for this guest; one
 * that died while no driver watched is reported now.
 */
export async function adoptVirtiofsDaemons(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): Promise<void> {
  for (const fs of virtiofsFilesystems(obj.def)) {
    const alias = fs.alias ?? "";
    const d = adoptVirtiofsd(fs, alias, join(run.domainDir, `${alias}-fs.sock`));
    if (d === undefined) {
      await reportVirtiofsdExit(
        drv,
        obj,
        { tag: fs.target.dir, alias, source: fs.source?.dir ?? "" },
        undefined,
      );
      continue;
    }
    run.virtiofsDaemons.set(alias, d);
    run.store.addFn(stopWithGuest(run, d));
    watchVirtiofsd(drv, obj, run, d);
  }
}

async function reportVirtiofsdExit(
  drv: QemuDriver,
  obj: QemuDomainObj,
  d: { readonly tag: string; readonly alias: string; readonly source: string },
  st: { code: number | null; signal: NodeJS.Signals | null } | undefined,
): Promise<void> {
  // a daemon that is not our child (adopted after a restart) has no exit status to tell
  const how =
    st === undefined
      ? "is gone (it ended while no driver watched it)"
      : st.signal !== null
        ? `killed by ${st.signal}`
        : st.code !== null
          ? `exited with status ${String(st.code)}`
          : "exited";
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
