/**
 * The secret procedures of the daemon's table (libvirt's `remoteDispatchSecret*`,
 * `remoteDispatchConnect*Secret*`): each a call on the client connection's secret driver
 * through the `Connection`, so read-only refusal (SECRET_GET_VALUE included, as libvirtd
 * refuses it) and driver errors come out as the library reports them.
 */
import type { Connection } from "../api/index.ts";
import { SecretEventId, type SecretRef } from "../drivers/secret-driver.ts";
import { VirtError } from "../util/errors/index.ts";
import { Msg, Proc, type ProcDef } from "./remote-protocol.ts";
import type { CallContext, DispatchEntry } from "./dispatch.ts";
import type { ServerClient } from "./server.ts";

type Table = Map<string, DispatchEntry>;

function on<A, R>(table: Table, def: ProcDef<A, R>, fn: (ctx: CallContext, args: A) => Promise<R> | R): void {
  table.set(`${def.prog}:${def.num}`, { def, fn: async (ctx, args) => fn(ctx, args as A) });
}

const ref = (s: SecretRef): SecretRef => ({ uuid: s.uuid, usageType: s.usageType, usageID: s.usageID });
const secret = (ctx: CallContext, s: SecretRef): ReturnType<Connection["secret"]> =>
  ctx.conn().secret(ref(s));

/** The secret callback ids each client registered (deregistration checks it). */
const secretCallbacks = new WeakMap<ServerClient, Set<number>>();

/** Adds the secret procedures to the daemon's table. */
export function addSecretProcedures(t: Table): void {
  on(t, Proc.connectNumOfSecrets, async (ctx) => ({ num: await ctx.conn().numOfSecrets() }));
  on(t, Proc.connectListSecrets, async (ctx, a) => ({ uuids: await ctx.conn().listSecrets(a.maxuuids) }));
  on(t, Proc.connectListAllSecrets, async (ctx, a) => {
    const list = await ctx.conn().listAllSecrets(a.flags);
    return { secrets: a.need_results ? list.map((s) => s.ref()) : [], ret: list.length };
  });
  on(t, Proc.secretLookupByUUID, async (ctx, a) => ({
    secret: (await ctx.conn().secretLookupByUUID(a.uuid)).ref(),
  }));
  on(t, Proc.secretLookupByUsage, async (ctx, a) => ({
    secret: (await ctx.conn().secretLookupByUsage(a.usageType, a.usageID)).ref(),
  }));
  on(t, Proc.secretDefineXML, async (ctx, a) => ({
    secret: (await ctx.conn().secretDefineXML(a.xml, a.flags)).ref(),
  }));
  on(t, Proc.secretGetXMLDesc, async (ctx, a) => ({ xml: await secret(ctx, a.secret).getXMLDesc(a.flags) }));
  on(t, Proc.secretSetValue, async (ctx, a) => {
    await secret(ctx, a.secret).setValue(a.value, a.flags);
  });
  on(t, Proc.secretGetValue, async (ctx, a) => ({
    value: Buffer.from(await secret(ctx, a.secret).getValue(a.flags)),
  }));
  on(t, Proc.secretUndefine, async (ctx, a) => {
    await secret(ctx, a.secret).undefine();
  });
  on(t, Proc.connectSecretEventRegisterAny, async (ctx, a) => {
    const c = ctx.client;
    let ids = secretCallbacks.get(c);
    if (!ids) {
      ids = new Set();
      secretCallbacks.set(c, ids);
    }
    const mine = ids;
    let id = -1;
    id = await ctx
      .conn()
      .secretEventRegisterAny(a.secret ? secret(ctx, a.secret) : null, a.eventID, (s, ev) => {
        if (!mine.has(id)) return;
        if (ev.id === SecretEventId.LIFECYCLE)
          c.sendMessage(Msg.secretLifecycle, {
            callbackID: id,
            secret: s.ref(),
            event: ev.event,
            detail: ev.detail,
          });
        else c.sendMessage(Msg.secretValueChanged, { callbackID: id, secret: s.ref() });
      });
    mine.add(id);
    return { callbackID: id };
  });
  on(t, Proc.connectSecretEventDeregisterAny, async (ctx, a) => {
    const ids = secretCallbacks.get(ctx.client);
    if (!ids?.has(a.callbackID)) throw new VirtError("RPC_NO_CALLBACK", { id: a.callbackID });
    await ctx.conn().secretEventDeregisterAny(a.callbackID);
    ids.delete(a.callbackID);
  });
}
