/**
 * The wait shared by the event commands (`event`, `net-event`, `pool-event`,
 * `qemu-monitor-event`), as virsh 9.0 does it in each of them: one event and stop, or `--loop`
 * until `--timeout` seconds or Ctrl-C; then "events received: N".
 */
import type { Ctx } from "../context.ts";
import type { OptDef, ParsedCmd } from "../grammar.ts";

/** The options after `--event` that every event command has, in virsh's order. */
export const eventWaitOpts: OptDef[] = [
  { name: "loop", type: "bool", help: "loop until timeout or interrupt, rather than one-shot" },
  { name: "timeout", type: "int", help: "timeout seconds" },
  { name: "list", type: "bool", help: "list valid event types" },
  { name: "timestamp", type: "bool", help: "show timestamp for each printed event" },
];

/**
 * `--list` or `--event <type>` of net-event and pool-event: "listed" when --list printed the
 * names; else the type and its index in `names`; null when it is missing or unknown (reported).
 */
export function chosenEventType(
  ctx: Ctx,
  cmd: ParsedCmd<Ctx>,
  names: string[],
): { id: number; name: string } | "listed" | null {
  if (cmd.bool("list")) {
    for (const n of names) ctx.print(`${n}\n`);
    ctx.emit({ eventTypes: names });
    return "listed";
  }
  const name = ctx.optString(cmd, "event");
  if (name === null) return null;
  if (name === undefined) {
    ctx.fail("either --list or --event <type> is required");
    return null;
  }
  const id = names.indexOf(name);
  if (id < 0) {
    ctx.fail(`unknown event type ${name}`);
    return null;
  }
  return { id, name };
}

/** virTimeStringNowRaw: `2024-01-02 03:04:05.678+0000`. */
export function eventTimestamp(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return (
    `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}+0000`
  );
}

/**
 * `--timeout`: undefined when not given, null when bad (already reported). virsh takes only a
 * positive number; `max` is where a command also bounds it (qemu-monitor-event: INT_MAX/1000).
 */
export function eventTimeout(ctx: Ctx, cmd: ParsedCmd<Ctx>, max?: number): number | undefined | null {
  const timeoutS = ctx.optInt(cmd, "timeout");
  if (timeoutS === null) return null;
  if (timeoutS !== undefined && (timeoutS <= 0 || (max !== undefined && timeoutS > max))) {
    ctx.fail(`Numeric value '${cmd.raw("timeout") ?? ""}' for <timeout> option is malformed or out of range`);
    return null;
  }
  return timeoutS;
}

export type EventWaitEnd = "done" | "timeout" | "interrupt";

/**
 * The count and JSON records of one event command, and the wait for its end. A callback asks
 * `accepts()` first (without --loop, events after the first are dropped), prints, then
 * `record()`s the event.
 */
export class EventWait {
  count = 0;
  readonly received: Record<string, unknown>[] = [];
  private finish: (why: EventWaitEnd) => void = () => undefined;
  private readonly finished = new Promise<EventWaitEnd>((resolve) => {
    this.finish = resolve;
  });

  constructor(private readonly loop: boolean) {}

  accepts(): boolean {
    return this.loop || this.count === 0;
  }

  record(json: Record<string, unknown>): void {
    this.received.push(json);
    this.count++;
    if (!this.loop) this.finish("done");
  }

  /** Wait for the one event, the timeout or Ctrl-C; print and emit the end as virsh does. */
  async wait(ctx: Ctx, timeoutS: number | undefined): Promise<void> {
    const timer =
      timeoutS !== undefined
        ? setTimeout(() => {
            this.finish("timeout");
          }, timeoutS * 1000)
        : undefined;
    const onAbort = (): void => {
      this.finish("interrupt");
    };
    ctx.interrupt.signal.addEventListener("abort", onAbort, { once: true });
    let why: EventWaitEnd;
    try {
      why = await this.finished;
    } finally {
      if (timer) clearTimeout(timer);
      ctx.interrupt.signal.removeEventListener("abort", onAbort);
    }
    if (why === "interrupt") ctx.print("event loop interrupted\n");
    else if (why === "timeout") ctx.print("event loop timed out\n");
    ctx.print(`events received: ${this.count}\n`);
    ctx.emit({ events: this.received, count: this.count, ended: why });
  }
}
