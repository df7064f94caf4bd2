/**
 * Wire shapes of issue 20's procedures (remote_protocol.x): host CPU map and statistics, vCPU
 * threads, metadata, NMI, guest time, interface addresses, node device lifecycle and node
 * device event registration. Kept beside remote-protocol.ts (same conventions) so the big table
 * stays untouched by this work.
 */
import { array, hyper, int, optional, struct, uhyper, uint, varOpaque, VOID, type Codec } from "./codec.ts";
import { Program } from "./protocol.ts";
import { nonnullDomain, nstring, ostring, type ProcDef } from "./remote-protocol.ts";

function remote<A, R>(num: number, name: string, args: Codec<A>, ret: Codec<R>): ProcDef<A, R> {
  return { prog: Program.REMOTE, num, name, args, ret };
}

/** REMOTE_CPUMAP_MAX, REMOTE_NODE_CPU_STATS_MAX, REMOTE_VCPUINFO_MAX, REMOTE_CPUMAPS_MAX … */
const CPUMAP_MAX = 2048;
const NODE_CPU_STATS_MAX = 16;
const VCPUINFO_MAX = 16384;
const CPUMAPS_MAX = 8388608;
const DOMAIN_INTERFACE_MAX = 2048;
const DOMAIN_IP_ADDR_MAX = 2048;
const devName = struct({ name: nstring });

export const MiscProc = {
  nodeGetCPUMap: remote(
    293,
    "NODE_GET_CPU_MAP",
    struct({ need_map: int, need_online: int, flags: uint }),
    struct({ cpumap: varOpaque(CPUMAP_MAX), online: uint, ret: int }),
  ),
  nodeGetCPUStats: remote(
    227,
    "NODE_GET_CPU_STATS",
    struct({ cpuNum: int, nparams: int, flags: uint }),
    struct({ params: array(struct({ field: nstring, value: uhyper }), NODE_CPU_STATS_MAX), nparams: int }),
  ),
  domainGetVcpus: remote(
    20,
    "DOMAIN_GET_VCPUS",
    struct({ dom: nonnullDomain, maxinfo: int, maplen: int }),
    struct({
      info: array(struct({ number: uint, state: int, cpu_time: uhyper, cpu: int }), VCPUINFO_MAX),
      cpumaps: varOpaque(CPUMAPS_MAX),
    }),
  ),
  domainSetMetadata: remote(
    264,
    "DOMAIN_SET_METADATA",
    struct({ dom: nonnullDomain, type: int, metadata: ostring, key: ostring, uri: ostring, flags: uint }),
    VOID,
  ),
  domainGetMetadata: remote(
    265,
    "DOMAIN_GET_METADATA",
    struct({ dom: nonnullDomain, type: int, uri: ostring, flags: uint }),
    struct({ metadata: nstring }),
  ),
  domainInjectNMI: remote(210, "DOMAIN_INJECT_NMI", struct({ dom: nonnullDomain, flags: uint }), VOID),
  domainGetTime: remote(
    337,
    "DOMAIN_GET_TIME",
    struct({ dom: nonnullDomain, flags: uint }),
    struct({ seconds: hyper, nseconds: uint }),
  ),
  domainSetTime: remote(
    338,
    "DOMAIN_SET_TIME",
    struct({ dom: nonnullDomain, seconds: hyper, nseconds: uint, flags: uint }),
    VOID,
  ),
  domainInterfaceAddresses: remote(
    353,
    "DOMAIN_INTERFACE_ADDRESSES",
    struct({ dom: nonnullDomain, source: uint, flags: uint }),
    struct({
      ifaces: array(
        struct({
          name: nstring,
          hwaddr: ostring,
          addrs: array(struct({ type: int, addr: nstring, prefix: uint }), DOMAIN_IP_ADDR_MAX),
        }),
        DOMAIN_INTERFACE_MAX,
      ),
    }),
  ),
  nodeDeviceIsActive: remote(436, "NODE_DEVICE_IS_ACTIVE", devName, struct({ active: int })),
  nodeDeviceIsPersistent: remote(435, "NODE_DEVICE_IS_PERSISTENT", devName, struct({ persistent: int })),
  nodeDeviceGetAutostart: remote(433, "NODE_DEVICE_GET_AUTOSTART", devName, struct({ autostart: int })),
  nodeDeviceSetAutostart: remote(
    434,
    "NODE_DEVICE_SET_AUTOSTART",
    struct({ name: nstring, autostart: int }),
    VOID,
  ),
  nodeDeviceCreateXML: remote(
    123,
    "NODE_DEVICE_CREATE_XML",
    struct({ xml_desc: nstring, flags: uint }),
    struct({ dev: devName }),
  ),
  nodeDeviceDefineXML: remote(
    428,
    "NODE_DEVICE_DEFINE_XML",
    struct({ xml_desc: nstring, flags: uint }),
    struct({ dev: devName }),
  ),
  nodeDeviceCreate: remote(430, "NODE_DEVICE_CREATE", struct({ name: nstring, flags: uint }), VOID),
  connectNodeDeviceEventRegisterAny: remote(
    374,
    "CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY",
    struct({ eventID: int, dev: optional(devName) }),
    struct({ callbackID: int }),
  ),
  connectNodeDeviceEventDeregisterAny: remote(
    375,
    "CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY",
    struct({ callbackID: int }),
    VOID,
  ),
};
