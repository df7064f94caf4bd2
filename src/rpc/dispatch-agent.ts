/**
 * The guest agent's procedures in the server's table (libvirt's remoteDispatch* of the same
 * names and the QEMU program's DOMAIN_AGENT_COMMAND): each a call of src/api/agent.ts on the
 * client's connection.
 */
import { Domain } from "../api/index.ts";
import * as api from "../api/agent.ts";
import type { DomainRef } from "../drivers/driver.ts";
import type { CallContext, DispatchEntry } from "./dispatch.ts";
import { AgentProc as P } from "./remote-protocol-agent.ts";
import type { ProcDef } from "./remote-protocol.ts";

type Table = Map<string, DispatchEntry>;

function on<A, R>(t: Table, def: ProcDef<A, R>, fn: (ctx: CallContext, args: A) => Promise<R> | R): void {
  t.set(`${def.prog}:${def.num}`, {
    def,
    fn: fn as (ctx: CallContext, args: unknown) => Promise<unknown>,
  });
}

const dom = (ctx: CallContext, ref: DomainRef): Domain =>
  new Domain(ctx.conn(), { name: ref.name, uuid: ref.uuid, id: ref.id });

export function addAgentProcedures(t: Table): void {
  on(t, P.domainFSFreeze, async (ctx, a) => ({
    filesystems: await api.domainFSFreeze(dom(ctx, a.dom), a.mountpoints, a.flags),
  }));
  on(t, P.domainFSThaw, async (ctx, a) => ({
    filesystems: await api.domainFSThaw(dom(ctx, a.dom), a.mountpoints, a.flags),
  }));
  on(t, P.domainGetFSInfo, async (ctx, a) => {
    const info = await api.domainGetFSInfo(dom(ctx, a.dom), a.flags);
    return {
      info: info.map((f) => ({
        mountpoint: f.mountpoint,
        name: f.name,
        fstype: f.fstype,
        dev_aliases: f.devAliases,
      })),
      ret: info.length,
    };
  });
  on(t, P.domainSetUserPassword, async (ctx, a) => {
    await api.domainSetUserPassword(dom(ctx, a.dom), a.user ?? "", a.password ?? "", a.flags);
  });
  on(t, P.domainGetGuestVcpus, async (ctx, a) => ({
    params: await api.domainGetGuestVcpus(dom(ctx, a.dom), a.flags),
  }));
  on(t, P.domainSetGuestVcpus, async (ctx, a) => {
    await api.domainSetGuestVcpus(dom(ctx, a.dom), a.cpumap, a.state, a.flags);
  });
  on(t, P.domainGetGuestInfo, async (ctx, a) => ({
    params: await api.domainGetGuestInfo(dom(ctx, a.dom), a.types, a.flags),
  }));
  on(t, P.domainAgentSetResponseTimeout, async (ctx, a) => {
    await api.domainAgentSetResponseTimeout(dom(ctx, a.dom), a.timeout, a.flags);
    return { result: 0 };
  });
  on(t, P.qemuDomainAgentCommand, async (ctx, a) => ({
    result: await api.domainQemuAgentCommand(dom(ctx, a.dom), a.cmd, a.timeout, a.flags),
  }));
}
