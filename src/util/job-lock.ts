/**
 * One asynchronous job lock per object (libvirt's domain job, ../shared/DESIGN.md "Jobs"):
 *
 * - `modify` jobs are exclusive: nothing else runs beside them;
 * - `query` jobs share the lock with each other and may run beside an `async` job (a long
 *   operation such as save), but not beside a `modify` job;
 * - one `async` job at a time; it excludes `modify` jobs for its whole length;
 * - `destroy` always wins: it goes to the head of the queue and cancels every waiter, then
 *   waits only for the jobs already running (the caller kills the process first, so they end);
 * - a wait that times out fails with an error naming the job that holds the lock.
 *
 * Waiters are served in order; a query is not held back by an earlier waiter that waits only
 * for an async job to end (libvirt lets queries through during migration and save), but it is
 * by an earlier modify job waiting for running queries (so modify jobs do not starve).
 */
import { VirtError } from "./errors/index.ts";

export type JobKind = "query" | "modify" | "async" | "destroy";

export interface JobInfo {
  readonly kind: JobKind;
  /** What runs the job: an API name (`virDomainSuspend`). */
  readonly owner: string;
  /** ms since the epoch. */
  readonly since: number;
}

export interface AcquireOptions {
  /** How long to wait for the lock (default: the lock's default). `0` = fail at once if busy. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** For `destroy` jobs: why the waiters are cancelled (default: "<owner> was called"). */
  readonly cancelReason?: string;
}

interface Waiter {
  readonly info: JobInfo;
  readonly resolve: (job: Job) => void;
  readonly reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  cleanupAbort: (() => void) | undefined;
}

/** A held job. Release it exactly once (`release()` is idempotent). */
export class Job implements Disposable {
  #released = false;

  /** @internal */
  constructor(
    private readonly lock: JobLock,
    readonly info: JobInfo,
  ) {}

  get kind(): JobKind {
    return this.info.kind;
  }

