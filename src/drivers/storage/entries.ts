/**
 * What the storage drivers (the real one and test:///default's) share in the entries of a
 * connection: the pool event registrations (as network/common.ts's eventEntries).
 */
import { VirtError } from "../../util/errors/index.ts";
import { entry } from "../entry.ts";
import { StoragePoolEventId } from "../storage-driver.ts";
import type { EventHub } from "../events.ts";
import type {
  StorageDriverConnection,
  StoragePoolEvent,
  StoragePoolEventCallback,
  StoragePoolRef,
} from "../storage-driver.ts";

/**
 * One connection's pool event entries on `events`, and its `close`, which drops the
 * connection's registrations (and leaves the driver and its pools).
 */
export function poolEventEntries(
  events: EventHub<StoragePoolEvent>,
): Pick<
  StorageDriverConnection,
  "close" | "connectStoragePoolEventRegisterAny" | "connectStoragePoolEventDeregisterAny"
> {
  const owner = {};
  return {
    close: () => {
      events.removeOwner(owner);
      return Promise.resolve();
    },
    connectStoragePoolEventRegisterAny: entry(
      (pool: StoragePoolRef | null, eventID: number, cb: StoragePoolEventCallback) => {
        if (eventID !== StoragePoolEventId.LIFECYCLE && eventID !== StoragePoolEventId.REFRESH) {
          throw new VirtError("API_INVALID_ARG", { what: `unsupported event ID ${eventID}` });
        }
        return events.add(
          owner,
          pool?.uuid ?? null,
          (e) => e.id === eventID,
          (r, e) => {
            cb({ name: r.name, uuid: r.uuid }, e);
          },
        );
      },
    ),
    connectStoragePoolEventDeregisterAny: entry((id: number) => {
      if (!events.remove(owner, id)) {
        throw new VirtError("API_INVALID_ARG", {
          what: `could not find event callback ${id} for deletion`,
        });
      }
    }),
  };
}
