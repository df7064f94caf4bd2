/**
 * QMP events of a running domain, applied to its object in the order QEMU sent them (libvirt's
 * `qemuProcessHandle*` callbacks): STOP/RESUME change the state with the reason the sender of
 * `stop`/`cont` left, SHUTDOWN marks the guest as shut down and ends the process (or resets it
 * for a `reboot`), RESET is a reboot event, and the monitor closing starts the exit check.
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
import type { QmpClient, QmpEvent } from "../monitor/index.ts";
import type { QemuDomainObj, QemuRun } from "./domain.ts";
import type { QemuDriver } from "./driver.ts";
import { fakeReboot, scheduleExitCheck } from "./process.ts";
import { deviceDeleted } from "./hotplug.ts";
import { resumedDetail, suspendedDetail } from "./states.ts";
// tuning: monitor events for clients, balloon size changes
import { dispatchMonitorEvent } from "./monitor-events.ts";
import { balloonChanged, vcpuDeleted } from "./tuning.ts";

/** Makes `qmp` the monitor of `run`: events go to the domain, a close starts the exit check. */
export function attachMonitor(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, qmp: QmpClient): void {
  run.qmp = qmp;
  const offEvent = qmp.onEvent((ev) => {
    if (obj.run !== run || run.ended) return;
    handleEvent(drv, obj, run, ev);
    dispatchMonitorEvent(drv, obj, ev);
  });
  const offClose = qmp.onClose(() => {
    if (run.qmp === qmp) run.qmp = undefined;
    if (run.detached || run.ended || obj.run !== run) return;
    scheduleExitCheck(drv, obj, run);
  });
  run.store.addFn(async () => {
    offEvent();
    offClose();
    if (run.qmp === qmp) run.qmp = undefined;
    await qmp.close();
  });
}

function handleEvent(drv: QemuDriver, obj: QemuDomainObj, run: QemuRun, ev: QmpEvent): void {
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
    case "BALLOON_CHANGE": {
      const actual = ev.data.actual;
      if (typeof actual === "number") balloonChanged(drv, obj, actual);
      return;
    }
    default:
      return;
  }
}