  get released(): boolean {
    return this.#released;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.lock.releaseJob(this);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

export interface JobLockOptions {
  /** The object, for messages: `domain 'vm1'`. */
  readonly object: string;
  /** Default wait (libvirt: 30 s). */
  readonly timeoutMs?: number;
}

function compatible(kind: JobKind, active: readonly Job[]): boolean {
  if (active.length === 0) return true;
  switch (kind) {
    case "query":
      return active.every((j) => j.kind === "query" || j.kind === "async");
    case "modify":
    case "destroy":
      return false;
    case "async":
      return active.every((j) => j.kind === "query");
  }
}

export class JobLock {
  readonly #active: Job[] = [];
  readonly #queue: Waiter[] = [];
  readonly object: string;
  readonly timeoutMs: number;
  /** Why the lock was disposed; its error is built when a job is refused, not before. */
  #disposedWhy: string | undefined;

  constructor(options: JobLockOptions) {
    this.object = options.object;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Jobs holding the lock now. */
  get active(): readonly JobInfo[] {
    return this.#active.map((j) => j.info);
  }

  /** Jobs waiting, in order. */
  get waiting(): readonly JobInfo[] {
    return this.#queue.map((w) => w.info);
  }

  /** The async job running now, if any. */
  get asyncJob(): JobInfo | undefined {
    return this.#active.find((j) => j.kind === "async")?.info;
  }

  get idle(): boolean {
    return this.#active.length === 0 && this.#queue.length === 0;
  }

  /**
   * Waits for the lock. Rejects with `JOB_LOCK_TIMEOUT` (naming the holder), `JOB_CANCELLED`
   * (a destroy overtook the wait, or the object went away) or the signal's reason.
   */
  acquire(kind: JobKind, owner: string, options: AcquireOptions = {}): Promise<Job> {
    if (this.#disposedWhy !== undefined)
      return Promise.reject(
        new VirtError("JOB_CANCELLED", {
          owner: "a new job",
          object: this.object,
          reason: this.#disposedWhy,
        }),
      );
    const info: JobInfo = { kind, owner, since: Date.now() };
    if (kind === "destroy")
      this.#cancel(options.cancelReason ?? `${owner} was called`, (w) => w.info.kind !== "destroy");
    if (this.#grantable(info, this.#queue.length)) {
      const job = new Job(this, info);
      this.#active.push(job);
      return Promise.resolve(job);
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason as Error);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise<Job>((resolve, reject) => {
      const w: Waiter = { info, resolve, reject, timer: undefined, cleanupAbort: undefined };
      w.timer = setTimeout(() => {
        this.#drop(w, this.#timeoutError(info, timeoutMs));
      }, timeoutMs);
      if (options.signal) {
        const signal = options.signal;
        const onAbort = (): void => {
          this.#drop(w, signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        w.cleanupAbort = () => {
          signal.removeEventListener("abort", onAbort);
        };
      }
      if (kind === "destroy") {
        // Ahead of everything but earlier destroys.
        const i = this.#queue.findIndex((q) => q.info.kind !== "destroy");
        this.#queue.splice(i < 0 ? this.#queue.length : i, 0, w);
      } else this.#queue.push(w);
    });
  }

  /** Rejects every waiter except destroys with `JOB_CANCELLED` (`why` says what happened). */
  cancelWaiters(why: string): void {
    this.#cancel(why, (w) => w.info.kind !== "destroy");
  }

  #cancel(why: string, which: (w: Waiter) => boolean): void {
    const waiters = this.#queue.filter(which);
    for (const w of waiters) {
      this.#queue.splice(this.#queue.indexOf(w), 1);
      this.#settle(w);
      w.reject(new VirtError("JOB_CANCELLED", { owner: w.info.owner, object: this.object, reason: why }));
    }
    this.#pump();
  }

  /** The object is gone: cancel waiters and refuse new jobs. Running jobs finish normally. */
  dispose(why: string): void {
    this.#disposedWhy = why;
    this.#cancel(why, () => true);
  }

  /** @internal Called by `Job.release()`. */
  releaseJob(job: Job): void {
    const i = this.#active.indexOf(job);
    if (i >= 0) this.#active.splice(i, 1);
    this.#pump();
  }

  /**
   * Whether a job may start now, given the waiters ahead of it (`ahead` = how many of the queue
   * come before it). A waiter ahead blocks it unless that waiter is itself blocked only by an
   * async job and this is a query (queries pass during async jobs).
   */
  #grantable(info: JobInfo, ahead: number): boolean {
    if (!compatible(info.kind, this.#active)) return false;
    const passesWaiters = info.kind === "query" && this.#active.some((j) => j.kind === "async");
    for (let i = 0; i < ahead; i++) {
      if (!passesWaiters || this.#queue[i]!.info.kind === "destroy") return false;
    }
    return true;
  }

  #pump(): void {
    for (let i = 0; i < this.#queue.length;) {
      const w = this.#queue[i]!;
      if (this.#grantable(w.info, i)) {
        this.#queue.splice(i, 1);
        this.#settle(w);
        const job = new Job(this, w.info);
        this.#active.push(job);
        w.resolve(job);
        continue;
      }
      i++;
    }
  }

  #settle(w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = undefined;
    w.cleanupAbort?.();
    w.cleanupAbort = undefined;
  }

  #drop(w: Waiter, error: unknown): void {
    const i = this.#queue.indexOf(w);
    if (i < 0) return;
    this.#queue.splice(i, 1);
    this.#settle(w);
    w.reject(error);
    this.#pump();
  }

  #timeoutError(info: JobInfo, timeoutMs: number): VirtError {
    const holders = this.#active.map((j) => j.info);
    const holder = holders[0];
    const values = { object: this.object, owner: info.owner };
    const details = {
      waitedMs: timeoutMs,
      holders: holders.map((h) => ({ kind: h.kind, owner: h.owner, heldMs: Date.now() - h.since })),
    };
    if (holder === undefined) return new VirtError("JOB_LOCK_TIMEOUT_QUEUED", {}, details);
    const label = holder.kind === "async" ? `async job=${holder.owner}` : `monitor=${holder.owner}`;
    return new VirtError("JOB_LOCK_TIMEOUT", { ...values, holder: label }, details);
  }
}
