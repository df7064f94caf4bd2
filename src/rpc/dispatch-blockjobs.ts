/**
 * Block job procedures in the server's table (libvirt's remoteDispatchDomainBlock* of the same
 * names), each a call of src/api/blockjobs.ts on the client's connection, and the wire form of
 * the BLOCK_JOB / BLOCK_JOB_2 events.
 */
import { Domain } from "../api/index.ts";
import * as api from "../api/blockjobs.ts";
import type { DomainRef } from "../drivers/driver.ts";
import { DomainEventId } from "../drivers/enums.ts";
import type { CallContext, DispatchEntry } from "./dispatch.ts";
import { BlockJobMsg, BlockJobProc as P } from "./remote-protocol-blockjobs.ts";
import type { ProcDef } from "./remote-protocol.ts";
import type { ServerClient } from "./server.ts";

type Table = Map<string, DispatchEntry>;

function on<A, R>(t: Table, def: ProcDef<A, R>, fn: (ctx: CallContext, args: A) => Promise<R> | R): void {
  t.set(`${def.prog}:${def.num}`, {
    def,
    fn: fn as (ctx: CallContext, args: unknown) => Promise<unknown>,
  });
}

const dom = (ctx: CallContext, ref: DomainRef): Domain =>
  new Domain(ctx.conn(), { name: ref.name, uuid: ref.uuid, id: ref.id });

export function addBlockJobProcedures(t: Table): void {
  on(t, P.domainGetBlockJobInfo, async (ctx, a) => {
    const info = await api.domainGetBlockJobInfo(dom(ctx, a.dom), a.path, a.flags);
    if (!info) return { found: 0, type: 0, bandwidth: 0n, cur: 0n, end: 0n };
    return { found: 1, type: info.type, bandwidth: info.bandwidth, cur: info.cur, end: info.end };
  });
  on(t, P.domainBlockJobAbort, async (ctx, a) => {
    await api.domainBlockJobAbort(dom(ctx, a.dom), a.path, a.flags);
  });
  on(t, P.domainBlockJobSetSpeed, async (ctx, a) => {
    await api.domainBlockJobSetSpeed(dom(ctx, a.dom), a.path, a.bandwidth, a.flags);
  });
  on(t, P.domainBlockPull, async (ctx, a) => {
    await api.domainBlockPull(dom(ctx, a.dom), a.path, a.bandwidth, a.flags);
  });
  on(t, P.domainBlockRebase, async (ctx, a) => {
    await api.domainBlockRebase(dom(ctx, a.dom), a.path, a.base, a.bandwidth, a.flags);
  });
  on(t, P.domainBlockCopy, async (ctx, a) => {
    await api.domainBlockCopy(dom(ctx, a.dom), a.path, a.destxml, a.params, a.flags);
  });
  on(t, P.domainBlockCommit, async (ctx, a) => {
    await api.domainBlockCommit(dom(ctx, a.dom), a.disk, a.base, a.top, a.bandwidth, a.flags);
  });
  on(t, P.domainBlockResize, async (ctx, a) => {
    await api.domainBlockResize(dom(ctx, a.dom), a.disk, a.size, a.flags);
  });
}

type BlockJobEvent = { id: 8 | 16; disk: string; type: number; status: number };

/** The callback-id message of a block job event (BLOCK_JOB carries a path, BLOCK_JOB_2 a target). */
export function sendBlockJobCallbackEvent(
  client: ServerClient,
  callbackID: number,
  d: { name: string; uuid: string; id: number },
  ev: BlockJobEvent,
): void {
  if (ev.id === DomainEventId.BLOCK_JOB)
    client.sendMessage(BlockJobMsg.callbackBlockJob, {
      callbackID,
      msg: { dom: d, path: ev.disk, type: ev.type, status: ev.status },
    });
  else
    client.sendMessage(BlockJobMsg.blockJob2, {
      callbackID,
      dom: d,
      dst: ev.disk,
      type: ev.type,
      status: ev.status,
    });
}

/** The legacy message (only BLOCK_JOB has one). */
export function sendBlockJobLegacyEvent(
  client: ServerClient,
  d: { name: string; uuid: string; id: number },
  ev: BlockJobEvent,
): void {
  if (ev.id === DomainEventId.BLOCK_JOB)
    client.sendMessage(BlockJobMsg.blockJob, { dom: d, path: ev.disk, type: ev.type, status: ev.status });
}
