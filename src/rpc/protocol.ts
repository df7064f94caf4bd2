/**
 * libvirt's RPC constants (`src/rpc/virnetprotocol.x`, `virkeepaliveprotocol.x`,
 * `src/remote/remote_protocol.x`, `qemu_protocol.x`): programs, message types and statuses,
 * limits, driver features, and the procedure numbers tvirt speaks. Numbers never change between
 * libvirt versions.
 */

/** Program numbers (header field 1). */
export const Program = {
  REMOTE: 0x20008086,
  QEMU: 0x20008087,
  LXC: 0x00068000,
  KEEPALIVE: 0x6b656570,
  ADMIN: 0x06900690,
} as const;

/** Every program is version 1. */
export const PROTOCOL_VERSION = 1;

/** `virNetMessageType` (header field 4). */
export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** `virNetMessageStatus` (header field 6). */
export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

/** libvirt's limits (`virnetprotocol.x`). */
export const Limits = {
  /** Size of the length word. */
  LEN_MAX: 4,
  /** Header: six 32-bit words. */
  HEADER_MAX: 24,
  /** Largest packet after the length word (header + payload). */
  MESSAGE_MAX: 33554432,
  /** Largest payload. */
  PAYLOAD_MAX: 33554432 - 24,
  /** Initial receive buffer, and what an old peer accepts as payload. */
  INITIAL: 65536,
  LEGACY_PAYLOAD_MAX: 262120,
  /** `remote_nonnull_string<REMOTE_STRING_MAX>`. */
  STRING_MAX: 4194304,
  NUM_FDS_MAX: 32,
} as const;

/** Bytes of stream data per STREAM packet (libvirt sends at most its legacy payload size). */
export const STREAM_CHUNK = Limits.LEGACY_PAYLOAD_MAX;

/** Array maxima of `remote_protocol.x` that tvirt's procedures use. */
export const ListMax = {
  DOMAIN_LIST: 16384,
  AUTH_TYPE_LIST: 20,
  SECURITY_MODEL: 257,
  SECURITY_LABEL: 4097,
  SECURITY_DOI: 257,
  DOMAIN_MESSAGES: 2048,
  NETWORK_LIST: 16384,
  // storage: REMOTE_STORAGE_POOL_LIST_MAX, REMOTE_STORAGE_VOL_LIST_MAX
  STORAGE_POOL_LIST: 4096,
  STORAGE_VOL_LIST: 16384,
  NETWORK_PORT_LIST: 16384,
  SAVE_PARAMS: 64,
  // tuning and statistics
  DOMAIN_BLOCK_STATS_PARAMETERS: 16,
  DOMAIN_JOB_STATS: 64,
  DOMAIN_MEMORY_STATS: 1024,
  CONNECT_GET_ALL_DOMAIN_STATS: 262144,
  // graphical consoles: REMOTE_DOMAIN_SEND_KEY_MAX
  DOMAIN_SEND_KEY: 16,
} as const;

/** `virDrvFeature`: one table, in drivers/driver.ts (libvirt's driver.h numbers). */
export { DrvFeature } from "../drivers/enums.ts";

/** `remote_auth_type` */
export const AuthType = { NONE: 0, SASL: 1, POLKIT: 2 } as const;

/** KEEPALIVE program procedures. */
export const KeepAliveProc = { PING: 1, PONG: 2 } as const;

/** QEMU program procedures. */
export const QemuProc = {
  DOMAIN_MONITOR_COMMAND: 1,
  // tuning: qemu-monitor-event
  CONNECT_DOMAIN_MONITOR_EVENT_REGISTER: 4,
  CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER: 5,
  DOMAIN_MONITOR_EVENT: 6,
  DOMAIN_MONITOR_COMMAND_WITH_FILES: 7,
} as const;

/** `virDomainQemuMonitorCommandFlags` */
export const QemuMonitorCommandFlags = { DEFAULT: 0, HMP: 1 } as const;

