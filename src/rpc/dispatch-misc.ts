/**
 * Issue 20's procedures in the server's table (libvirt's remoteDispatch* of the same names):
 * each a call of src/api/host-cpu.ts on the client's connection. Node device event
 * registration is answered here: tvirt's node device driver does not watch udev yet, so a
 * registered callback gets no events, but registering and deregistering work as libvirt's
 * (virt-manager registers and then stops polling).
 */
import { Domain, type Connection } from "../api/index.ts";
import * as api from "../api/host-cpu.ts";
import type { DomainRef } from "../drivers/driver.ts";
import { VirtError } from "../util/errors/index.ts";
import type { CallContext, DispatchEntry } from "./dispatch.ts";
import { MiscProc as P } from "./remote-protocol-misc.ts";
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

/** libvirt's bitmap bytes: bit i of byte i/8 is CPU i. */
function bitmapBytes(members: readonly number[], bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (const m of members) if (m >= 0 && m < bytes * 8) b[m >> 3]! |= 1 << (m & 7);
  return b;
}

/** Node device event callbacks of each client (ids from one counter, as libvirt's). */
const nodeDevCallbacks = new WeakMap<ServerClient, Set<number>>();
let nextNodeDevCallback = 0;
/** VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE, VIR_NODE_DEVICE_EVENT_ID_UPDATE */
const NODE_DEVICE_EVENT_IDS = 2;

export function addMiscProcedures(t: Table): void {
  on(t, P.nodeGetCPUMap, async (ctx, a) => {
    const m = await api.nodeGetCPUMap(ctx.conn(), a.flags);
    return {
      cpumap: a.need_map ? bitmapBytes(m.online, Math.ceil(m.cpus / 8)) : Buffer.alloc(0),
      online: a.need_online ? m.online.length : 0,
      ret: m.cpus,
    };
  });
  on(t, P.nodeGetCPUStats, async (ctx, a) => {
    if (a.nparams > 16) throw new VirtError("TUNING_RPC_LIMIT", { what: "nparams too large" });
    const stats = await api.nodeGetCPUStats(ctx.conn(), a.cpuNum, a.flags);
    // nparams 0 asks how many there are (libvirt's two-call convention).
    if (a.nparams === 0) return { params: [], nparams: stats.length };
    const params = stats.slice(0, a.nparams);
    return { params, nparams: params.length };
  });
  on(t, P.domainGetVcpus, async (ctx, a) => {
    if (a.maxinfo > 16384)
      throw new VirtError("TUNING_RPC_LIMIT", { what: "vCPU information array too large" });
    if (a.maxinfo * a.maplen > 8388608)
      throw new VirtError("TUNING_RPC_LIMIT", { what: "vCPU map buffer length exceeds maximum" });
    const r = await api.domainGetVcpus(dom(ctx, a.dom));
    const info = r.info.slice(0, a.maxinfo);
    const maps = a.maplen > 0 ? info.map((_, i) => bitmapBytes(r.affinity[i] ?? [], a.maplen)) : [];
    return {
      info: info.map((v) => ({ number: v.number, state: v.state, cpu_time: v.cpuTime, cpu: v.cpu })),
      cpumaps: Buffer.concat(maps),
    };
  });
  on(t, P.domainSetMetadata, async (ctx, a) => {
    await api.domainSetMetadata(dom(ctx, a.dom), a.type, a.metadata, a.key, a.uri, a.flags);
  });
  on(t, P.domainGetMetadata, async (ctx, a) => ({
    metadata: await api.domainGetMetadata(dom(ctx, a.dom), a.type, a.uri, a.flags),
  }));
  on(t, P.domainInjectNMI, async (ctx, a) => {
    await api.domainInjectNMI(dom(ctx, a.dom), a.flags);
  });
  on(t, P.domainGetTime, async (ctx, a) => api.domainGetTime(dom(ctx, a.dom), a.flags));
  on(t, P.domainSetTime, async (ctx, a) => {
    await api.domainSetTime(dom(ctx, a.dom), a.seconds, a.nseconds, a.flags);
  });
  on(t, P.domainInterfaceAddresses, async (ctx, a) => ({
    ifaces: await api.domainInterfaceAddresses(dom(ctx, a.dom), a.source, a.flags),
  }));
  on(t, P.nodeDeviceIsActive, async (ctx, a) => ({
    active: (await api.nodeDeviceIsActive(ctx.conn(), a.name)) ? 1 : 0,
  }));
  on(t, P.nodeDeviceIsPersistent, async (ctx, a) => ({
    persistent: (await api.nodeDeviceIsPersistent(ctx.conn(), a.name)) ? 1 : 0,
  }));
  on(t, P.nodeDeviceGetAutostart, async (ctx, a) => ({
    autostart: (await api.nodeDeviceGetAutostart(ctx.conn(), a.name)) ? 1 : 0,
  }));
  on(t, P.nodeDeviceSetAutostart, async (ctx, a) => {
    await api.nodeDeviceSetAutostart(ctx.conn(), a.name, a.autostart !== 0);
  });
  on(t, P.nodeDeviceCreateXML, async (ctx, a) => ({
    dev: { name: await api.nodeDeviceCreateXML(ctx.conn(), a.xml_desc, a.flags) },
  }));
  on(t, P.nodeDeviceDefineXML, async (ctx, a) => ({
    dev: { name: await api.nodeDeviceDefineXML(ctx.conn(), a.xml_desc, a.flags) },
  }));
  on(t, P.nodeDeviceCreate, async (ctx, a) => {
    await api.nodeDeviceCreate(ctx.conn(), a.name, a.flags);
  });
  on(t, P.connectNodeDeviceEventRegisterAny, async (ctx, a) => {
    const conn: Connection = ctx.conn();
    if (a.eventID < 0 || a.eventID >= NODE_DEVICE_EVENT_IDS)
      throw new VirtError("API_INVALID_ARG", { what: `unsupported event ID ${a.eventID}` });
    // A device filter must name a device that exists (libvirt looks it up first).
    if (a.dev) await conn.lookupNodeDeviceByName(a.dev.name);
    let ids = nodeDevCallbacks.get(ctx.client);
    if (!ids) {
      ids = new Set();
      nodeDevCallbacks.set(ctx.client, ids);
    }
    const id = nextNodeDevCallback++;
    ids.add(id);
    return { callbackID: id };
  });
  on(t, P.connectNodeDeviceEventDeregisterAny, (ctx, a) => {
    ctx.conn();
    const ids = nodeDevCallbacks.get(ctx.client);
    if (!ids?.has(a.callbackID)) throw new VirtError("RPC_NO_CALLBACK", { id: a.callbackID });
    ids.delete(a.callbackID);
  });
}
