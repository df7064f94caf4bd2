/**
 * Domain objects of the QEMU driver (libvirt's `virDomainObj` + `qemuDomainObjPrivate`) and the
 * list that indexes them by UUID, name and id (`virDomainObjList`).
 *
 * A domain is active while `id !== -1`; then `run` describes its QEMU process. `def` is the live
 * definition while active (the persistent one is kept in `newDef`), the persistent one otherwise.
 */
import type { MachineCgroup } from "../../../host/cgroup.ts";
import type { VirtiofsDaemon } from "./virtiofs.ts";
import type { AsyncJobRecord } from "./status-xml.ts";
import type { DomainDef } from "../../../conf/domain/index.ts";
import { type DomainRef } from "../../driver.ts";
import { DomainShutoffReason, DomainState } from "../../enums.ts";
import { DisposableStore } from "../../../util/disposable.ts";
import { JobLock } from "../../../util/job-lock.ts";
import type { QmpClient } from "../monitor/index.ts";

/** Why a QEMU process is being stopped on purpose (so its exit is not taken for a crash). */
export interface StopIntent {
  /** `DomainShutoffReason` */
  readonly reason: number;
  /** `DomainEventStoppedDetail` */
  readonly detail: number;
}

/** One QEMU process of a domain: from spawn (or reconnect) to its end. */
export class QemuRun {
  readonly store = new DisposableStore();
  qmp: QmpClient | undefined;
  /** Set by STOP/RESUME senders: the reason the next STOP / RESUME event applies. */
  pausedReason: number | undefined;
  runningReason: number | undefined;
  /** `reboot` asked for: the next guest shutdown resets and continues instead. */
  fakeReboot = false;
  /** A SHUTDOWN event was seen (later ones are echoes of our own kill). */
  gotShutdown = false;
  /** Time of the last POWERDOWN event (ACPI button delivered), ms. */
  powerdownAt: number | undefined;
  /** Set when tvirt stops the process itself; its exit is then not a crash. */
  stopping: StopIntent | undefined;
  /** The end of this process was handled (state is shut off, resources released). */
  ended = false;
  /** The driver let go of the process without stopping it (last connection closed). */
  detached = false;
  /** An exit check is scheduled or running. */
  exitCheck: Promise<void> | undefined;
  /** A domain started with AUTODESTROY: the connection that owns it. */
  autodestroyOwner: object | undefined;
  /** AUTODESTROY recorded in the status file by an earlier process (owner gone). */
  autodestroy = false;
  /** Taint flags of this process (libvirt's `priv->taint`: `custom-monitor` …), each logged once. */
  readonly taints = new Set<string>();
  /** Open console streams by device alias (one per device, as libvirt). */
  readonly consoles = new Map<string, { dispose(): void }>();
  /** The virtiofsd of each virtiofs filesystem by alias (started with QEMU or hotplugged). */
  readonly virtiofsDaemons = new Map<string, VirtiofsDaemon>();
  /** The guest's cgroup (privileged drivers; `cgroup.ts`). */
  cgroup: MachineCgroup | undefined;
  /** The async job recorded in the status file (for recovery after a restart). */
  asyncJob: AsyncJobRecord | undefined;

  constructor(
    readonly pid: number,
    /** `/proc/PID/stat` start time: with the pid, identifies the process for good. */
    readonly starttime: number,
    readonly monitorPath: string,
    /** Per-domain runtime dir (`domain-<id>-<name>`). */
    readonly domainDir: string,
    readonly pidfile: string,
    /** QEMU version the process runs (`7002022`). */
    readonly qemuVersion: number,
    /** ms since the epoch. */
    readonly startedAt: number,
  ) {}
}

type StateListener = (obj: QemuDomainObj) => void;

/** A definition read on first use (a config the cache holds): its name and UUID now. */
export interface LazyDef {
  readonly name: string;
  readonly uuid: string;
  load(): DomainDef;
}

export class QemuDomainObj {
  #def: DomainDef | undefined;
  #lazy: LazyDef | undefined;
  newDef: DomainDef | undefined;
  persistent = false;
  autostart = false;
  state: DomainState = DomainState.SHUTOFF;
  reason: number = DomainShutoffReason.UNKNOWN;
  id = -1;
  run: QemuRun | undefined;
  /** No longer in the domain list (undefined transient, or undefined while inactive). */
  removed = false;
  /** A transient domain being created (createXML/restore) that is not running yet. */
  starting = false;
  readonly job: JobLock;
  readonly #listeners = new Set<StateListener>();
  /** Serialises writes of this domain's status and config files. */
  fileQueue: Promise<void> = Promise.resolve();

  constructor(def: DomainDef | LazyDef, jobTimeoutMs: number) {
    if ("load" in def) this.#lazy = def;
    else this.#def = def;
    this.job = new JobLock({ object: `domain '${def.name}'`, timeoutMs: jobTimeoutMs });
  }

  /** The current definition (the live one while active); a cached config is read on first use. */
  get def(): DomainDef {
    if (this.#def === undefined) {
      this.#def = this.#lazy!.load();
      this.#lazy = undefined;
    }
    return this.#def;
  }

  set def(def: DomainDef) {
    this.#def = def;
    this.#lazy = undefined;
  }

  get name(): string {
    return this.#def?.name ?? this.#lazy!.name;
  }

  get uuid(): string {
    return this.#def?.uuid ?? this.#lazy!.uuid;
  }

  isActive(): boolean {
    return this.id !== -1;
  }

  /** The persistent definition (what `<name>.xml` holds). */
  persistentDef(): DomainDef {
    return this.newDef ?? this.def;
  }

  ref(): DomainRef {
    return { name: this.name, uuid: this.uuid, id: this.id };
  }

  setState(state: DomainState, reason: number): void {
    this.state = state;
    this.reason = reason;
    for (const l of [...this.#listeners]) {
      try {
        l(this);
      } catch {
        // a waiter's failure is its own
      }
    }
  }

  /** Calls `listener` after every state change; returns the unsubscribe function. */
  onStateChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Runs `task` after every file operation queued before it (status/config writes in order). */
  queueFileOp(task: () => Promise<void>): Promise<void> {
    const next = this.fileQueue.then(task, task);
    this.fileQueue = next.catch(() => undefined);
    return next;
  }
}

/** Domains by UUID (insertion order kept), with name and id lookups. */
export class DomainList {
  readonly #byUuid = new Map<string, QemuDomainObj>();

  get size(): number {
    return this.#byUuid.size;
  }

  all(): QemuDomainObj[] {
    return [...this.#byUuid.values()];
  }

  byUuid(uuid: string): QemuDomainObj | undefined {
    return this.#byUuid.get(uuid.toLowerCase());
  }

  byName(name: string): QemuDomainObj | undefined {
    for (const o of this.#byUuid.values()) if (o.name === name) return o;
    return undefined;
  }

  byId(id: number): QemuDomainObj | undefined {
    if (id < 0) return undefined;
    for (const o of this.#byUuid.values()) if (o.id === id) return o;
    return undefined;
  }

  add(obj: QemuDomainObj): void {
    obj.removed = false;
    this.#byUuid.set(obj.uuid, obj);
  }

  remove(obj: QemuDomainObj): void {
    if (this.#byUuid.get(obj.uuid) === obj) this.#byUuid.delete(obj.uuid);
    obj.removed = true;
  }
}
