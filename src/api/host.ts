/**
 * Host readiness (`tvirt-host-validate`) for library users: the same checks the command prints,
 * as data. See `host/validate.ts` for what is checked and how.
 */
import {
  evaluateHost,
  formatCheck,
  gatherValidateFacts,
  overallResult,
  type CheckResult,
  type GatherOptions,
  type HostCheck,
  type HostValidateFacts,
} from "../host/validate.ts";

export type { CheckResult, GatherOptions, HostCheck, HostValidateFacts };
export { formatCheck };

export interface HostValidation {
  /** FAIL when any check failed, WARN when any warned, else PASS. */
  readonly result: CheckResult;
  readonly checks: readonly HostCheck[];
  /** What the checks were made from. */
  readonly facts: HostValidateFacts;
}

/** Checks this host (or a fake root's tree) the way `tvirt-host-validate` does. */
export async function validateHost(opts: GatherOptions = {}): Promise<HostValidation> {
  const facts = await gatherValidateFacts(opts);
  const checks = evaluateHost(facts);
  return { result: overallResult(checks), checks, facts };
}

export type { HugepageAdvice, HugepagePool, HugepageReport } from "../host/hugepage-report.ts";
/**
 * The huge page report of the host this process runs on (or a fake root), like
 * `hugeadm --explain`: mounts, pools per size and node, and advice. Local only: it reads this
 * machine's /proc and /sys, whatever a connection points at.
 */
export { hugepageReport, pageSizeText } from "../host/hugepage-report.ts";
