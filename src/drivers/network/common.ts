/**
 * What the host network driver (`driver.ts`) and the in-memory networks of `test:///default`
 * (`memory.ts`) do alike: references, lookups and name/UUID clashes over their networks, the
 * lifecycle events and the per-connection event entries, and turning driver methods into API
 * entries.
 */
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { entry } from "../entry.ts";
import { updateNetworkDef, type NetworkDef } from "../../conf/network/index.ts";
import { validateAgainstSchema } from "../../host/xml-schema.ts";
import type { EventHub } from "../events.ts";
import {
  NetworkEventId,
  NetworkUpdateFlags,
  type NetworkDriverConnection,
  type NetworkLifecycleEvent,
  type NetworkRef,
} from "../network-driver.ts";

/** A network as either driver keeps it: at least its definition. */
export interface HasDef {
  def: NetworkDef;
}

export function refOf(o: HasDef): NetworkRef {
  return { name: o.def.name, uuid: o.def.uuid };
}

/** The network named `name`, or NETWORK_NOT_FOUND. */
export function findByName<O extends HasDef>(objs: ReadonlyMap<string, O>, name: string): O {
  const o = objs.get(name);
  if (!o) throw new VirtError("NETWORK_NOT_FOUND", { key: "name", value: name });
  return o;
}

/** The network with this UUID (any case), or NETWORK_NOT_FOUND. */
export function findByUUID<O extends HasDef>(objs: ReadonlyMap<string, O>, uuid: string): O {
  const o = [...objs.values()].find((x) => x.def.uuid === uuid.toLowerCase());
  if (!o) throw new VirtError("NETWORK_NOT_FOUND", { key: "uuid", value: uuid });
  return o;
}

/**
 * The network a new definition replaces (same name and UUID), if any; NETWORK_EXISTS when the
 * name is taken by another UUID, NETWORK_UUID_EXISTS when the UUID is taken by another name.
 */
export function existingFor<O extends HasDef>(objs: ReadonlyMap<string, O>, def: NetworkDef): O | undefined {
  const existing = objs.get(def.name);
  if (existing && existing.def.uuid !== def.uuid) {
    throw new VirtError("NETWORK_EXISTS", { name: def.name, uuid: existing.def.uuid });
  }
  const other = [...objs.values()].find((o) => o.def.uuid === def.uuid && o.def.name !== def.name);
  if (other) throw new VirtError("NETWORK_UUID_EXISTS", { name: other.def.name, uuid: def.uuid });
  return existing;
}

/** The bridge of a network's definition `def` (`name`'s), or libvirt's error when it has none. */
export function bridgeNameOf(name: string, def: NetworkDef): string {
  if (def.bridge === undefined) {
    throw new VirtError("NETWORK_CONFIG_UNSUPPORTED", {
      what: `network '${name}' does not have a bridge name.`,
    });
  }
  return def.bridge;
}

/** The `VALIDATE` flag of define/create: the XML against libvirt's network schema. */
export function validateNetworkXML(xml: string): Promise<void> {
  return validateAgainstSchema(xml, "network", { document: "(network_definition)" });
}

/** A lifecycle event of a network (`event`: NetworkEventLifecycleType). */
export function emitLifecycle(events: EventHub<NetworkLifecycleEvent>, o: HasDef, event: number): void {
  events.emit(
    { name: o.def.name, uuid: o.def.uuid, id: -1 },
    { id: NetworkEventId.LIFECYCLE, event, detail: 0 },
  );
}

/** One connection's `close` and event entries: its callbacks go with it. */
export function eventEntries(
  events: EventHub<NetworkLifecycleEvent>,
): Pick<
  NetworkDriverConnection,
  "close" | "connectNetworkEventRegisterAny" | "connectNetworkEventDeregisterAny"
> {
  const owner = {};
  return {
    close: () => {
      events.removeOwner(owner);
      return Promise.resolve();
    },
    connectNetworkEventRegisterAny: entry(
      (net: NetworkRef | null, eventID: number, cb: (n: NetworkRef, e: NetworkLifecycleEvent) => void) => {
        if (eventID !== NetworkEventId.LIFECYCLE) {
          throw new VirtError("API_INVALID_ARG", { what: `unsupported event ID ${eventID}` });
        }
        return events.add(
          owner,
          net?.uuid ?? null,
          () => true,
          (r, e) => {
            cb({ name: r.name, uuid: r.uuid }, e);
          },
        );
      },
    ),
    connectNetworkEventDeregisterAny: entry((id: number) => {
      if (!events.remove(owner, id)) {
        throw new VirtError("API_INVALID_ARG", {
          what: `could not find event callback ${id} for deletion`,
        });
      }
    }),
  };
}

/** The arguments of one virNetworkUpdate. */
export interface NetworkUpdateArgs {
  readonly command: number;
  readonly section: number;
  readonly parentIndex: number;
  readonly xml: string;
  readonly flags: number;
}

/** What an update changes: the new live definition and/or the new persistent one. */
export interface NetworkUpdatePlan {
  live?: NetworkDef;
  config?: NetworkDef;
}

/**
 * libvirt's virNetworkObjUpdate without the commit: resolves AFFECT_CURRENT (live when running,
 * else config), refuses live changes to a stopped network and config changes to a transient
 * one, and applies the update to copies of the live and the persistent definition. Both copies
 * are made before either is committed, so a failure leaves the network as it was.
 */
export function planNetworkUpdate(
  o: { readonly name: string; readonly active: boolean; readonly persistent: boolean },
  live: NetworkDef,
  config: NetworkDef,
  a: NetworkUpdateArgs,
  fn: string,
): NetworkUpdatePlan {
  const F = NetworkUpdateFlags;
  checkFlags(a.flags, F.AFFECT_LIVE | F.AFFECT_CONFIG, fn);
  let flags = a.flags;
  if ((flags & (F.AFFECT_LIVE | F.AFFECT_CONFIG)) === F.AFFECT_CURRENT) {
    flags |= o.active ? F.AFFECT_LIVE : F.AFFECT_CONFIG;
  }
  if (!o.active && flags & F.AFFECT_LIVE) throw new VirtError("NETWORK_UPDATE_NOT_RUNNING");
  if (flags & F.AFFECT_CONFIG && !o.persistent) {
    throw new VirtError("NETWORK_TRANSIENT", {
      what: "cannot change persistent config of a transient network",
    });
  }
  const plan: NetworkUpdatePlan = {};
  if (flags & F.AFFECT_LIVE) plan.live = updateNetworkDef(live, a.command, a.section, a.parentIndex, a.xml);
  if (flags & F.AFFECT_CONFIG) {
    plan.config = updateNetworkDef(config, a.command, a.section, a.parentIndex, a.xml);
  }
  return plan;
}
