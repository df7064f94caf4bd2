/**
 * Wire shapes of the guest agent's procedures (remote_protocol.x, qemu_protocol.x): fsfreeze,
 * fsthaw, fsinfo, user password, guest vCPUs, guest info, the agent response timeout, and the
 * QEMU program's DOMAIN_AGENT_COMMAND. Kept beside remote-protocol.ts (same conventions).
 */
import { array, int, struct, uint, VOID } from "./codec.ts";
import { Program } from "./protocol.ts";
import { nonnullDomain, nstring, ostring, typedParam, type ProcDef } from "./remote-protocol.ts";

function remote<A, R>(
  num: number,
  name: string,
  args: ProcDef<A, R>["args"],
  ret: ProcDef<A, R>["ret"],
): ProcDef<A, R> {
  return { prog: Program.REMOTE, num, name, args, ret };
}

/** REMOTE_DOMAIN_FSFREEZE_MOUNTPOINTS_MAX, _FSINFO_MAX, _FSINFO_DISKS_MAX, … */
const FSFREEZE_MOUNTPOINTS_MAX = 256;
const FSINFO_MAX = 256;
const FSINFO_DISKS_MAX = 256;
const GUEST_VCPU_PARAMS_MAX = 64;
const GUEST_INFO_PARAMS_MAX = 2048;

const freezeArgs = struct({
  dom: nonnullDomain,
  mountpoints: array(nstring, FSFREEZE_MOUNTPOINTS_MAX),
  flags: uint,
});
const domFlags = struct({ dom: nonnullDomain, flags: uint });

export const AgentProc = {
  domainFSFreeze: remote(335, "DOMAIN_FSFREEZE", freezeArgs, struct({ filesystems: int })),
  domainFSThaw: remote(336, "DOMAIN_FSTHAW", freezeArgs, struct({ filesystems: int })),
  domainGetFSInfo: remote(
    349,
    "DOMAIN_GET_FSINFO",
    domFlags,
    struct({
      info: array(
        struct({
          mountpoint: nstring,
          name: nstring,
          fstype: nstring,
          dev_aliases: array(nstring, FSINFO_DISKS_MAX),
        }),
        FSINFO_MAX,
      ),
      ret: uint,
    }),
  ),
  domainSetUserPassword: remote(
    357,
    "DOMAIN_SET_USER_PASSWORD",
    struct({ dom: nonnullDomain, user: ostring, password: ostring, flags: uint }),
    VOID,
  ),
  domainGetGuestVcpus: remote(
    371,
    "DOMAIN_GET_GUEST_VCPUS",
    domFlags,
    struct({ params: array(typedParam, GUEST_VCPU_PARAMS_MAX) }),
  ),
  domainSetGuestVcpus: remote(
    372,
    "DOMAIN_SET_GUEST_VCPUS",
    struct({ dom: nonnullDomain, cpumap: nstring, state: int, flags: uint }),
    VOID,
  ),
  domainGetGuestInfo: remote(
    418,
    "DOMAIN_GET_GUEST_INFO",
    struct({ dom: nonnullDomain, types: uint, flags: uint }),
    struct({ params: array(typedParam, GUEST_INFO_PARAMS_MAX) }),
  ),
  domainAgentSetResponseTimeout: remote(
    420,
    "DOMAIN_AGENT_SET_RESPONSE_TIMEOUT",
    struct({ dom: nonnullDomain, timeout: int, flags: uint }),
    struct({ result: int }),
  ),
  qemuDomainAgentCommand: {
    prog: Program.QEMU,
    num: 3,
    name: "DOMAIN_AGENT_COMMAND",
    args: struct({ dom: nonnullDomain, cmd: nstring, timeout: int, flags: uint }),
    ret: struct({ result: ostring }),
  },
};
