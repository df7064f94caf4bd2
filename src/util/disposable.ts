/**
 * Ownership of resources (VS Code's `Disposable` pattern): every socket, child process watcher,
 * timer and file watcher belongs to an owner (a domain object, a connection, a driver), which
 * releases all of them in one call. A store releases in reverse order of adding, keeps going when
 * one release fails, and reports every failure together.
 *
 * A store is also an undo stack: each step of a multi-step operation adds the release of what it
 * made; on failure `dispose()` undoes the steps newest first, on success `forgetAll()` keeps them.
 */

/** Something that holds a resource until `dispose()`. `dispose()` must be idempotent. */
export interface IDisposable {
  dispose(): void | Promise<void>;
}

/** Wraps a release function; the function runs at most once. */
export function toDisposable(release: () => void | Promise<void>): IDisposable {
  let done = false;
  return {
    dispose(): void | Promise<void> {
      if (done) return;
      done = true;
      return release();
    },
  };
}

/**
 * A set of disposables released together. Adding to a store that is already disposed releases
 * the new item at once (its owner is gone), so late resources cannot leak.
 */
export class DisposableStore implements IDisposable {
  readonly #items: IDisposable[] = [];
  #disposed = false;
  #disposing: Promise<void> | undefined;

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Number of resources currently held. */
  get size(): number {
    return this.#items.length;
  }

  /** Takes ownership of `item` and returns it. */
  add<T extends IDisposable>(item: T): T {
    if (this.#disposed) {
      void Promise.resolve()
        .then(() => item.dispose())
        .catch(() => undefined);
      return item;
    }
    this.#items.push(item);
    return item;
  }

  /** Takes ownership of a release function. */
  addFn(release: () => void | Promise<void>): IDisposable {
    return this.add(toDisposable(release));
  }

  /** Gives up ownership of `item` without releasing it (its new owner releases it). */
  delete(item: IDisposable): void {
    const i = this.#items.indexOf(item);
    if (i >= 0) this.#items.splice(i, 1);
  }

  /**
   * Gives up ownership of everything without releasing it. An undo stack uses this when its
   * operation succeeded: what the operation made is kept, the store holds nothing afterwards
   * and stays usable.
   */
  forgetAll(): void {
    this.#items.splice(0);
  }

  /** Releases one item now and forgets it. */
  async release(item: IDisposable): Promise<void> {
    this.delete(item);
    await item.dispose();
  }

  /**
   * Releases everything, newest first. Every item is released even when some fail; the
   * failures are thrown together afterwards (to the first caller). Idempotent: later calls
   * wait for the first and resolve.
   */
  dispose(): Promise<void> {
    if (this.#disposing) return this.#disposing.catch(() => undefined);
    this.#disposing = this.#disposeAll();
    return this.#disposing;
  }

  async #disposeAll(): Promise<void> {
    this.#disposed = true;
    const errors: unknown[] = [];
    while (this.#items.length > 0) {
      const item = this.#items.pop()!;
      try {
        await item.dispose();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} resources failed to release`);
  }
}

/** A one-shot timer owned like any other resource. Unref'd: it never keeps the process alive. */
export function disposableTimeout(callback: () => void, ms: number): IDisposable {
  const timer = setTimeout(callback, ms);
  timer.unref();
  return toDisposable(() => {
    clearTimeout(timer);
  });
}

/** A repeating timer owned like any other resource. Unref'd. */
export function disposableInterval(callback: () => void, ms: number): IDisposable {
  const timer = setInterval(callback, ms);
  timer.unref();
  return toDisposable(() => {
    clearInterval(timer);
  });
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. Leaves no timer behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
