/**
 * The wire shapes of the procedures tvirt speaks, declared once for both ends: each entry is
 * the procedure number with its `_args` and `_ret` structs exactly as `remote_protocol.x` /
 * `qemu_protocol.x` declare them (field order and widths: `char`/`short` scalars are 4-byte
 * words, `hyper` 8 bytes). Event messages are declared the same way, with their `_msg` struct.
 */
import {
  array,
  charArray,
  double,
  fixedCharArray,
  hyper,
  int,
  intBool,
  mapped,
  optional,
  string,
  struct,
  uhyper,
  uint,
  uuid,
  varOpaque,
  VOID,
  type Codec,
} from "./codec.ts";
import { ListMax, Limits, Program, QemuProc, RemoteProc, TypedParamType } from "./protocol.ts";
import { XdrError } from "./xdr.ts";

// ---------------------------------------------------------------------------------------------
// Shared types
// ---------------------------------------------------------------------------------------------

/** `remote_nonnull_string` */
export const nstring = string(Limits.STRING_MAX);
/** `remote_string` */
export const ostring = optional(nstring);

/** `remote_nonnull_domain`: name, UUID, id (-1 while inactive). */
export const nonnullDomain = struct({ name: nstring, uuid, id: int });
/** `remote_domain` */
export const optDomain = optional(nonnullDomain);
/** `remote_nonnull_network` */
export const nonnullNetwork = struct({ name: nstring, uuid });
/** `remote_nonnull_storage_pool` */
export const nonnullStoragePool = struct({ name: nstring, uuid });
/** `remote_nonnull_storage_vol`: the pool's name, the volume's name and key. */
export const nonnullStorageVol = struct({ pool: nstring, name: nstring, key: nstring });
/** `remote_nonnull_secret`: UUID, usage type, usage id. */
export const nonnullSecret = struct({ uuid, usageType: int, usageID: nstring });
/** REMOTE_SECRET_LIST_MAX, REMOTE_SECRET_VALUE_MAX */
const SECRET_LIST_MAX = 16384;
const SECRET_VALUE_MAX = 65536;
const secretArgs = struct({ secret: nonnullSecret });
const secretRet = struct({ secret: nonnullSecret });
/** `remote_nonnull_network_port` */
export const nonnullNetworkPort = struct({ net: nonnullNetwork, uuid });

/** `remote_error` (= `virNetMessageError`). */
export const remoteError = struct({
  code: int,
  domain: int,
  message: ostring,
  level: int,
  dom: optDomain,
  str1: ostring,
  str2: ostring,
  str3: ostring,
  int1: int,
  int2: int,
  net: optional(nonnullNetwork),
});
export type RemoteErrorPayload = ReturnType<typeof remoteError.dec>;

/** A number carried as `unsigned hyper` (KiB counts stay far below 2^53). */
const uhyperNum = mapped(
  uhyper,
  (b) => Number(b),
  (n: number) => BigInt(n),
);

/** `remote_typed_param`: a name and a value discriminated by `virTypedParameterType`. */
export type TypedParamValue =
  | { type: typeof TypedParamType.INT; value: number }
  | { type: typeof TypedParamType.UINT; value: number }
  | { type: typeof TypedParamType.LLONG; value: bigint }
  | { type: typeof TypedParamType.ULLONG; value: bigint }
  | { type: typeof TypedParamType.DOUBLE; value: number }
  | { type: typeof TypedParamType.BOOLEAN; value: boolean }
  | { type: typeof TypedParamType.STRING; value: string };
export interface TypedParam {
  field: string;
  value: TypedParamValue;
}

const typedParamValue: Codec<TypedParamValue> = {
  enc(w, v) {
    w.int(v.type);
    switch (v.type) {
      case TypedParamType.INT:
        w.int(v.value);
        break;
      case TypedParamType.UINT:
        w.uint(v.value);
        break;
      case TypedParamType.LLONG:
        w.hyper(v.value);
        break;
      case TypedParamType.ULLONG:
        w.uhyper(v.value);
        break;
      case TypedParamType.DOUBLE:
        w.double(v.value);
        break;
      case TypedParamType.BOOLEAN:
        w.int(v.value ? 1 : 0);
        break;
      case TypedParamType.STRING:
        w.string(v.value, Limits.STRING_MAX);
        break;
    }
  },
  dec(r) {
    const type = r.int();
    switch (type) {
      case TypedParamType.INT:
        return { type, value: r.int() };
      case TypedParamType.UINT:
        return { type, value: r.uint() };
      case TypedParamType.LLONG:
        return { type, value: r.hyper() };
      case TypedParamType.ULLONG:
        return { type, value: r.uhyper() };
      case TypedParamType.DOUBLE:
        return { type, value: double.dec(r) };
      case TypedParamType.BOOLEAN:
        return { type, value: r.int() !== 0 };
      case TypedParamType.STRING:
        return { type, value: r.string(Limits.STRING_MAX) };
      default:
        throw new XdrError(`bad typed parameter type ${type}`);
    }
  },
  min: 8,
};
export const typedParam: Codec<TypedParam> = struct({ field: nstring, value: typedParamValue });

// ---------------------------------------------------------------------------------------------
// Procedures
// ---------------------------------------------------------------------------------------------

export interface ProcDef<A, R> {
  readonly prog: number;
  readonly num: number;
  readonly name: string;
  readonly args: Codec<A>;
  readonly ret: Codec<R>;
}
export type ProcArgs<P> = P extends ProcDef<infer A, unknown> ? A : never;
export type ProcRet<P> = P extends ProcDef<unknown, infer R> ? R : never;

function remote<A, R>(num: number, name: string, args: Codec<A>, ret: Codec<R>): ProcDef<A, R> {
  return { prog: Program.REMOTE, num, name, args, ret };
}

const domArgs = struct({ dom: nonnullDomain });
const domFlags = struct({ dom: nonnullDomain, flags: uint });
const domRet = struct({ dom: nonnullDomain });
const P = RemoteProc;

// networks
const netArgs = struct({ net: nonnullNetwork });
const netRet = struct({ net: nonnullNetwork });
/** `remote_network_dhcp_lease` */
const dhcpLease = struct({
  iface: nstring,
  expirytime: mapped(
    hyper,
    (b) => Number(b),
    (n: number) => BigInt(n),
  ),
  type: int,
  mac: ostring,
  iaid: ostring,
  ipaddr: nstring,
  prefix: uint,
  hostname: ostring,
  clientid: ostring,
});

/** REMOTE_NODE_MAX_CELLS: the longest page and count lists of the node page calls. */
const NODE_MAX_CELLS = 1024;

// storage pools and volumes
const poolArgs = struct({ pool: nonnullStoragePool });
const poolFlags = struct({ pool: nonnullStoragePool, flags: uint });
const poolRet = struct({ pool: nonnullStoragePool });
const volArgs = struct({ vol: nonnullStorageVol });
const volFlags = struct({ vol: nonnullStorageVol, flags: uint });
const volRet = struct({ vol: nonnullStorageVol });
/** `remote_storage_vol_get_info_ret`: `char type` is a 4-byte word. */
const volInfo = struct({ type: int, capacity: uhyperNum, allocation: uhyperNum });
/** `remote_storage_vol_upload_args` = `remote_storage_vol_download_args` */
const volTransfer = struct({ vol: nonnullStorageVol, offset: uhyper, length: uhyper, flags: uint });

