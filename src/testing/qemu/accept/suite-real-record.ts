/**
 * The last recorded result of `suite-accepts.qemu.test.ts` (how many of libvirt's suite cases
 * start paused on the installed QEMU), checked in beside this file so that docs/conformance.md
 * can show it without starting QEMU: `npm run conformance` is text only and must stay fast.
 * The test rewrites the record with `TVIRT_SUITE_RECORD=1`.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const REAL_QEMU_RECORD = new URL("./suite-real-qemu.json", import.meta.url).pathname;

export interface RealQemuRecord {
  /** The QEMU it ran on, `7.2.22`. */
  readonly qemu: string;
  /** Cases libvirt accepts with x86_64-latest. */
  readonly accepted: number;
  /** Cases started (the deterministic subset, or all). */
  readonly run: number;
  /** Of those, started cleanly: paused, QMP answered, quit. */
  readonly started: number;
}

export function readRealQemuRecord(file = REAL_QEMU_RECORD): RealQemuRecord | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as RealQemuRecord;
}

export function writeRealQemuRecord(r: RealQemuRecord, file = REAL_QEMU_RECORD): void {
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
}

/** The section of docs/conformance.md; empty without a record. */
export function realQemuDocSection(r: RealQemuRecord | undefined): string {
  if (r === undefined) return "";
  return (
    "\n### Starts on real QEMU\n\n" +
    `Built for the installed QEMU ${r.qemu}'s own capabilities and started paused (\`-S\`, TCG), then\n` +
    `quit over QMP (\`src/testing/qemu/accept/suite-accepts.qemu.test.ts\`, last recorded run):\n` +
    `**${r.started}** of ${r.run} cases started cleanly` +
    (r.run < r.accepted ? ` (a deterministic subset of the ${r.accepted} cases libvirt accepts)` : "") +
    ".\n"
  );
}