/** REMOTE program procedures tvirt encodes or decodes (`REMOTE_PROC_*`). */
export const RemoteProc = {
  CONNECT_OPEN: 1,
  CONNECT_CLOSE: 2,
  CONNECT_GET_TYPE: 3,
  CONNECT_GET_VERSION: 4,
  CONNECT_GET_MAX_VCPUS: 5,
  NODE_GET_INFO: 6,
  CONNECT_GET_CAPABILITIES: 7,
  DOMAIN_CREATE: 9,
  DOMAIN_CREATE_XML: 10,
  DOMAIN_DEFINE_XML: 11,
  DOMAIN_DESTROY: 12,
  DOMAIN_GET_XML_DESC: 14,
  DOMAIN_GET_AUTOSTART: 15,
  DOMAIN_GET_INFO: 16,
  DOMAIN_GET_MAX_MEMORY: 17,
  DOMAIN_GET_OS_TYPE: 19,
  CONNECT_LIST_DEFINED_DOMAINS: 21,
  DOMAIN_LOOKUP_BY_ID: 22,
  DOMAIN_LOOKUP_BY_NAME: 23,
  DOMAIN_LOOKUP_BY_UUID: 24,
  CONNECT_NUM_OF_DEFINED_DOMAINS: 25,
  DOMAIN_REBOOT: 27,
  DOMAIN_RESUME: 28,
  DOMAIN_SET_AUTOSTART: 29,
  DOMAIN_SHUTDOWN: 33,
  DOMAIN_SUSPEND: 34,
  DOMAIN_UNDEFINE: 35,
  CONNECT_LIST_DOMAINS: 37,
  CONNECT_NUM_OF_DOMAINS: 51,
  DOMAIN_RESTORE: 54,
  DOMAIN_SAVE: 55,
  CONNECT_GET_HOSTNAME: 59,
  CONNECT_SUPPORTS_FEATURE: 60,
  AUTH_LIST: 66,
  AUTH_SASL_INIT: 67,
  AUTH_POLKIT: 70,
  NODE_GET_FREE_MEMORY: 102,
  NODE_GET_FREE_PAGES: 340,
  NODE_ALLOC_PAGES: 347,
  CONNECT_DOMAIN_EVENT_REGISTER: 105,
  CONNECT_DOMAIN_EVENT_DEREGISTER: 106,
  DOMAIN_EVENT_LIFECYCLE: 107,
  CONNECT_DOMAIN_XML_TO_NATIVE: 136,
  CONNECT_GET_URI: 110,
  DOMAIN_GET_SECURITY_LABEL: 121,
  NODE_GET_SECURITY_MODEL: 122,
  CONNECT_IS_SECURE: 149,
  DOMAIN_IS_ACTIVE: 150,
  DOMAIN_IS_PERSISTENT: 151,
  CONNECT_GET_LIB_VERSION: 157,
  DOMAIN_IS_UPDATED: 202,
  CONNECT_GET_SYSINFO: 203,
  CONNECT_DOMAIN_EVENT_REGISTER_ANY: 167,
  CONNECT_DOMAIN_EVENT_DEREGISTER_ANY: 168,
  DOMAIN_EVENT_REBOOT: 169,
  DOMAIN_EVENT_RTC_CHANGE: 170,
  DOMAIN_MANAGED_SAVE: 182,
  DOMAIN_HAS_MANAGED_SAVE_IMAGE: 183,
  DOMAIN_MANAGED_SAVE_REMOVE: 184,
  DOMAIN_SNAPSHOT_NUM: 187,
  DOMAIN_SNAPSHOT_LIST_NAMES: 188,
  DOMAIN_CREATE_WITH_FLAGS: 196,
  DOMAIN_OPEN_CONSOLE: 201,
  DOMAIN_SCREENSHOT: 211, // graphical consoles
  DOMAIN_GET_STATE: 212,
  DOMAIN_SEND_KEY: 226, // graphical consoles
  DOMAIN_SAVE_IMAGE_GET_XML_DESC: 235,
  DOMAIN_SAVE_IMAGE_DEFINE_XML: 236,
  DOMAIN_UNDEFINE_FLAGS: 231,
  DOMAIN_SAVE_FLAGS: 232,
  DOMAIN_RESTORE_FLAGS: 233,
  DOMAIN_DESTROY_FLAGS: 234,
  DOMAIN_RESET: 245,
  DOMAIN_SHUTDOWN_FLAGS: 258,
  CONNECT_LIST_ALL_DOMAINS: 273,
  DOMAIN_EVENT_BALLOON_CHANGE: 276,
  DOMAIN_EVENT_IO_ERROR_REASON: 195,
  DOMAIN_EVENT_DEVICE_REMOVED: 311,
  CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY: 316,
  CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY: 317,
  DOMAIN_EVENT_CALLBACK_LIFECYCLE: 318,
  DOMAIN_EVENT_CALLBACK_REBOOT: 319,
  DOMAIN_EVENT_CALLBACK_RTC_CHANGE: 320,
  DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE: 331,
  DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON: 324,
  DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED: 333,
  CONNECT_GET_DOMAIN_CAPABILITIES: 342,
  DOMAIN_DEFINE_XML_FLAGS: 350,
  DOMAIN_EVENT_CALLBACK_DEVICE_ADDED: 354,
  CONNECT_REGISTER_CLOSE_CALLBACK: 360,
  CONNECT_UNREGISTER_CLOSE_CALLBACK: 361,
  CONNECT_EVENT_CONNECTION_CLOSED: 362,
  DOMAIN_GET_MESSAGES: 426,
  DOMAIN_SAVE_PARAMS: 440,
  DOMAIN_RESTORE_PARAMS: 441,
  // device hotplug
  DOMAIN_ATTACH_DEVICE: 8,
  DOMAIN_DETACH_DEVICE: 13,
  DOMAIN_ATTACH_DEVICE_FLAGS: 160,
  DOMAIN_DETACH_DEVICE_FLAGS: 161,
  DOMAIN_UPDATE_DEVICE_FLAGS: 174,
  // tuning and statistics (setmem, setvcpus, dommemstat, domblkstat, domifstat, domstats)
  DOMAIN_GET_MAX_VCPUS: 18,
  DOMAIN_SET_MAX_MEMORY: 30,
  DOMAIN_SET_MEMORY: 31,
  DOMAIN_SET_VCPUS: 32,
  DOMAIN_BLOCK_STATS: 64,
  DOMAIN_INTERFACE_STATS: 65,
  DOMAIN_MEMORY_STATS: 159,
  DOMAIN_SET_VCPUS_FLAGS: 199,
  DOMAIN_GET_VCPUS_FLAGS: 200,
  DOMAIN_SET_MEMORY_FLAGS: 204,
  DOMAIN_BLOCK_STATS_FLAGS: 243,
  DOMAIN_SET_MEMORY_STATS_PERIOD: 308,
  CONNECT_GET_ALL_DOMAIN_STATS: 344,
  // jobs and migration tuning (issue 15: domjobinfo, domjobabort, migrate-set*)
  DOMAIN_GET_JOB_INFO: 163,
  DOMAIN_ABORT_JOB: 164,
  DOMAIN_MIGRATE_SET_MAX_DOWNTIME: 166,
  DOMAIN_MIGRATE_SET_MAX_SPEED: 207,
  DOMAIN_MIGRATE_GET_MAX_SPEED: 242,
  DOMAIN_GET_JOB_STATS: 298,
  DOMAIN_MIGRATE_GET_COMPRESSION_CACHE: 299,
  DOMAIN_MIGRATE_SET_COMPRESSION_CACHE: 300,
  DOMAIN_EVENT_CALLBACK_JOB_COMPLETED: 363,
  DOMAIN_MIGRATE_GET_MAX_DOWNTIME: 387,
  DOMAIN_ABORT_JOB_FLAGS: 442,
} as const;

/** `virDomainSaveParams` typed parameter names. */
export const SaveParam = { FILE: "file", DXML: "dxml" } as const;

/** `virTypedParameterType`: one table, in drivers/driver.ts. */
export { TypedParameterType as TypedParamType } from "../drivers/enums.ts";