export const Proc = {
  // secrets (remote_protocol.x: 139-147, 287, 380-381)
  connectNumOfSecrets: remote(139, "CONNECT_NUM_OF_SECRETS", VOID, struct({ num: int })),
  connectListSecrets: remote(
    140,
    "CONNECT_LIST_SECRETS",
    struct({ maxuuids: int }),
    struct({ uuids: array(nstring, SECRET_LIST_MAX) }),
  ),
  secretLookupByUUID: remote(141, "SECRET_LOOKUP_BY_UUID", struct({ uuid }), secretRet),
  secretDefineXML: remote(142, "SECRET_DEFINE_XML", struct({ xml: nstring, flags: uint }), secretRet),
  secretGetXMLDesc: remote(
    143,
    "SECRET_GET_XML_DESC",
    struct({ secret: nonnullSecret, flags: uint }),
    struct({ xml: nstring }),
  ),
  secretSetValue: remote(
    144,
    "SECRET_SET_VALUE",
    struct({ secret: nonnullSecret, value: varOpaque(SECRET_VALUE_MAX), flags: uint }),
    VOID,
  ),
  secretGetValue: remote(
    145,
    "SECRET_GET_VALUE",
    struct({ secret: nonnullSecret, flags: uint }),
    struct({ value: varOpaque(SECRET_VALUE_MAX) }),
  ),
  secretUndefine: remote(146, "SECRET_UNDEFINE", secretArgs, VOID),
  secretLookupByUsage: remote(
    147,
    "SECRET_LOOKUP_BY_USAGE",
    struct({ usageType: int, usageID: nstring }),
    secretRet,
  ),
  connectListAllSecrets: remote(
    287,
    "CONNECT_LIST_ALL_SECRETS",
    struct({ need_results: int, flags: uint }),
    struct({ secrets: array(nonnullSecret, SECRET_LIST_MAX), ret: uint }),
  ),
  connectSecretEventRegisterAny: remote(
    380,
    "CONNECT_SECRET_EVENT_REGISTER_ANY",
    struct({ eventID: int, secret: optional(nonnullSecret) }),
    struct({ callbackID: int }),
  ),
  connectSecretEventDeregisterAny: remote(
    381,
    "CONNECT_SECRET_EVENT_DEREGISTER_ANY",
    struct({ callbackID: int }),
    VOID,
  ),
  connectOpen: remote(P.CONNECT_OPEN, "CONNECT_OPEN", struct({ name: ostring, flags: uint }), VOID),
  connectClose: remote(P.CONNECT_CLOSE, "CONNECT_CLOSE", VOID, VOID),
  connectGetType: remote(P.CONNECT_GET_TYPE, "CONNECT_GET_TYPE", VOID, struct({ type: nstring })),
  connectGetVersion: remote(P.CONNECT_GET_VERSION, "CONNECT_GET_VERSION", VOID, struct({ hv_ver: uhyper })),
  connectGetLibVersion: remote(
    P.CONNECT_GET_LIB_VERSION,
    "CONNECT_GET_LIB_VERSION",
    VOID,
    struct({ lib_ver: uhyper }),
  ),
  connectGetHostname: remote(
    P.CONNECT_GET_HOSTNAME,
    "CONNECT_GET_HOSTNAME",
    VOID,
    struct({ hostname: nstring }),
  ),
  connectGetURI: remote(P.CONNECT_GET_URI, "CONNECT_GET_URI", VOID, struct({ uri: nstring })),
  connectGetCapabilities: remote(
    P.CONNECT_GET_CAPABILITIES,
    "CONNECT_GET_CAPABILITIES",
    VOID,
    struct({ capabilities: nstring }),
  ),
  connectGetDomainCapabilities: remote(
    P.CONNECT_GET_DOMAIN_CAPABILITIES,
    "CONNECT_GET_DOMAIN_CAPABILITIES",
    struct({ emulatorbin: ostring, arch: ostring, machine: ostring, virttype: ostring, flags: uint }),
    struct({ capabilities: nstring }),
  ),
  connectGetSysinfo: remote(
    P.CONNECT_GET_SYSINFO,
    "CONNECT_GET_SYSINFO",
    struct({ flags: uint }),
    struct({ sysinfo: nstring }),
  ),
  connectGetCpuModelNames: remote(
    P.CONNECT_GET_CPU_MODEL_NAMES,
    "CONNECT_GET_CPU_MODEL_NAMES",
    struct({ arch: nstring, need_results: int, flags: uint }),
    struct({ models: array(nstring, ListMax.CPU_MODELS), ret: int }),
  ),
  connectBaselineCpu: remote(
    P.CONNECT_BASELINE_CPU,
    "CONNECT_BASELINE_CPU",
    struct({ xmlCPUs: array(nstring, ListMax.CPU_BASELINE), flags: uint }),
    struct({ cpu: nstring }),
  ),
  connectCompareCpu: remote(
    P.CONNECT_COMPARE_CPU,
    "CONNECT_COMPARE_CPU",
    struct({ xml: nstring, flags: uint }),
    struct({ result: int }),
  ),
  connectCompareHypervisorCpu: remote(
    P.CONNECT_COMPARE_HYPERVISOR_CPU,
    "CONNECT_COMPARE_HYPERVISOR_CPU",
    struct({
      emulator: ostring,
      arch: ostring,
      machine: ostring,
      virttype: ostring,
      xmlCPU: nstring,
      flags: uint,
    }),
    struct({ result: int }),
  ),
  connectBaselineHypervisorCpu: remote(
    P.CONNECT_BASELINE_HYPERVISOR_CPU,
    "CONNECT_BASELINE_HYPERVISOR_CPU",
    struct({
      emulator: ostring,
      arch: ostring,
      machine: ostring,
      virttype: ostring,
      xmlCPUs: array(nstring, ListMax.CPU_BASELINE),
      flags: uint,
    }),
    struct({ cpu: nstring }),
  ),
  connectGetMaxVcpus: remote(
    P.CONNECT_GET_MAX_VCPUS,
    "CONNECT_GET_MAX_VCPUS",
    struct({ type: ostring }),
    struct({ max_vcpus: int }),
  ),
  connectIsSecure: remote(P.CONNECT_IS_SECURE, "CONNECT_IS_SECURE", VOID, struct({ secure: intBool })),
  connectSupportsFeature: remote(
    P.CONNECT_SUPPORTS_FEATURE,
    "CONNECT_SUPPORTS_FEATURE",
    struct({ feature: int }),
    struct({ supported: int }),
  ),
  authList: remote(P.AUTH_LIST, "AUTH_LIST", VOID, struct({ types: array(int, ListMax.AUTH_TYPE_LIST) })),
  authPolkit: remote(P.AUTH_POLKIT, "AUTH_POLKIT", VOID, struct({ complete: int })),
  connectRegisterCloseCallback: remote(
    P.CONNECT_REGISTER_CLOSE_CALLBACK,
    "CONNECT_REGISTER_CLOSE_CALLBACK",
    VOID,
    VOID,
  ),
  connectUnregisterCloseCallback: remote(
    P.CONNECT_UNREGISTER_CLOSE_CALLBACK,
    "CONNECT_UNREGISTER_CLOSE_CALLBACK",
    VOID,
    VOID,
  ),
  nodeGetInfo: remote(
    P.NODE_GET_INFO,
    "NODE_GET_INFO",
    VOID,
    struct({
      model: fixedCharArray(32),
      memory: uhyperNum,
      cpus: int,
      mhz: int,
      nodes: int,
      sockets: int,
      cores: int,
      threads: int,
    }),
  ),
  nodeGetFreeMemory: remote(
    P.NODE_GET_FREE_MEMORY,
    "NODE_GET_FREE_MEMORY",
    VOID,
    struct({ freeMem: uhyper }),
  ),
  nodeGetFreePages: remote(
    P.NODE_GET_FREE_PAGES,
    "NODE_GET_FREE_PAGES",
    struct({ pages: array(uint, NODE_MAX_CELLS), startCell: int, cellCount: uint, flags: uint }),
    struct({ counts: array(uhyper, NODE_MAX_CELLS) }),
  ),
  nodeAllocPages: remote(
    P.NODE_ALLOC_PAGES,
    "NODE_ALLOC_PAGES",
    struct({
      pageSizes: array(uint, NODE_MAX_CELLS),
      pageCounts: array(uhyper, NODE_MAX_CELLS),
      startCell: int,
      cellCount: uint,
      flags: uint,
    }),
    struct({ ret: int }),
  ),
  nodeGetSecurityModel: remote(
    P.NODE_GET_SECURITY_MODEL,
    "NODE_GET_SECURITY_MODEL",
    VOID,
    struct({ model: charArray(ListMax.SECURITY_MODEL), doi: charArray(ListMax.SECURITY_DOI) }),
  ),

  connectListAllDomains: remote(
    P.CONNECT_LIST_ALL_DOMAINS,
    "CONNECT_LIST_ALL_DOMAINS",
    struct({ need_results: int, flags: uint }),
    struct({ domains: array(nonnullDomain, ListMax.DOMAIN_LIST), ret: uint }),
  ),
  connectNumOfDomains: remote(P.CONNECT_NUM_OF_DOMAINS, "CONNECT_NUM_OF_DOMAINS", VOID, struct({ num: int })),
  connectListDomains: remote(
    P.CONNECT_LIST_DOMAINS,
    "CONNECT_LIST_DOMAINS",
    struct({ maxids: int }),
    struct({ ids: array(int, ListMax.DOMAIN_LIST) }),
  ),
  connectNumOfDefinedDomains: remote(
    P.CONNECT_NUM_OF_DEFINED_DOMAINS,
    "CONNECT_NUM_OF_DEFINED_DOMAINS",
    VOID,
    struct({ num: int }),
  ),
  connectListDefinedDomains: remote(
    P.CONNECT_LIST_DEFINED_DOMAINS,
    "CONNECT_LIST_DEFINED_DOMAINS",
    struct({ maxnames: int }),
    struct({ names: array(nstring, ListMax.DOMAIN_LIST) }),
  ),

  domainLookupByID: remote(P.DOMAIN_LOOKUP_BY_ID, "DOMAIN_LOOKUP_BY_ID", struct({ id: int }), domRet),
  domainLookupByName: remote(
    P.DOMAIN_LOOKUP_BY_NAME,
    "DOMAIN_LOOKUP_BY_NAME",
    struct({ name: nstring }),
    domRet,
  ),
  domainLookupByUUID: remote(P.DOMAIN_LOOKUP_BY_UUID, "DOMAIN_LOOKUP_BY_UUID", struct({ uuid }), domRet),

  domainDefineXML: remote(P.DOMAIN_DEFINE_XML, "DOMAIN_DEFINE_XML", struct({ xml: nstring }), domRet),
  domainDefineXMLFlags: remote(
    P.DOMAIN_DEFINE_XML_FLAGS,
    "DOMAIN_DEFINE_XML_FLAGS",
    struct({ xml: nstring, flags: uint }),
    domRet,
  ),
  domainUndefine: remote(P.DOMAIN_UNDEFINE, "DOMAIN_UNDEFINE", domArgs, VOID),
  domainUndefineFlags: remote(P.DOMAIN_UNDEFINE_FLAGS, "DOMAIN_UNDEFINE_FLAGS", domFlags, VOID),
  domainCreateXML: remote(
    P.DOMAIN_CREATE_XML,
    "DOMAIN_CREATE_XML",
    struct({ xml_desc: nstring, flags: uint }),
    domRet,
  ),
  domainCreate: remote(P.DOMAIN_CREATE, "DOMAIN_CREATE", domArgs, VOID),
  domainCreateWithFlags: remote(P.DOMAIN_CREATE_WITH_FLAGS, "DOMAIN_CREATE_WITH_FLAGS", domFlags, domRet),
  domainShutdown: remote(P.DOMAIN_SHUTDOWN, "DOMAIN_SHUTDOWN", domArgs, VOID),
  domainShutdownFlags: remote(P.DOMAIN_SHUTDOWN_FLAGS, "DOMAIN_SHUTDOWN_FLAGS", domFlags, VOID),
  domainReboot: remote(P.DOMAIN_REBOOT, "DOMAIN_REBOOT", domFlags, VOID),
  domainReset: remote(P.DOMAIN_RESET, "DOMAIN_RESET", domFlags, VOID),
  domainDestroy: remote(P.DOMAIN_DESTROY, "DOMAIN_DESTROY", domArgs, VOID),
  domainDestroyFlags: remote(P.DOMAIN_DESTROY_FLAGS, "DOMAIN_DESTROY_FLAGS", domFlags, VOID),
  domainSuspend: remote(P.DOMAIN_SUSPEND, "DOMAIN_SUSPEND", domArgs, VOID),
  domainResume: remote(P.DOMAIN_RESUME, "DOMAIN_RESUME", domArgs, VOID),
  domainSave: remote(P.DOMAIN_SAVE, "DOMAIN_SAVE", struct({ dom: nonnullDomain, to: nstring }), VOID),
  domainSaveFlags: remote(
    P.DOMAIN_SAVE_FLAGS,
    "DOMAIN_SAVE_FLAGS",
    struct({ dom: nonnullDomain, to: nstring, dxml: ostring, flags: uint }),
    VOID,
  ),
  domainSaveParams: remote(
    P.DOMAIN_SAVE_PARAMS,
    "DOMAIN_SAVE_PARAMS",
    struct({ dom: nonnullDomain, params: array(typedParam, ListMax.SAVE_PARAMS), flags: uint }),
    VOID,
  ),
  // migration (v3 with typed parameters)
  domainMigrateBegin3Params: remote(
    P.DOMAIN_MIGRATE_BEGIN3_PARAMS,
    "DOMAIN_MIGRATE_BEGIN3_PARAMS",
    struct({ dom: nonnullDomain, params: array(typedParam, ListMax.MIGRATE_PARAMS), flags: uint }),
    struct({ cookie_out: varOpaque(ListMax.MIGRATE_COOKIE), xml: nstring }),
  ),
  domainMigratePrepare3Params: remote(
    P.DOMAIN_MIGRATE_PREPARE3_PARAMS,
    "DOMAIN_MIGRATE_PREPARE3_PARAMS",
    struct({
      params: array(typedParam, ListMax.MIGRATE_PARAMS),
      cookie_in: varOpaque(ListMax.MIGRATE_COOKIE),
      flags: uint,
    }),
    struct({ cookie_out: varOpaque(ListMax.MIGRATE_COOKIE), uri_out: ostring }),
  ),
  domainMigratePerform3Params: remote(
    P.DOMAIN_MIGRATE_PERFORM3_PARAMS,
    "DOMAIN_MIGRATE_PERFORM3_PARAMS",
    struct({
      dom: nonnullDomain,
      dconnuri: ostring,
      params: array(typedParam, ListMax.MIGRATE_PARAMS),
      cookie_in: varOpaque(ListMax.MIGRATE_COOKIE),
      flags: uint,
    }),
    struct({ cookie_out: varOpaque(ListMax.MIGRATE_COOKIE) }),
  ),
  domainMigrateFinish3Params: remote(
    P.DOMAIN_MIGRATE_FINISH3_PARAMS,
    "DOMAIN_MIGRATE_FINISH3_PARAMS",
    struct({
      params: array(typedParam, ListMax.MIGRATE_PARAMS),
      cookie_in: varOpaque(ListMax.MIGRATE_COOKIE),
      flags: uint,
      cancelled: int,
    }),
    struct({ dom: nonnullDomain, cookie_out: varOpaque(ListMax.MIGRATE_COOKIE) }),
  ),
  domainMigrateConfirm3Params: remote(
    P.DOMAIN_MIGRATE_CONFIRM3_PARAMS,
    "DOMAIN_MIGRATE_CONFIRM3_PARAMS",
    struct({
      dom: nonnullDomain,
      params: array(typedParam, ListMax.MIGRATE_PARAMS),
      cookie_in: varOpaque(ListMax.MIGRATE_COOKIE),
      flags: uint,
      cancelled: int,
    }),
    VOID,
  ),
  domainMigrateStartPostCopy: remote(
    P.DOMAIN_MIGRATE_START_POST_COPY,
    "DOMAIN_MIGRATE_START_POST_COPY",
    domFlags,
    VOID,
  ),
  domainRestore: remote(P.DOMAIN_RESTORE, "DOMAIN_RESTORE", struct({ from: nstring }), VOID),
  domainRestoreFlags: remote(
    P.DOMAIN_RESTORE_FLAGS,
    "DOMAIN_RESTORE_FLAGS",
    struct({ from: nstring, dxml: ostring, flags: uint }),
    VOID,
  ),
  domainRestoreParams: remote(
    P.DOMAIN_RESTORE_PARAMS,
    "DOMAIN_RESTORE_PARAMS",
    struct({ params: array(typedParam, ListMax.SAVE_PARAMS), flags: uint }),
    VOID,
  ),
  domainSaveImageGetXMLDesc: remote(
    P.DOMAIN_SAVE_IMAGE_GET_XML_DESC,
    "DOMAIN_SAVE_IMAGE_GET_XML_DESC",
    struct({ file: nstring, flags: uint }),
    struct({ xml: nstring }),
  ),
  domainSaveImageDefineXML: remote(
    P.DOMAIN_SAVE_IMAGE_DEFINE_XML,
    "DOMAIN_SAVE_IMAGE_DEFINE_XML",
    struct({ file: nstring, dxml: nstring, flags: uint }),
    VOID,
  ),
  domainManagedSave: remote(P.DOMAIN_MANAGED_SAVE, "DOMAIN_MANAGED_SAVE", domFlags, VOID),
  domainHasManagedSaveImage: remote(
    P.DOMAIN_HAS_MANAGED_SAVE_IMAGE,
    "DOMAIN_HAS_MANAGED_SAVE_IMAGE",
    domFlags,
    struct({ result: intBool }),
  ),
  domainManagedSaveRemove: remote(P.DOMAIN_MANAGED_SAVE_REMOVE, "DOMAIN_MANAGED_SAVE_REMOVE", domFlags, VOID),
  domainGetAutostart: remote(
    P.DOMAIN_GET_AUTOSTART,
    "DOMAIN_GET_AUTOSTART",
    domArgs,
    struct({ autostart: intBool }),
  ),
  domainSetAutostart: remote(
    P.DOMAIN_SET_AUTOSTART,
    "DOMAIN_SET_AUTOSTART",
    struct({ dom: nonnullDomain, autostart: intBool }),
    VOID,
  ),
  domainGetXMLDesc: remote(P.DOMAIN_GET_XML_DESC, "DOMAIN_GET_XML_DESC", domFlags, struct({ xml: nstring })),
  domainGetInfo: remote(
    P.DOMAIN_GET_INFO,
    "DOMAIN_GET_INFO",
    domArgs,
    struct({ state: uint, maxMem: uhyperNum, memory: uhyperNum, nrVirtCpu: uint, cpuTime: uhyper }),
  ),
  domainGetState: remote(
    P.DOMAIN_GET_STATE,
    "DOMAIN_GET_STATE",
    domFlags,
    struct({ state: int, reason: int }),
  ),
  domainGetOSType: remote(P.DOMAIN_GET_OS_TYPE, "DOMAIN_GET_OS_TYPE", domArgs, struct({ type: nstring })),
  domainGetMaxMemory: remote(
    P.DOMAIN_GET_MAX_MEMORY,
    "DOMAIN_GET_MAX_MEMORY",
    domArgs,
    struct({ memory: uhyperNum }),
  ),
  domainGetSecurityLabel: remote(
    P.DOMAIN_GET_SECURITY_LABEL,
    "DOMAIN_GET_SECURITY_LABEL",
    domArgs,
    struct({ label: charArray(ListMax.SECURITY_LABEL), enforcing: intBool }),
  ),
  domainIsActive: remote(P.DOMAIN_IS_ACTIVE, "DOMAIN_IS_ACTIVE", domArgs, struct({ active: intBool })),
  domainIsPersistent: remote(
    P.DOMAIN_IS_PERSISTENT,
    "DOMAIN_IS_PERSISTENT",
    domArgs,
    struct({ persistent: intBool }),
  ),
  domainIsUpdated: remote(P.DOMAIN_IS_UPDATED, "DOMAIN_IS_UPDATED", domArgs, struct({ updated: intBool })),
  domainGetMessages: remote(
    P.DOMAIN_GET_MESSAGES,
    "DOMAIN_GET_MESSAGES",
    domFlags,
    struct({ msgs: array(nstring, ListMax.DOMAIN_MESSAGES) }),
  ),
  domainSnapshotNum: remote(P.DOMAIN_SNAPSHOT_NUM, "DOMAIN_SNAPSHOT_NUM", domFlags, struct({ num: int })),
  domainSnapshotListNames: remote(
    P.DOMAIN_SNAPSHOT_LIST_NAMES,
    "DOMAIN_SNAPSHOT_LIST_NAMES",
    struct({ dom: nonnullDomain, maxnames: int, flags: uint }),
    struct({ names: array(nstring, 1024) }),
  ),
  connectDomainXMLToNative: remote(
    P.CONNECT_DOMAIN_XML_TO_NATIVE,
    "CONNECT_DOMAIN_XML_TO_NATIVE",
    struct({ nativeFormat: nstring, domainXml: nstring, flags: uint }),
    struct({ nativeConfig: nstring }),
  ),
  domainOpenConsole: remote(
    P.DOMAIN_OPEN_CONSOLE,
    "DOMAIN_OPEN_CONSOLE",
    struct({ dom: nonnullDomain, dev_name: ostring, flags: uint }),
    VOID,
  ),
  // graphical consoles: the image follows the reply as a stream on the call's serial
  domainScreenshot: remote(
    P.DOMAIN_SCREENSHOT,
    "DOMAIN_SCREENSHOT",
    struct({ dom: nonnullDomain, screen: uint, flags: uint }),
    struct({ mime: ostring }),
  ),
  // the descriptor travels beside the message (CALL_WITH_FDS / REPLY_WITH_FDS), not in it
  domainOpenGraphics: remote(
    P.DOMAIN_OPEN_GRAPHICS,
    "DOMAIN_OPEN_GRAPHICS",
    struct({ dom: nonnullDomain, idx: uint, flags: uint }),
    VOID,
  ),
  domainOpenGraphicsFd: remote(
    P.DOMAIN_OPEN_GRAPHICS_FD,
    "DOMAIN_OPEN_GRAPHICS_FD",
    struct({ dom: nonnullDomain, idx: uint, flags: uint }),
    VOID,
  ),
  domainSendKey: remote(
    P.DOMAIN_SEND_KEY,
    "DOMAIN_SEND_KEY",
    struct({
      dom: nonnullDomain,
      codeset: uint,
      holdtime: uint,
      keycodes: array(uint, ListMax.DOMAIN_SEND_KEY),
      flags: uint,
    }),
    VOID,
  ),

  connectDomainEventRegister: remote(
    P.CONNECT_DOMAIN_EVENT_REGISTER,
    "CONNECT_DOMAIN_EVENT_REGISTER",
    VOID,
    struct({ cb_registered: int }),
  ),
  connectDomainEventDeregister: remote(
    P.CONNECT_DOMAIN_EVENT_DEREGISTER,
    "CONNECT_DOMAIN_EVENT_DEREGISTER",
    VOID,
    struct({ cb_registered: int }),
  ),
  connectDomainEventRegisterAny: remote(
    P.CONNECT_DOMAIN_EVENT_REGISTER_ANY,
    "CONNECT_DOMAIN_EVENT_REGISTER_ANY",
    struct({ eventID: int }),
    VOID,
  ),
  connectDomainEventDeregisterAny: remote(
    P.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY,
    "CONNECT_DOMAIN_EVENT_DEREGISTER_ANY",
    struct({ eventID: int }),
    VOID,
  ),
  connectDomainEventCallbackRegisterAny: remote(
    P.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
    "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY",
    struct({ eventID: int, dom: optDomain }),
    struct({ callbackID: int }),
  ),
  connectDomainEventCallbackDeregisterAny: remote(
    P.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
    "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY",
    struct({ callbackID: int }),
    VOID,
  ),

  // --- node devices (REMOTE_PROC_NODE_DEVICE_*, remote_nonnull_node_device = its name) ---------
  connectListAllNodeDevices: remote(
    285,
    "CONNECT_LIST_ALL_NODE_DEVICES",
    struct({ need_results: int, flags: uint }),
    struct({ devices: array(struct({ name: nstring }), 65536), ret: uint }),
  ),
  // the pre-0.10 listing, which python3-libvirt's listDevices (virt-manager's nodedev probe) uses
  nodeNumOfDevices: remote(
    111,
    "NODE_NUM_OF_DEVICES",
    struct({ cap: ostring, flags: uint }),
    struct({ num: int }),
  ),
  nodeListDevices: remote(
    112,
    "NODE_LIST_DEVICES",
    struct({ cap: ostring, maxnames: int, flags: uint }),
    struct({ names: array(nstring, 65536) }),
  ),
  nodeDeviceLookupByName: remote(
    113,
    "NODE_DEVICE_LOOKUP_BY_NAME",
    struct({ name: nstring }),
    struct({ dev: struct({ name: nstring }) }),
  ),
  nodeDeviceGetXMLDesc: remote(
    114,
    "NODE_DEVICE_GET_XML_DESC",
    struct({ name: nstring, flags: uint }),
    struct({ xml: nstring }),
  ),
  nodeDeviceGetParent: remote(
    115,
    "NODE_DEVICE_GET_PARENT",
    struct({ name: nstring }),
    struct({ parentName: ostring }),
  ),
  nodeDeviceNumOfCaps: remote(
    116,
    "NODE_DEVICE_NUM_OF_CAPS",
    struct({ name: nstring }),
    struct({ num: int }),
  ),
  nodeDeviceListCaps: remote(
    117,
    "NODE_DEVICE_LIST_CAPS",
    struct({ name: nstring, maxnames: int }),
    struct({ names: array(nstring, 65536) }),
  ),
  nodeDeviceDettach: remote(118, "NODE_DEVICE_DETTACH", struct({ name: nstring }), VOID),
  nodeDeviceReAttach: remote(119, "NODE_DEVICE_RE_ATTACH", struct({ name: nstring }), VOID),
  nodeDeviceReset: remote(120, "NODE_DEVICE_RESET", struct({ name: nstring }), VOID),
  nodeDeviceDetachFlags: remote(
    301,
    "NODE_DEVICE_DETACH_FLAGS",
    struct({ name: nstring, driverName: ostring, flags: uint }),
    VOID,
  ),

  // --- networks (REMOTE_PROC_*NETWORK*, remote_nonnull_network = name + UUID) ------------------
  connectNumOfNetworks: remote(52, "CONNECT_NUM_OF_NETWORKS", VOID, struct({ num: int })),
  connectListNetworks: remote(
    38,
    "CONNECT_LIST_NETWORKS",
    struct({ maxnames: int }),
    struct({ names: array(nstring, ListMax.NETWORK_LIST) }),
  ),
  connectNumOfDefinedNetworks: remote(50, "CONNECT_NUM_OF_DEFINED_NETWORKS", VOID, struct({ num: int })),
  connectListDefinedNetworks: remote(
    36,
    "CONNECT_LIST_DEFINED_NETWORKS",
    struct({ maxnames: int }),
    struct({ names: array(nstring, ListMax.NETWORK_LIST) }),
  ),
  connectListAllNetworks: remote(
    283,
    "CONNECT_LIST_ALL_NETWORKS",
    struct({ need_results: int, flags: uint }),
    struct({ nets: array(nonnullNetwork, ListMax.NETWORK_LIST), ret: uint }),
  ),
  networkLookupByName: remote(46, "NETWORK_LOOKUP_BY_NAME", struct({ name: nstring }), netRet),
  networkLookupByUUID: remote(47, "NETWORK_LOOKUP_BY_UUID", struct({ uuid }), netRet),
  networkCreateXML: remote(40, "NETWORK_CREATE_XML", struct({ xml: nstring }), netRet),
  networkCreateXMLFlags: remote(
    437,
    "NETWORK_CREATE_XML_FLAGS",
    struct({ xml: nstring, flags: uint }),
    netRet,
  ),
  networkDefineXML: remote(41, "NETWORK_DEFINE_XML", struct({ xml: nstring }), netRet),
  networkDefineXMLFlags: remote(
    432,
    "NETWORK_DEFINE_XML_FLAGS",
    struct({ xml: nstring, flags: uint }),
    netRet,
  ),
  networkUndefine: remote(49, "NETWORK_UNDEFINE", netArgs, VOID),
  networkCreate: remote(39, "NETWORK_CREATE", netArgs, VOID),
  networkDestroy: remote(42, "NETWORK_DESTROY", netArgs, VOID),
  networkGetXMLDesc: remote(
    43,
    "NETWORK_GET_XML_DESC",
    struct({ net: nonnullNetwork, flags: uint }),
    struct({ xml: nstring }),
  ),
  networkGetBridgeName: remote(45, "NETWORK_GET_BRIDGE_NAME", netArgs, struct({ name: nstring })),
  networkGetAutostart: remote(44, "NETWORK_GET_AUTOSTART", netArgs, struct({ autostart: intBool })),
  networkSetAutostart: remote(
    48,
    "NETWORK_SET_AUTOSTART",
    struct({ net: nonnullNetwork, autostart: intBool }),
    VOID,
  ),
  networkIsActive: remote(152, "NETWORK_IS_ACTIVE", netArgs, struct({ active: intBool })),
  networkIsPersistent: remote(153, "NETWORK_IS_PERSISTENT", netArgs, struct({ persistent: intBool })),
  networkGetDHCPLeases: remote(
    341,
    "NETWORK_GET_DHCP_LEASES",
    struct({ net: nonnullNetwork, mac: ostring, need_results: int, flags: uint }),
    struct({ leases: array(dhcpLease, 65536), ret: uint }),
  ),
  /**
   * `remote_network_update_args`. The field names are the protocol's; libvirt's client library
   * passes the section in `command` and the command in `section` (virNetworkUpdate calls the
   * driver with the two swapped, and the server swaps them back), so only the pair matters.
   */
  networkUpdate: remote(
    291,
    "NETWORK_UPDATE",
    struct({
      net: nonnullNetwork,
      command: uint,
      section: uint,
      parentIndex: int,
      xml: nstring,
      flags: uint,
    }),
    VOID,
  ),
  networkListAllPorts: remote(
    404,
    "NETWORK_LIST_ALL_PORTS",
    struct({ network: nonnullNetwork, need_results: int, flags: uint }),
    struct({ ports: array(nonnullNetworkPort, ListMax.NETWORK_PORT_LIST), ret: uint }),
  ),
  networkPortLookupByUUID: remote(
    405,
    "NETWORK_PORT_LOOKUP_BY_UUID",
    struct({ network: nonnullNetwork, uuid }),
    struct({ port: nonnullNetworkPort }),
  ),
  networkPortCreateXML: remote(
    406,
    "NETWORK_PORT_CREATE_XML",
    struct({ network: nonnullNetwork, xml: nstring, flags: uint }),
    struct({ port: nonnullNetworkPort }),
  ),
  networkPortDelete: remote(
    410,
    "NETWORK_PORT_DELETE",
    struct({ port: nonnullNetworkPort, flags: uint }),
    VOID,
  ),
  networkPortGetXMLDesc: remote(
    409,
    "NETWORK_PORT_GET_XML_DESC",
    struct({ port: nonnullNetworkPort, flags: uint }),
    struct({ xml: nstring }),
  ),
  connectNetworkEventRegisterAny: remote(
    313,
    "CONNECT_NETWORK_EVENT_REGISTER_ANY",
    struct({ eventID: int, net: optional(nonnullNetwork) }),
    struct({ callbackID: int }),
  ),
  connectNetworkEventDeregisterAny: remote(
    314,
    "CONNECT_NETWORK_EVENT_DEREGISTER_ANY",
    struct({ callbackID: int }),
    VOID,
  ),
  // --- storage (REMOTE_PROC_*STORAGE*: pools by name + UUID, volumes by pool + name + key) ----
  connectNumOfStoragePools: remote(71, "CONNECT_NUM_OF_STORAGE_POOLS", VOID, struct({ num: int })),
  connectListStoragePools: remote(
    72,
    "CONNECT_LIST_STORAGE_POOLS",
    struct({ maxnames: int }),
    struct({ names: array(nstring, ListMax.STORAGE_POOL_LIST) }),
  ),
  connectNumOfDefinedStoragePools: remote(
    73,
    "CONNECT_NUM_OF_DEFINED_STORAGE_POOLS",
    VOID,
    struct({ num: int }),
  ),
  connectListDefinedStoragePools: remote(
    74,
    "CONNECT_LIST_DEFINED_STORAGE_POOLS",
    struct({ maxnames: int }),
    struct({ names: array(nstring, ListMax.STORAGE_POOL_LIST) }),
  ),
  connectFindStoragePoolSources: remote(
    75,
    "CONNECT_FIND_STORAGE_POOL_SOURCES",
    struct({ type: nstring, srcSpec: ostring, flags: uint }),
    struct({ xml: nstring }),
  ),
  storagePoolCreateXML: remote(76, "STORAGE_POOL_CREATE_XML", struct({ xml: nstring, flags: uint }), poolRet),
  storagePoolDefineXML: remote(77, "STORAGE_POOL_DEFINE_XML", struct({ xml: nstring, flags: uint }), poolRet),
  storagePoolCreate: remote(78, "STORAGE_POOL_CREATE", poolFlags, VOID),
  storagePoolBuild: remote(79, "STORAGE_POOL_BUILD", poolFlags, VOID),
  storagePoolDestroy: remote(80, "STORAGE_POOL_DESTROY", poolArgs, VOID),
  storagePoolDelete: remote(81, "STORAGE_POOL_DELETE", poolFlags, VOID),
  storagePoolUndefine: remote(82, "STORAGE_POOL_UNDEFINE", poolArgs, VOID),
  storagePoolRefresh: remote(83, "STORAGE_POOL_REFRESH", poolFlags, VOID),
  storagePoolLookupByName: remote(84, "STORAGE_POOL_LOOKUP_BY_NAME", struct({ name: nstring }), poolRet),
  storagePoolLookupByUUID: remote(85, "STORAGE_POOL_LOOKUP_BY_UUID", struct({ uuid }), poolRet),
  storagePoolLookupByVolume: remote(86, "STORAGE_POOL_LOOKUP_BY_VOLUME", volArgs, poolRet),
  /** `unsigned char state` is a 4-byte word. */
  storagePoolGetInfo: remote(
    87,
    "STORAGE_POOL_GET_INFO",
    poolArgs,
    struct({ state: uint, capacity: uhyperNum, allocation: uhyperNum, available: uhyperNum }),
  ),
  storagePoolGetXMLDesc: remote(88, "STORAGE_POOL_GET_XML_DESC", poolFlags, struct({ xml: nstring })),
  storagePoolGetAutostart: remote(89, "STORAGE_POOL_GET_AUTOSTART", poolArgs, struct({ autostart: intBool })),
  storagePoolSetAutostart: remote(
    90,
    "STORAGE_POOL_SET_AUTOSTART",
    struct({ pool: nonnullStoragePool, autostart: intBool }),
    VOID,
  ),
  storagePoolNumOfVolumes: remote(91, "STORAGE_POOL_NUM_OF_VOLUMES", poolArgs, struct({ num: int })),
  storagePoolListVolumes: remote(
    92,
    "STORAGE_POOL_LIST_VOLUMES",
    struct({ pool: nonnullStoragePool, maxnames: int }),
    struct({ names: array(nstring, ListMax.STORAGE_VOL_LIST) }),
  ),
  storageVolCreateXML: remote(
    93,
    "STORAGE_VOL_CREATE_XML",
    struct({ pool: nonnullStoragePool, xml: nstring, flags: uint }),
    volRet,
  ),
  storageVolDelete: remote(94, "STORAGE_VOL_DELETE", volFlags, VOID),
  storageVolLookupByName: remote(
    95,
    "STORAGE_VOL_LOOKUP_BY_NAME",
    struct({ pool: nonnullStoragePool, name: nstring }),
    volRet,
  ),
  storageVolLookupByKey: remote(96, "STORAGE_VOL_LOOKUP_BY_KEY", struct({ key: nstring }), volRet),
  storageVolLookupByPath: remote(97, "STORAGE_VOL_LOOKUP_BY_PATH", struct({ path: nstring }), volRet),
  storageVolGetInfo: remote(98, "STORAGE_VOL_GET_INFO", volArgs, volInfo),
  storageVolGetXMLDesc: remote(99, "STORAGE_VOL_GET_XML_DESC", volFlags, struct({ xml: nstring })),
  storageVolGetPath: remote(100, "STORAGE_VOL_GET_PATH", volArgs, struct({ name: nstring })),
  storageVolCreateXMLFrom: remote(
    125,
    "STORAGE_VOL_CREATE_XML_FROM",
    struct({ pool: nonnullStoragePool, xml: nstring, clonevol: nonnullStorageVol, flags: uint }),
    volRet,
  ),
  storagePoolIsActive: remote(154, "STORAGE_POOL_IS_ACTIVE", poolArgs, struct({ active: intBool })),
  storagePoolIsPersistent: remote(
    155,
    "STORAGE_POOL_IS_PERSISTENT",
    poolArgs,
    struct({ persistent: intBool }),
  ),
  storageVolWipe: remote(165, "STORAGE_VOL_WIPE", volFlags, VOID),
  /** Data follows on the call's serial, client to daemon (`@writestream`). */
  storageVolUpload: remote(208, "STORAGE_VOL_UPLOAD", volTransfer, VOID),
  /** Data follows on the call's serial, daemon to client (`@readstream`). */
  storageVolDownload: remote(209, "STORAGE_VOL_DOWNLOAD", volTransfer, VOID),
  storageVolWipePattern: remote(
    259,
    "STORAGE_VOL_WIPE_PATTERN",
    struct({ vol: nonnullStorageVol, algorithm: uint, flags: uint }),
    VOID,
  ),
  storageVolResize: remote(
    260,
    "STORAGE_VOL_RESIZE",
    struct({ vol: nonnullStorageVol, capacity: uhyper, flags: uint }),
    VOID,
  ),
  connectListAllStoragePools: remote(
    281,
    "CONNECT_LIST_ALL_STORAGE_POOLS",
    struct({ need_results: int, flags: uint }),
    struct({ pools: array(nonnullStoragePool, ListMax.STORAGE_POOL_LIST), ret: uint }),
  ),
  storagePoolListAllVolumes: remote(
    282,
    "STORAGE_POOL_LIST_ALL_VOLUMES",
    struct({ pool: nonnullStoragePool, need_results: int, flags: uint }),
    struct({ vols: array(nonnullStorageVol, ListMax.STORAGE_VOL_LIST), ret: uint }),
  ),
  connectStoragePoolEventRegisterAny: remote(
    368,
    "CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY",
    struct({ eventID: int, pool: optional(nonnullStoragePool) }),
    struct({ callbackID: int }),
  ),
  connectStoragePoolEventDeregisterAny: remote(
    369,
    "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY",
    struct({ callbackID: int }),
    VOID,
  ),
  storageVolGetInfoFlags: remote(378, "STORAGE_VOL_GET_INFO_FLAGS", volFlags, volInfo),
  storagePoolLookupByTargetPath: remote(
    391,
    "STORAGE_POOL_LOOKUP_BY_TARGET_PATH",
    struct({ path: nstring }),
    poolRet,
  ),
  connectGetStoragePoolCapabilities: remote(
    403,
    "CONNECT_GET_STORAGE_POOL_CAPABILITIES",
    struct({ flags: uint }),
    struct({ capabilities: nstring }),
  ),
  // device hotplug
  domainAttachDevice: remote(
    P.DOMAIN_ATTACH_DEVICE,
    "DOMAIN_ATTACH_DEVICE",
    struct({ dom: nonnullDomain, xml: nstring }),
    VOID,
  ),
  domainDetachDevice: remote(
    P.DOMAIN_DETACH_DEVICE,
    "DOMAIN_DETACH_DEVICE",
    struct({ dom: nonnullDomain, xml: nstring }),
    VOID,
  ),
  domainAttachDeviceFlags: remote(
    P.DOMAIN_ATTACH_DEVICE_FLAGS,
    "DOMAIN_ATTACH_DEVICE_FLAGS",
    struct({ dom: nonnullDomain, xml: nstring, flags: uint }),
    VOID,
  ),
  domainDetachDeviceFlags: remote(
    P.DOMAIN_DETACH_DEVICE_FLAGS,
    "DOMAIN_DETACH_DEVICE_FLAGS",
    struct({ dom: nonnullDomain, xml: nstring, flags: uint }),
    VOID,
  ),
  domainUpdateDeviceFlags: remote(
    P.DOMAIN_UPDATE_DEVICE_FLAGS,
    "DOMAIN_UPDATE_DEVICE_FLAGS",
    struct({ dom: nonnullDomain, xml: nstring, flags: uint }),
    VOID,
  ),

  qemuDomainMonitorCommand: {
    prog: Program.QEMU,
    num: QemuProc.DOMAIN_MONITOR_COMMAND,
    name: "DOMAIN_MONITOR_COMMAND",
    args: struct({ dom: nonnullDomain, cmd: nstring, flags: uint }),
    ret: struct({ result: nstring }),
  },

  // --- tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat, domstats,
  // qemu-monitor-event) ------------------------------------------------------------------------
  domainSetMaxMemory: remote(
    P.DOMAIN_SET_MAX_MEMORY,
    "DOMAIN_SET_MAX_MEMORY",
    struct({ dom: nonnullDomain, memory: uhyperNum }),
    VOID,
  ),
  domainSetMemory: remote(
    P.DOMAIN_SET_MEMORY,
    "DOMAIN_SET_MEMORY",
    struct({ dom: nonnullDomain, memory: uhyperNum }),
    VOID,
  ),
  domainSetMemoryFlags: remote(
    P.DOMAIN_SET_MEMORY_FLAGS,
    "DOMAIN_SET_MEMORY_FLAGS",
    struct({ dom: nonnullDomain, memory: uhyperNum, flags: uint }),
    VOID,
  ),
  domainSetVcpus: remote(
    P.DOMAIN_SET_VCPUS,
    "DOMAIN_SET_VCPUS",
    struct({ dom: nonnullDomain, nvcpus: uint }),
    VOID,
  ),
  domainSetVcpusFlags: remote(
    P.DOMAIN_SET_VCPUS_FLAGS,
    "DOMAIN_SET_VCPUS_FLAGS",
    struct({ dom: nonnullDomain, nvcpus: uint, flags: uint }),
    VOID,
  ),
  domainGetVcpusFlags: remote(
    P.DOMAIN_GET_VCPUS_FLAGS,
    "DOMAIN_GET_VCPUS_FLAGS",
    domFlags,
    struct({ num: int }),
  ),
  domainGetMaxVcpus: remote(P.DOMAIN_GET_MAX_VCPUS, "DOMAIN_GET_MAX_VCPUS", domArgs, struct({ num: int })),
  domainBlockStats: remote(
    P.DOMAIN_BLOCK_STATS,
    "DOMAIN_BLOCK_STATS",
    struct({ dom: nonnullDomain, path: nstring }),
    struct({ rd_req: hyper, rd_bytes: hyper, wr_req: hyper, wr_bytes: hyper, errs: hyper }),
  ),
  domainBlockStatsFlags: remote(
    P.DOMAIN_BLOCK_STATS_FLAGS,
    "DOMAIN_BLOCK_STATS_FLAGS",
    struct({ dom: nonnullDomain, path: nstring, nparams: int, flags: uint }),
    struct({ params: array(typedParam, ListMax.DOMAIN_BLOCK_STATS_PARAMETERS), nparams: int }),
  ),
  domainInterfaceStats: remote(
    P.DOMAIN_INTERFACE_STATS,
    "DOMAIN_INTERFACE_STATS",
    struct({ dom: nonnullDomain, device: nstring }),
    struct({
      rx_bytes: hyper,
      rx_packets: hyper,
      rx_errs: hyper,
      rx_drop: hyper,
      tx_bytes: hyper,
      tx_packets: hyper,
      tx_errs: hyper,
      tx_drop: hyper,
    }),
  ),
  domainMemoryStats: remote(
    P.DOMAIN_MEMORY_STATS,
    "DOMAIN_MEMORY_STATS",
    struct({ dom: nonnullDomain, maxStats: uint, flags: uint }),
    struct({ stats: array(struct({ tag: int, val: uhyper }), ListMax.DOMAIN_MEMORY_STATS) }),
  ),
  domainSetMemoryStatsPeriod: remote(
    P.DOMAIN_SET_MEMORY_STATS_PERIOD,
    "DOMAIN_SET_MEMORY_STATS_PERIOD",
    struct({ dom: nonnullDomain, period: int, flags: uint }),
    VOID,
  ),
  domainSetMemoryParameters: remote(
    P.DOMAIN_SET_MEMORY_PARAMETERS,
    "DOMAIN_SET_MEMORY_PARAMETERS",
    struct({ dom: nonnullDomain, params: array(typedParam, ListMax.DOMAIN_MEMORY_PARAMETERS), flags: uint }),
    VOID,
  ),
  domainGetMemoryParameters: remote(
    P.DOMAIN_GET_MEMORY_PARAMETERS,
    "DOMAIN_GET_MEMORY_PARAMETERS",
    struct({ dom: nonnullDomain, nparams: int, flags: uint }),
    struct({ params: array(typedParam, ListMax.DOMAIN_MEMORY_PARAMETERS), nparams: int }),
  ),
  domainGetSchedulerType: remote(
    P.DOMAIN_GET_SCHEDULER_TYPE,
    "DOMAIN_GET_SCHEDULER_TYPE",
    domArgs,
    struct({ type: nstring, nparams: int }),
  ),
  domainGetSchedulerParameters: remote(
    P.DOMAIN_GET_SCHEDULER_PARAMETERS,
    "DOMAIN_GET_SCHEDULER_PARAMETERS",
    struct({ dom: nonnullDomain, nparams: int }),
    struct({ params: array(typedParam, ListMax.DOMAIN_SCHEDULER_PARAMETERS) }),
  ),
  domainSetSchedulerParameters: remote(
    P.DOMAIN_SET_SCHEDULER_PARAMETERS,
    "DOMAIN_SET_SCHEDULER_PARAMETERS",
    struct({ dom: nonnullDomain, params: array(typedParam, ListMax.DOMAIN_SCHEDULER_PARAMETERS) }),
    VOID,
  ),
  domainSetSchedulerParametersFlags: remote(
    P.DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
    "DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS",
    struct({
      dom: nonnullDomain,
      params: array(typedParam, ListMax.DOMAIN_SCHEDULER_PARAMETERS),
      flags: uint,
    }),
    VOID,
  ),
  domainGetSchedulerParametersFlags: remote(
    P.DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
    "DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS",
    struct({ dom: nonnullDomain, nparams: int, flags: uint }),
    struct({ params: array(typedParam, ListMax.DOMAIN_SCHEDULER_PARAMETERS) }),
  ),
  domainSetBlkioParameters: remote(
    P.DOMAIN_SET_BLKIO_PARAMETERS,
    "DOMAIN_SET_BLKIO_PARAMETERS",
    struct({ dom: nonnullDomain, params: array(typedParam, ListMax.DOMAIN_BLKIO_PARAMETERS), flags: uint }),
    VOID,
  ),
  domainGetBlkioParameters: remote(
    P.DOMAIN_GET_BLKIO_PARAMETERS,
    "DOMAIN_GET_BLKIO_PARAMETERS",
    struct({ dom: nonnullDomain, nparams: int, flags: uint }),
    struct({ params: array(typedParam, ListMax.DOMAIN_BLKIO_PARAMETERS), nparams: int }),
  ),
  domainPinVcpuFlags: remote(
    P.DOMAIN_PIN_VCPU_FLAGS,
    "DOMAIN_PIN_VCPU_FLAGS",
    struct({ dom: nonnullDomain, vcpu: uint, cpumap: varOpaque(ListMax.CPUMAP), flags: uint }),
    VOID,
  ),
  domainGetVcpuPinInfo: remote(
    P.DOMAIN_GET_VCPU_PIN_INFO,
    "DOMAIN_GET_VCPU_PIN_INFO",
    struct({ dom: nonnullDomain, ncpumaps: int, maplen: int, flags: uint }),
    struct({ cpumaps: varOpaque(ListMax.CPUMAPS), num: int }),
  ),
  domainPinEmulator: remote(
    P.DOMAIN_PIN_EMULATOR,
    "DOMAIN_PIN_EMULATOR",
    struct({ dom: nonnullDomain, cpumap: varOpaque(ListMax.CPUMAP), flags: uint }),
    VOID,
  ),
  domainGetEmulatorPinInfo: remote(
    P.DOMAIN_GET_EMULATOR_PIN_INFO,
    "DOMAIN_GET_EMULATOR_PIN_INFO",
    struct({ dom: nonnullDomain, maplen: int, flags: uint }),
    struct({ cpumaps: varOpaque(ListMax.CPUMAPS), ret: int }),
  ),
  // jobs and migration tuning (issue 15)
  domainGetJobInfo: remote(
    P.DOMAIN_GET_JOB_INFO,
    "DOMAIN_GET_JOB_INFO",
    domArgs,
    struct({
      type: int,
      timeElapsed: uhyper,
      timeRemaining: uhyper,
      dataTotal: uhyper,
      dataProcessed: uhyper,
      dataRemaining: uhyper,
      memTotal: uhyper,
      memProcessed: uhyper,
      memRemaining: uhyper,
      fileTotal: uhyper,
      fileProcessed: uhyper,
      fileRemaining: uhyper,
    }),
  ),
  domainGetJobStats: remote(
    P.DOMAIN_GET_JOB_STATS,
    "DOMAIN_GET_JOB_STATS",
    struct({ dom: nonnullDomain, flags: uint }),
    struct({ type: int, params: array(typedParam, ListMax.DOMAIN_JOB_STATS) }),
  ),
  domainAbortJob: remote(P.DOMAIN_ABORT_JOB, "DOMAIN_ABORT_JOB", domArgs, VOID),
  domainAbortJobFlags: remote(
    P.DOMAIN_ABORT_JOB_FLAGS,
    "DOMAIN_ABORT_JOB_FLAGS",
    struct({ dom: nonnullDomain, flags: uint }),
    VOID,
  ),
  domainMigrateSetMaxDowntime: remote(
    P.DOMAIN_MIGRATE_SET_MAX_DOWNTIME,
    "DOMAIN_MIGRATE_SET_MAX_DOWNTIME",
    struct({ dom: nonnullDomain, downtime: uhyper, flags: uint }),
    VOID,
  ),
  domainMigrateGetMaxDowntime: remote(
    P.DOMAIN_MIGRATE_GET_MAX_DOWNTIME,
    "DOMAIN_MIGRATE_GET_MAX_DOWNTIME",
    struct({ dom: nonnullDomain, flags: uint }),
    struct({ downtime: uhyper }),
  ),
  domainMigrateSetMaxSpeed: remote(
    P.DOMAIN_MIGRATE_SET_MAX_SPEED,
    "DOMAIN_MIGRATE_SET_MAX_SPEED",
    struct({ dom: nonnullDomain, bandwidth: uhyper, flags: uint }),
    VOID,
  ),
  domainMigrateGetMaxSpeed: remote(
    P.DOMAIN_MIGRATE_GET_MAX_SPEED,
    "DOMAIN_MIGRATE_GET_MAX_SPEED",
    struct({ dom: nonnullDomain, flags: uint }),
    struct({ bandwidth: uhyper }),
  ),
  domainMigrateSetCompressionCache: remote(
    P.DOMAIN_MIGRATE_SET_COMPRESSION_CACHE,
    "DOMAIN_MIGRATE_SET_COMPRESSION_CACHE",
    struct({ dom: nonnullDomain, cacheSize: uhyper, flags: uint }),
    VOID,
  ),
  domainMigrateGetCompressionCache: remote(
    P.DOMAIN_MIGRATE_GET_COMPRESSION_CACHE,
    "DOMAIN_MIGRATE_GET_COMPRESSION_CACHE",
    struct({ dom: nonnullDomain, flags: uint }),
    struct({ cacheSize: uhyper }),
  ),
  connectGetAllDomainStats: remote(
    P.CONNECT_GET_ALL_DOMAIN_STATS,
    "CONNECT_GET_ALL_DOMAIN_STATS",
    struct({ doms: array(nonnullDomain, ListMax.DOMAIN_LIST), stats: uint, flags: uint }),
    struct({
      retStats: array(
        struct({ dom: nonnullDomain, params: array(typedParam, ListMax.CONNECT_GET_ALL_DOMAIN_STATS) }),
        ListMax.DOMAIN_LIST,
      ),
    }),
  ),
  qemuConnectDomainMonitorEventRegister: {
    prog: Program.QEMU,
    num: QemuProc.CONNECT_DOMAIN_MONITOR_EVENT_REGISTER,
    name: "CONNECT_DOMAIN_MONITOR_EVENT_REGISTER",
    args: struct({ dom: optDomain, event: ostring, flags: uint }),
    ret: struct({ callbackID: int }),
  },
  qemuConnectDomainMonitorEventDeregister: {
    prog: Program.QEMU,
    num: QemuProc.CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER,
    name: "CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER",
    args: struct({ callbackID: int }),
    ret: VOID,
  },
  qemuDomainMonitorCommandWithFiles: {
    prog: Program.QEMU,
    num: QemuProc.DOMAIN_MONITOR_COMMAND_WITH_FILES,
    name: "DOMAIN_MONITOR_COMMAND_WITH_FILES",
    args: struct({ dom: nonnullDomain, cmd: nstring, flags: uint }),
    ret: struct({ result: nstring }),
  },
} as const;

