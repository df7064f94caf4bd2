/**
 * The domain snapshot procedures of the daemon's table (libvirt's
 * `remoteDispatchDomainSnapshot*`, `remoteDispatchDomainListAllSnapshots`, …): each a call of the
 * `DomainSnapshot` API on the client's connection, so the read-only refusal of create, revert and
 * delete and the driver's own errors come out as the library reports them. A snapshot goes back
 * over the wire with the domain the client named (libvirt's make_nonnull_domain_snapshot).
 */
import { Domain, DomainSnapshot } from "../api/index.ts";
import type { DomainRef } from "../drivers/driver.ts";
import type { CallContext, DispatchEntry } from "./dispatch.ts";
import { SnapshotProc as P, type WireSnapshot } from "./remote-protocol-snapshot.ts";
import type { ProcDef } from "./remote-protocol.ts";

type Table = Map<string, DispatchEntry>;

function on<A, R>(t: Table, def: ProcDef<A, R>, fn: (ctx: CallContext, args: A) => Promise<R> | R): void {
  t.set(`${def.prog}:${def.num}`, { def, fn: async (ctx, args) => fn(ctx, args as A) });
}

const wireDom = (d: DomainRef): DomainRef => ({ name: d.name, uuid: d.uuid, id: d.id });
const domain = (ctx: CallContext, d: DomainRef): Domain => new Domain(ctx.conn(), wireDom(d));
const snapshot = (ctx: CallContext, s: WireSnapshot): DomainSnapshot =>
  new DomainSnapshot(domain(ctx, s.dom), s.name);
const wire = (s: DomainSnapshot): WireSnapshot => ({ name: s.name, dom: wireDom(s.domain.ref()) });

/** Adds the snapshot procedures to the daemon's table. */
export function addSnapshotProcedures(t: Table): void {
  on(t, P.createXML, async (ctx, a) => ({
    snap: wire(await domain(ctx, a.dom).snapshotCreateXML(a.xml_desc, a.flags)),
  }));
  on(t, P.getXMLDesc, async (ctx, a) => ({ xml: await snapshot(ctx, a.snap).getXMLDesc(a.flags) }));
  on(t, P.lookupByName, async (ctx, a) => ({
    snap: wire(await domain(ctx, a.dom).snapshotLookupByName(a.name, a.flags)),
  }));
  on(t, P.hasCurrent, async (ctx, a) => ({ result: await domain(ctx, a.dom).hasCurrentSnapshot(a.flags) }));
  on(t, P.current, async (ctx, a) => ({ snap: wire(await domain(ctx, a.dom).snapshotCurrent(a.flags)) }));
  on(t, P.revert, async (ctx, a) => {
    await snapshot(ctx, a.snap).revert(a.flags);
  });
  on(t, P.delete, async (ctx, a) => {
    await snapshot(ctx, a.snap).delete(a.flags);
  });
  on(t, P.getParent, async (ctx, a) => ({ snap: wire(await snapshot(ctx, a.snap).getParent(a.flags)) }));
  on(t, P.numChildren, async (ctx, a) => ({ num: await snapshot(ctx, a.snap).numChildren(a.flags) }));
  on(t, P.listChildrenNames, async (ctx, a) => {
    const list = await snapshot(ctx, a.snap).listAllChildren(a.flags);
    return { names: list.slice(0, Math.max(0, a.maxnames)).map((s) => s.name) };
  });
  on(t, P.isCurrent, async (ctx, a) => ({ current: await snapshot(ctx, a.snap).isCurrent(a.flags) }));
  on(t, P.hasMetadata, async (ctx, a) => ({ metadata: await snapshot(ctx, a.snap).hasMetadata(a.flags) }));
  on(t, P.listAll, async (ctx, a) => {
    const list = await domain(ctx, a.dom).listAllSnapshots(a.flags);
    return { snapshots: a.need_results ? list.map(wire) : [], ret: list.length };
  });
  on(t, P.listAllChildren, async (ctx, a) => {
    const list = await snapshot(ctx, a.snapshot).listAllChildren(a.flags);
    return { snapshots: a.need_results ? list.map(wire) : [], ret: list.length };
  });
}
