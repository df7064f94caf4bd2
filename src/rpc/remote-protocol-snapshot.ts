/**
 * Wire shapes of the domain snapshot procedures (remote_protocol.x): a snapshot travels as
 * `remote_nonnull_domain_snapshot` (its name, then its domain). Kept beside remote-protocol.ts
 * (same conventions) so the big table stays untouched by this work. DOMAIN_SNAPSHOT_NUM and
 * DOMAIN_SNAPSHOT_LIST_NAMES stay in remote-protocol.ts where they were.
 */
import { array, int, intBool, struct, uint, VOID, type Codec, type StructType } from "./codec.ts";
import { Program } from "./protocol.ts";
import { nonnullDomain, nstring, type ProcDef } from "./remote-protocol.ts";

function remote<A, R>(num: number, name: string, args: Codec<A>, ret: Codec<R>): ProcDef<A, R> {
  return { prog: Program.REMOTE, num, name, args, ret };
}

/** REMOTE_DOMAIN_SNAPSHOT_LIST_MAX */
export const SNAPSHOT_LIST_MAX = 16384;

/** `remote_nonnull_domain_snapshot` */
export const nonnullSnapshot = struct({ name: nstring, dom: nonnullDomain });
export type WireSnapshot = StructType<{ name: typeof nstring; dom: typeof nonnullDomain }>;

const snapFlags = struct({ snap: nonnullSnapshot, flags: uint });
const domFlags = struct({ dom: nonnullDomain, flags: uint });
const snapRet = struct({ snap: nonnullSnapshot });
const snapList = struct({ snapshots: array(nonnullSnapshot, SNAPSHOT_LIST_MAX), ret: int });

export const SnapshotProc = {
  createXML: remote(
    185,
    "DOMAIN_SNAPSHOT_CREATE_XML",
    struct({ dom: nonnullDomain, xml_desc: nstring, flags: uint }),
    snapRet,
  ),
  getXMLDesc: remote(186, "DOMAIN_SNAPSHOT_GET_XML_DESC", snapFlags, struct({ xml: nstring })),
  lookupByName: remote(
    189,
    "DOMAIN_SNAPSHOT_LOOKUP_BY_NAME",
    struct({ dom: nonnullDomain, name: nstring, flags: uint }),
    snapRet,
  ),
  hasCurrent: remote(190, "DOMAIN_HAS_CURRENT_SNAPSHOT", domFlags, struct({ result: intBool })),
  current: remote(191, "DOMAIN_SNAPSHOT_CURRENT", domFlags, snapRet),
  revert: remote(192, "DOMAIN_REVERT_TO_SNAPSHOT", snapFlags, VOID),
  delete: remote(193, "DOMAIN_SNAPSHOT_DELETE", snapFlags, VOID),
  getParent: remote(244, "DOMAIN_SNAPSHOT_GET_PARENT", snapFlags, snapRet),
  numChildren: remote(246, "DOMAIN_SNAPSHOT_NUM_CHILDREN", snapFlags, struct({ num: int })),
  listChildrenNames: remote(
    247,
    "DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES",
    struct({ snap: nonnullSnapshot, maxnames: int, flags: uint }),
    struct({ names: array(nstring, SNAPSHOT_LIST_MAX) }),
  ),
  isCurrent: remote(271, "DOMAIN_SNAPSHOT_IS_CURRENT", snapFlags, struct({ current: intBool })),
  hasMetadata: remote(272, "DOMAIN_SNAPSHOT_HAS_METADATA", snapFlags, struct({ metadata: intBool })),
  listAll: remote(
    274,
    "DOMAIN_LIST_ALL_SNAPSHOTS",
    struct({ dom: nonnullDomain, need_results: int, flags: uint }),
    snapList,
  ),
  listAllChildren: remote(
    275,
    "DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN",
    struct({ snapshot: nonnullSnapshot, need_results: int, flags: uint }),
    snapList,
  ),
} as const;