// ---------------------------------------------------------------------------------------------
// Event messages (type MESSAGE)
// ---------------------------------------------------------------------------------------------

export interface MsgDef<M> {
  readonly prog: number;
  readonly num: number;
  readonly name: string;
  readonly msg: Codec<M>;
}

function message<M>(num: number, name: string, msg: Codec<M>): MsgDef<M> {
  return { prog: Program.REMOTE, num, name, msg };
}

const lifecycle = struct({ dom: nonnullDomain, event: int, detail: int });

/** remote_domain_event_io_error_reason_msg */
const ioErrorReason = struct({
  dom: nonnullDomain,
  srcPath: nstring,
  devAlias: nstring,
  action: int,
  reason: nstring,
});

export const Msg = {
  /** Legacy (CONNECT_DOMAIN_EVENT_REGISTER / _REGISTER_ANY) lifecycle. */
  lifecycle: message(P.DOMAIN_EVENT_LIFECYCLE, "DOMAIN_EVENT_LIFECYCLE", lifecycle),
  reboot: message(P.DOMAIN_EVENT_REBOOT, "DOMAIN_EVENT_REBOOT", domArgs),
  rtcChange: message(
    P.DOMAIN_EVENT_RTC_CHANGE,
    "DOMAIN_EVENT_RTC_CHANGE",
    struct({ dom: nonnullDomain, offset: hyper }),
  ),
  balloonChange: message(
    P.DOMAIN_EVENT_BALLOON_CHANGE,
    "DOMAIN_EVENT_BALLOON_CHANGE",
    struct({ dom: nonnullDomain, actual: uhyper }),
  ),
  ioErrorReason: message(P.DOMAIN_EVENT_IO_ERROR_REASON, "DOMAIN_EVENT_IO_ERROR_REASON", ioErrorReason),
  deviceRemoved: message(
    P.DOMAIN_EVENT_DEVICE_REMOVED,
    "DOMAIN_EVENT_DEVICE_REMOVED",
    struct({ dom: nonnullDomain, devAlias: nstring }),
  ),

  callbackLifecycle: message(
    P.DOMAIN_EVENT_CALLBACK_LIFECYCLE,
    "DOMAIN_EVENT_CALLBACK_LIFECYCLE",
    struct({ callbackID: int, msg: lifecycle }),
  ),
  callbackReboot: message(
    P.DOMAIN_EVENT_CALLBACK_REBOOT,
    "DOMAIN_EVENT_CALLBACK_REBOOT",
    struct({ callbackID: int, msg: domArgs }),
  ),
  callbackRtcChange: message(
    P.DOMAIN_EVENT_CALLBACK_RTC_CHANGE,
    "DOMAIN_EVENT_CALLBACK_RTC_CHANGE",
    struct({ callbackID: int, msg: struct({ dom: nonnullDomain, offset: hyper }) }),
  ),
  callbackBalloonChange: message(
    P.DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE,
    "DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE",
    struct({ callbackID: int, msg: struct({ dom: nonnullDomain, actual: uhyper }) }),
  ),
  callbackIoErrorReason: message(
    P.DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON,
    "DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON",
    struct({ callbackID: int, msg: ioErrorReason }),
  ),
  callbackDeviceRemoved: message(
    P.DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
    "DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED",
    struct({ callbackID: int, msg: struct({ dom: nonnullDomain, devAlias: nstring }) }),
  ),
  callbackDeviceAdded: message(
    P.DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
    "DOMAIN_EVENT_CALLBACK_DEVICE_ADDED",
    struct({ callbackID: int, dom: nonnullDomain, devAlias: nstring }),
  ),
  callbackAgentLifecycle: message(
    348,
    "DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE",
    struct({ callbackID: int, dom: nonnullDomain, state: int, reason: int }),
  ),
  callbackMigrationIteration: message(
    P.DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION,
    "DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION",
    struct({ callbackID: int, dom: nonnullDomain, iteration: int }),
  ),
  callbackJobCompleted: message(
    P.DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
    "DOMAIN_EVENT_CALLBACK_JOB_COMPLETED",
    struct({ callbackID: int, dom: nonnullDomain, params: array(typedParam, ListMax.DOMAIN_JOB_STATS) }),
  ),
  /** remote_domain_event_tray_change_msg (legacy) and its callback form */
  trayChange: message(
    268,
    "DOMAIN_EVENT_TRAY_CHANGE",
    struct({ dom: nonnullDomain, devAlias: nstring, reason: int }),
  ),
  callbackTrayChange: message(
    328,
    "DOMAIN_EVENT_CALLBACK_TRAY_CHANGE",
    struct({ callbackID: int, msg: struct({ dom: nonnullDomain, devAlias: nstring, reason: int }) }),
  ),
  callbackDeviceRemovalFailed: message(
    367,
    "DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED",
    struct({ callbackID: int, dom: nonnullDomain, devAlias: nstring }),
  ),
  callbackMetadataChange: message(
    379,
    "DOMAIN_EVENT_CALLBACK_METADATA_CHANGE",
    struct({ callbackID: int, dom: nonnullDomain, type: int, nsuri: ostring }),
  ),
  /** CONNECT_NETWORK_EVENT_REGISTER_ANY's lifecycle message. */
  networkLifecycle: message(
    315,
    "NETWORK_EVENT_LIFECYCLE",
    struct({ callbackID: int, net: nonnullNetwork, event: int, detail: int }),
  ),
  /** CONNECT_SECRET_EVENT_REGISTER_ANY's messages. */
  secretLifecycle: message(
    382,
    "SECRET_EVENT_LIFECYCLE",
    struct({ callbackID: int, secret: nonnullSecret, event: int, detail: int }),
  ),
  secretValueChanged: message(
    383,
    "SECRET_EVENT_VALUE_CHANGED",
    struct({ callbackID: int, secret: nonnullSecret }),
  ),
  /** CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY's messages. */
  storagePoolLifecycle: message(
    370,
    "STORAGE_POOL_EVENT_LIFECYCLE",
    struct({ callbackID: int, pool: nonnullStoragePool, event: int, detail: int }),
  ),
  storagePoolRefresh: message(
    373,
    "STORAGE_POOL_EVENT_REFRESH",
    struct({ callbackID: int, pool: nonnullStoragePool }),
  ),
  connectionClosed: message(
    P.CONNECT_EVENT_CONNECTION_CLOSED,
    "CONNECT_EVENT_CONNECTION_CLOSED",
    struct({ reason: int }),
  ),
  // tuning: qemu-monitor-event (QEMU program)
  qemuMonitorEvent: {
    prog: Program.QEMU,
    num: QemuProc.DOMAIN_MONITOR_EVENT,
    name: "DOMAIN_MONITOR_EVENT",
    msg: struct({
      callbackID: int,
      dom: nonnullDomain,
      event: nstring,
      seconds: hyper,
      micros: uint,
      details: ostring,
    }),
  },
} as const;

/** `virNetStreamHole` (STREAM_HOLE payload). */
export const streamHole = struct({ length: hyper, flags: uint });
