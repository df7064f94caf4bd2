/**
 * A stack of undo actions: every resource the acceptance harness creates (temp dir, mount,
 * hugepage reservation, network namespace, process) registers how to release it, and
 * `release()` runs them newest first, even when some fail, then reports every failure.
 */
export class Cleanup {
  private readonly actions: { what: string; undo: () => void | Promise<void> }[] = [];

  /** Registers an undo action; `what` names it in error reports. */
  defer(what: string, undo: () => void | Promise<void>): void {
    this.actions.push({ what, undo });
  }

  /** Runs every action, newest first. Throws an AggregateError naming what failed. */
  async release(): Promise<void> {
    const errors: Error[] = [];
    for (let a = this.actions.pop(); a !== undefined; a = this.actions.pop()) {
      try {
        await a.undo();
      } catch (e) {
        errors.push(
          new Error(`cleanup of ${a.what} failed: ${e instanceof Error ? e.message : String(e)}`, {
            cause: e,
          }),
        );
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join("; "));
  }

  get size(): number {
    return this.actions.length;
  }
}
