/**
 * Block jobs as library functions on a `Domain` (libvirt's virDomainBlockCommit,
 * virDomainBlockPull, virDomainBlockRebase, virDomainBlockCopy, virDomainBlockResize,
 * virDomainGetBlockJobInfo, virDomainBlockJobAbort, virDomainBlockJobSetSpeed): each goes through
 * `Connection.invoke`, so read-only refusal and "not supported" come out as for every other call.
 * `disk` is a disk's target (`vda`) or its source path.
 */
import type { BlockJobInfo, TypedParameter } from "../drivers/driver.ts";
import { DomainEventId } from "../drivers/enums.ts";
import type { Domain } from "./connection.ts";

export type { BlockJobInfo, TypedParameter };
export {
  DomainBlockJobStatus,
  DomainBlockJobType,
  DomainBlockJobAbortFlags,
  DomainBlockCommitFlags,
  DomainBlockCopyFlags,
  DomainBlockRebaseFlags,
  DomainBlockPullFlags,
  DomainBlockResizeFlags,
} from "../drivers/enums.ts";

/** The domain event ids of block jobs (BLOCK_JOB names the disk by path, BLOCK_JOB_2 by target). */
export const BLOCK_JOB_EVENT_IDS = [DomainEventId.BLOCK_JOB, DomainEventId.BLOCK_JOB_2] as const;

/** virDomainGetBlockJobInfo: null when the disk has no job (libvirt's return value 0). */
export function domainGetBlockJobInfo(dom: Domain, disk: string, flags = 0): Promise<BlockJobInfo | null> {
  return dom.connection.invoke("virDomainGetBlockJobInfo", false, (d) =>
    d.domainGetBlockJobInfo?.(dom.ref(), disk, flags),
  );
}

/** virDomainBlockJobAbort (ASYNC 1, PIVOT 2) */
export async function domainBlockJobAbort(dom: Domain, disk: string, flags = 0): Promise<void> {
  await dom.connection.invoke("virDomainBlockJobAbort", true, (d) =>
    d.domainBlockJobAbort?.(dom.ref(), disk, flags),
  );
}

/** virDomainBlockJobSetSpeed: MiB/s, or bytes/s with flag 1. */
export async function domainBlockJobSetSpeed(
  dom: Domain,
  disk: string,
  bandwidth: bigint,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainBlockJobSetSpeed", true, (d) =>
    d.domainBlockJobSetSpeed?.(dom.ref(), disk, bandwidth, flags),
  );
}

/** virDomainBlockPull */
export async function domainBlockPull(dom: Domain, disk: string, bandwidth = 0n, flags = 0): Promise<void> {
  await dom.connection.invoke("virDomainBlockPull", true, (d) =>
    d.domainBlockPull?.(dom.ref(), disk, bandwidth, flags),
  );
}

/** virDomainBlockRebase: a pull down to `base`, or with the COPY flag a copy to `base`. */
export async function domainBlockRebase(
  dom: Domain,
  disk: string,
  base: string | null,
  bandwidth = 0n,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainBlockRebase", true, (d) =>
    d.domainBlockRebase?.(dom.ref(), disk, base, bandwidth, flags),
  );
}

/** virDomainBlockCopy: `destxml` a `<disk>` element; params `bandwidth`, `granularity`, `buf-size`. */
export async function domainBlockCopy(
  dom: Domain,
  disk: string,
  destxml: string,
  params: TypedParameter[] = [],
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainBlockCopy", true, (d) =>
    d.domainBlockCopy?.(dom.ref(), disk, destxml, params, flags),
  );
}

/** virDomainBlockCommit */
export async function domainBlockCommit(
  dom: Domain,
  disk: string,
  base: string | null,
  top: string | null,
  bandwidth = 0n,
  flags = 0,
): Promise<void> {
  await dom.connection.invoke("virDomainBlockCommit", true, (d) =>
    d.domainBlockCommit?.(dom.ref(), disk, base, top, bandwidth, flags),
  );
}

/** virDomainBlockResize: KiB, or bytes with flag 1 (BYTES). */
export async function domainBlockResize(dom: Domain, disk: string, size: bigint, flags = 0): Promise<void> {
  await dom.connection.invoke("virDomainBlockResize", true, (d) =>
    d.domainBlockResize?.(dom.ref(), disk, size, flags),
  );
}
