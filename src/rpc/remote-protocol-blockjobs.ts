/**
 * Wire shapes of the block job procedures and events (remote_protocol.x): block commit, pull,
 * rebase, copy, resize, job info, abort and speed, and the BLOCK_JOB / BLOCK_JOB_2 events.
 * Kept beside remote-protocol.ts (same conventions) so the big table stays untouched.
 */
import { array, int, struct, uhyper, uint, VOID, type Codec } from "./codec.ts";
import { Program } from "./protocol.ts";
import { nonnullDomain, nstring, ostring, typedParam, type MsgDef, type ProcDef } from "./remote-protocol.ts";

function remote<A, R>(num: number, name: string, args: Codec<A>, ret: Codec<R>): ProcDef<A, R> {
  return { prog: Program.REMOTE, num, name, args, ret };
}

function message<M>(num: number, name: string, msg: Codec<M>): MsgDef<M> {
  return { prog: Program.REMOTE, num, name, msg };
}

/** REMOTE_DOMAIN_BLOCK_COPY_PARAMETERS_MAX */
const BLOCK_COPY_PARAMETERS_MAX = 16;
const pathArgs = struct({ dom: nonnullDomain, path: nstring, flags: uint });

export const BlockJobProc = {
  domainBlockJobAbort: remote(237, "DOMAIN_BLOCK_JOB_ABORT", pathArgs, VOID),
  domainGetBlockJobInfo: remote(
    238,
    "DOMAIN_GET_BLOCK_JOB_INFO",
    pathArgs,
    struct({ found: int, type: int, bandwidth: uhyper, cur: uhyper, end: uhyper }),
  ),
  domainBlockJobSetSpeed: remote(
    239,
    "DOMAIN_BLOCK_JOB_SET_SPEED",
    struct({ dom: nonnullDomain, path: nstring, bandwidth: uhyper, flags: uint }),
    VOID,
  ),
  domainBlockPull: remote(
    240,
    "DOMAIN_BLOCK_PULL",
    struct({ dom: nonnullDomain, path: nstring, bandwidth: uhyper, flags: uint }),
    VOID,
  ),
  domainBlockResize: remote(
    251,
    "DOMAIN_BLOCK_RESIZE",
    struct({ dom: nonnullDomain, disk: nstring, size: uhyper, flags: uint }),
    VOID,
  ),
  domainBlockRebase: remote(
    266,
    "DOMAIN_BLOCK_REBASE",
    struct({ dom: nonnullDomain, path: nstring, base: ostring, bandwidth: uhyper, flags: uint }),
    VOID,
  ),
  domainBlockCommit: remote(
    290,
    "DOMAIN_BLOCK_COMMIT",
    struct({
      dom: nonnullDomain,
      disk: nstring,
      base: ostring,
      top: ostring,
      bandwidth: uhyper,
      flags: uint,
    }),
    VOID,
  ),
  domainBlockCopy: remote(
    345,
    "DOMAIN_BLOCK_COPY",
    struct({
      dom: nonnullDomain,
      path: nstring,
      destxml: nstring,
      params: array(typedParam, BLOCK_COPY_PARAMETERS_MAX),
      flags: uint,
    }),
    VOID,
  ),
};

const blockJobMsg = struct({ dom: nonnullDomain, path: nstring, type: int, status: int });

export const BlockJobMsg = {
  /** remote_domain_event_block_job_msg (legacy registration) */
  blockJob: message(241, "DOMAIN_EVENT_BLOCK_JOB", blockJobMsg),
  /** remote_domain_event_callback_block_job_msg */
  callbackBlockJob: message(
    326,
    "DOMAIN_EVENT_CALLBACK_BLOCK_JOB",
    struct({ callbackID: int, msg: blockJobMsg }),
  ),
  /** remote_domain_event_block_job_2_msg */
  blockJob2: message(
    339,
    "DOMAIN_EVENT_BLOCK_JOB_2",
    struct({ callbackID: int, dom: nonnullDomain, dst: nstring, type: int, status: int }),
  ),
};
