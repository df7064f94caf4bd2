/**
 * Helpers for the QEMU driver's tests on real QEMU: a temp embed root per test, the tiny guest's
 * XML, a console reader that waits for guest markers, an event recorder, a check that nothing
 * of a domain is left on disk, and a last-resort kill of every QEMU a test started (by pid and
 * start time, never by name).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type ConsoleStream, type DomainEvent, type DomainRef } from "../../drivers/driver.ts";
import { DomainEventId } from "../../drivers/enums.ts";
import { isProcessAlive, readProcStat, waitForProcessExit } from "../../util/spawn.ts";
import { isVirtError } from "../../util/errors/index.ts";
import { guestDomainXML, testGuestOrSkip, type GuestMode } from "../guest/index.ts";
import { driverPaths } from "../../drivers/qemu/paths.ts";
import {
  openQemuConnection,
  type QemuConnection,
  type QemuDriverOptions,
} from "../../drivers/qemu/driver/index.ts";
import { parseStatusXML } from "../../drivers/qemu/driver/status-xml.ts";

/** Capabilities are probed once for all tests (the embed roots are throwaway). */
export const TEST_CAPS_CACHE = join(tmpdir(), "tvirt-test-caps-cache");

export const TEST_DRIVER_OPTIONS: QemuDriverOptions = {
  capsCacheDir: TEST_CAPS_CACHE,
  destroyGraceMs: 3000,
  jobTimeoutMs: 20_000,
};

export interface TestRoot {
  readonly root: string;
  readonly uri: string;
  open(options?: QemuDriverOptions): Promise<QemuConnection>;
  /** Every QEMU pid (with start time) seen under this root. */
  readonly pids: Map<number, number>;
  /** Records the pids of running domains of a connection and of the root's status files. */
  track(conn?: QemuConnection): void;
  /** The pid of a domain from its status file (0 when it has none). */
  pidsOf(name: string): number;
  /** Kills (SIGKILL) every tracked QEMU still alive, then removes the root. */
  cleanup(): Promise<void>;
}

export function makeTestRoot(prefix = "tvirt-qemu-"): TestRoot {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const uri = `qemu:///embed?root=${root}`;
  const pids = new Map<number, number>();
  const paths = driverPaths({ kind: "embed", root });
  const self: TestRoot = {
    root,
    uri,
    pids,
    open: (options) =>
      openQemuConnection({ kind: "embed", root }, uri, { ...TEST_DRIVER_OPTIONS, ...options }),
    track(conn) {
      for (const obj of conn?.driver.domains.all() ?? []) {
        if (obj.run) pids.set(obj.run.pid, obj.run.starttime);
      }
      for (const f of existsSync(paths.stateDir) ? readdirSync(paths.stateDir) : []) {
        if (!f.endsWith(".xml")) continue;
        try {
          const st = parseStatusXML(readFileSync(join(paths.stateDir, f), "utf8"), f);
          pids.set(st.pid, st.starttime);
        } catch {
          // not a status file
        }
      }
    },
    pidsOf(name) {
      try {
        return parseStatusXML(readFileSync(join(paths.stateDir, `${name}.xml`), "utf8"), name).pid;
      } catch {
        return 0;
      }
    },
    async cleanup() {
      self.track();
      for (const [pid, starttime] of pids) {
        if (isProcessAlive(pid, starttime)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // gone meanwhile
          }
          await waitForProcessExit(pid, 5000, starttime);
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  return self;
}

/** The tiny guest's XML for `mode`, or undefined after skipping the test. */
export async function guestXML(
  t: TestContext,
  opts: {
    name: string;
    mode: GuestMode;
    memoryMiB?: number;
    uuid?: string;
    onReboot?: "restart" | "destroy";
  },
): Promise<string | undefined> {
  const g = await testGuestOrSkip(t);
  if (!g) return undefined;
  const xml = guestDomainXML({
    name: opts.name,
    mode: opts.mode,
    kernel: g.kernel,
    initrd: g.initrd,
    ...(opts.memoryMiB !== undefined ? { memoryMiB: opts.memoryMiB } : {}),
    ...(opts.uuid !== undefined ? { uuid: opts.uuid } : {}),
  });
  return opts.onReboot === "restart"
    ? xml.replace("<on_reboot>destroy</on_reboot>", "<on_reboot>restart</on_reboot>")
    : xml;
}

/** Collects console output and waits for patterns in it. */
export class ConsoleReader {
  text = "";
  readonly #stream: ConsoleStream;

  private constructor(stream: ConsoleStream) {
    this.#stream = stream;
    stream.onData((d) => {
      this.text += Buffer.from(d).toString("utf8");
    });
  }

  static async open(conn: QemuConnection, dom: DomainRef): Promise<ConsoleReader> {
    return new ConsoleReader(await conn.domainOpenConsole(dom, null, 0));
  }

  /** Types `text` into the guest's console. */
  write(text: string): void {
    this.#stream.write(Buffer.from(text));
  }

  /** Waits for `re` in output that arrives after `from` (an offset in `text`). */
  async waitFor(re: RegExp, timeoutMs = 20_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m) return m;
      if (Date.now() > deadline)
        throw new Error(
          `console: no ${String(re)} within ${timeoutMs} ms; last output: ${JSON.stringify(this.text.slice(-400))}`,
        );
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The COUNTER values printed after `from`. */
  counters(from = 0): number[] {
    return [...this.text.slice(from).matchAll(/COUNTER (\d+)/g)].map((m) => Number(m[1]));
  }

  close(): Promise<void> {
    return this.#stream.close();
  }
}

/** Records lifecycle events as `[event, detail]` pairs (and reboot events as `reboot`). */
export async function recordEvents(
  conn: QemuConnection,
): Promise<{ events: (readonly [number, number] | "reboot")[]; names: string[] }> {
  const rec = { events: [] as (readonly [number, number] | "reboot")[], names: [] as string[] };
  const push = (d: DomainRef, e: DomainEvent): void => {
    if (e.id === DomainEventId.LIFECYCLE) rec.events.push([e.event, e.detail] as const);
    else if (e.id === DomainEventId.REBOOT) rec.events.push("reboot");
    rec.names.push(d.name);
  };
  await conn.connectDomainEventRegisterAny(null, DomainEventId.LIFECYCLE, push);
  await conn.connectDomainEventRegisterAny(null, DomainEventId.REBOOT, push);
  return rec;
}

/** Waits until `check` holds (polling). */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 25));
  }
}

/** What a domain left on disk in the root besides its config and log (should be nothing when inactive). */
export function runtimeLeftovers(root: string, name: string): string[] {
  const paths = driverPaths({ kind: "embed", root });
  const out: string[] = [];
  if (existsSync(join(paths.stateDir, `${name}.xml`))) out.push(`status ${name}.xml`);
  if (existsSync(join(paths.stateDir, `${name}.pid`))) out.push(`pidfile ${name}.pid`);
  for (const d of existsSync(paths.libDir) ? readdirSync(paths.libDir) : []) {
    if (d.startsWith("domain-") && d.endsWith(`-${name}`)) out.push(`runtime dir ${d}`);
  }
  return out;
}

/** QEMU processes (pids) whose command line names this root. */
export function qemuProcessesOf(root: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      const st = readProcStat(Number(p));
      if (st && st.state !== "Z" && cmd.startsWith("/usr/bin/qemu-system") && cmd.includes(root))
        out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

/** Asserts that `p` fails with a VirtError of `code` (and, if given, a message matching `text`). */
export async function rejects(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isVirtError(e), `a VirtError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (text) assert.match(e.message, text);
    return true;
  });
}
