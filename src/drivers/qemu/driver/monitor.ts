/**
 * QMP events of a running domain, applied to its object in the order QEMU sent them (libvirt's
 * `qemuProcessHandle*` callbacks): STOP/RESUME change the state with the reason the sender of
 * `stop`/`cont` left, SHUTDOWN marks the guest as shut down and ends the process (or resets it
 * for a `reboot`), RESET is a reboot event; and the fake reboot itself. Attaching the monitor to
 * a run and what its closing starts (the exit check) are `process.ts`'s: this module imports
 * nothing of it at run time.
 */
import {
  DomainCrashedReason,
  DomainEventCrashedDetail,
  DomainEventId,
  DomainEventPMSuspendedDetail,
  DomainEventShutdownDetail,
  DomainEventStartedDetail,
  DomainEventType,
  DomainPausedReason,
  DomainPMSuspendedReason,
  DomainRunningReason,
  DomainShutdownReason,
  DomainState,
} from "../../enums.ts";
import { signalProcess } from "../../../util/spawn.ts";
import type { QmpEvent } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { deviceDeleted } from "./hotplug.ts";
import { resumedDetail, suspendedDetail } from "./states.ts";
// tuning: balloon size changes, vCPU unplugs
import { balloonChanged, vcpuDeleted } from "./tuning.ts";

/** Applies one QMP event of the running `run` to the domain (state, reason, lifecycle events). */
export function handleMonitorEvent(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, ev: QmpEvent): void {
  switch (ev.event) {
    case "STOP": {
      if (obj.state !== DomainState.RUNNING || run.gotShutdown) return;
      const reason = run.pausedReason ?? DomainPausedReason.UNKNOWN;
      run.pausedReason = undefined;
      obj.setState(DomainState.PAUSED, reason);
      drv.lifecycle(obj, DomainEventType.SUSPENDED, suspendedDetail(reason));
      drv.saveStatusLater(obj);
      return;
    }
    case "RESUME": {
      const reason = run.runningReason ?? DomainRunningReason.UNPAUSED;
      run.runningReason = undefined;
      if (obj.state === DomainState.RUNNING) return;
      obj.setState(DomainState.RUNNING, reason);
      drv.lifecycle(obj, DomainEventType.RESUMED, resumedDetail(reason));
      drv.saveStatusLater(obj);
      return;
    }
    case "SHUTDOWN": {
      if (run.stopping || run.gotShutdown) return;
      run.gotShutdown = true;
      const guest = ev.data.guest;
      const detail =
        guest === true
          ? DomainEventShutdownDetail.GUEST
          : guest === false
            ? DomainEventShutdownDetail.HOST
            : DomainEventShutdownDetail.FINISHED;
      obj.setState(DomainState.SHUTDOWN, DomainShutdownReason.UNKNOWN);
      drv.lifecycle(obj, DomainEventType.SHUTDOWN, detail);
      drv.saveStatusLater(obj);
      // A guest reset turned into a shutdown (on_reboot=destroy) is never a fake reboot.
      const reset = ev.data.reason === "guest-reset";
      if (!reset && (run.fakeReboot || obj.def.onPoweroff === "restart")) {
        fakeReboot(drv, obj, run);
      } else {
        // -no-shutdown keeps QEMU alive: end it; the exit check then records "shut off (shutdown)".
        signalProcess(run.pid, "SIGTERM", run.starttime);
      }
      return;
    }
    case "RESET":
      drv.events.emit(obj.ref(), { id: DomainEventId.REBOOT });
      return;
    case "POWERDOWN":
      run.powerdownAt = Date.now();
      return;
    case "SUSPEND":
      obj.setState(DomainState.PMSUSPENDED, DomainPMSuspendedReason.UNKNOWN);
      drv.lifecycle(obj, DomainEventType.PMSUSPENDED, DomainEventPMSuspendedDetail.MEMORY);
      drv.saveStatusLater(obj);
      return;
    case "WAKEUP":
      if (obj.state !== DomainState.PMSUSPENDED) return;
      obj.setState(DomainState.RUNNING, DomainRunningReason.WAKEUP);
      drv.lifecycle(obj, DomainEventType.STARTED, DomainEventStartedDetail.WAKEUP);
      drv.saveStatusLater(obj);
      return;
    case "GUEST_PANICKED":
      obj.setState(DomainState.CRASHED, DomainCrashedReason.PANICKED);
      drv.lifecycle(obj, DomainEventType.CRASHED, DomainEventCrashedDetail.PANICKED);
      drv.saveStatusLater(obj);
      if (obj.def.onCrash === "destroy" || obj.def.onCrash === "coredump-destroy")
        signalProcess(run.pid, "SIGTERM", run.starttime);
      return;
    case "RTC_CHANGE": {
      const offset = ev.data.offset;
      if (typeof offset === "number")
        drv.events.emit(obj.ref(), { id: DomainEventId.RTC_CHANGE, utcoffset: BigInt(offset) });
      return;
    }
    case "DEVICE_DELETED": {
      const dev = ev.data.device;
      if (typeof dev === "string") {
        // device hotplug: completes a pending unplug (backends, live definition); a vCPU unplug
        deviceDeleted(run, dev);
        vcpuDeleted(drv, obj, dev);
        drv.events.emit(obj.ref(), { id: DomainEventId.DEVICE_REMOVED, devAlias: dev });
      }
      return;
    }
    case "DEVICE_TRAY_MOVED": {
      // libvirt names the disk by its alias (QEMU's `id`; `device` is the old drive name)
      const id = typeof ev.data.id === "string" && ev.data.id !== "" ? ev.data.id : ev.data.device;
      if (typeof id === "string")
        drv.events.emit(obj.ref(), {
          id: DomainEventId.TRAY_CHANGE,
          devAlias: id.replace(/^\/machine\/peripheral\//, ""),
          reason: ev.data["tray-open"] === true ? 0 : 1,
        });
      return;
    }
    case "DEVICE_UNPLUG_GUEST_ERROR": {
      const dev = ev.data.device;
      if (typeof dev === "string")
        drv.events.emit(obj.ref(), { id: DomainEventId.DEVICE_REMOVAL_FAILED, devAlias: dev });
      return;
    }
    case "BALLOON_CHANGE": {
      const actual = ev.data.actual;
      if (typeof actual === "number") balloonChanged(drv, obj, actual);
      return;
    }
    default:
      return;
  }
}

/** `reboot`'s second half: the guest shut down, so reset it and let it run again. */
export function fakeReboot(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun): void {
  void (async () => {
    let job;
    try {
      job = await obj.job.acquire("modify", "qemuProcessFakeReboot");
    } catch {
      return;
    }
    try {
      if (obj.run !== run || run.ended || !run.qmp) return;
      await run.qmp.execute("system_reset");
      run.fakeReboot = false;
      run.gotShutdown = false;
      run.runningReason = DomainRunningReason.BOOTED;
      await run.qmp.execute("cont");
      if (obj.run === run && obj.state !== DomainState.RUNNING)
        obj.setState(DomainState.RUNNING, DomainRunningReason.BOOTED);
      await drv.saveStatus(obj);
    } catch {
      // Could not reset: end the process; the exit check records how it ended.
      if (obj.run === run && !run.ended) signalProcess(run.pid, "SIGTERM", run.starttime);
    } finally {
      job.release();
    }
  })();
}
