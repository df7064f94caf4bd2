import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../util/errors/index.ts";
import type { DomainEvent, DomainRef } from "./driver.ts";
import { DomainEventId, DomainEventType } from "./enums.ts";
import { DomainEventHub, EventHub } from "./events.ts";

const a: DomainRef = { name: "a", uuid: "00000000-0000-0000-0000-00000000000a", id: 1 };
const b: DomainRef = { name: "b", uuid: "00000000-0000-0000-0000-00000000000b", id: 2 };

const started: DomainEvent = { id: DomainEventId.LIFECYCLE, event: DomainEventType.STARTED, detail: 0 };
const stopped: DomainEvent = { id: DomainEventId.LIFECYCLE, event: DomainEventType.STOPPED, detail: 0 };
const reboot: DomainEvent = { id: DomainEventId.REBOOT };

/** Lets the hub's scheduled delivery run. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("callbacks get their event id, in order, after the emitting call, with a copy of the ref", async () => {
  const hub = new DomainEventHub();
  const owner = {};
  const got: string[] = [];
  const id1 = hub.register(owner, null, DomainEventId.LIFECYCLE, (dom, ev) => {
    got.push(`life ${dom.name} ${ev.id === DomainEventId.LIFECYCLE ? ev.event : -1}`);
  });
  const id2 = hub.register(owner, null, DomainEventId.REBOOT, (dom) => {
    got.push(`reboot ${dom.name}`);
  });
  assert.deepEqual([id1, id2], [1, 2]);
  const ref = { ...a };
  hub.emit(ref, started);
  hub.emit(b, reboot);
  hub.emit(ref, stopped);
  ref.name = "renamed";
  assert.deepEqual(got, [], "nothing is delivered inside the call that emits");
  await nextTurn();
  assert.deepEqual(got, [
    `life a ${DomainEventType.STARTED}`,
    "reboot b",
    `life a ${DomainEventType.STOPPED}`,
  ]);
  hub.dispose();
});

test("a callback limited to a domain sees only that domain's events", async () => {
  const hub = new DomainEventHub();
  const seen: string[] = [];
  hub.register({}, b.uuid, DomainEventId.LIFECYCLE, (dom) => seen.push(dom.name));
  hub.emit(a, started);
  hub.emit(b, started);
  await nextTurn();
  assert.deepEqual(seen, ["b"]);
  hub.dispose();
});

test("a callback that throws does not keep the event from the next one", async () => {
  const hub = new DomainEventHub();
  let second = 0;
  hub.register({}, null, DomainEventId.LIFECYCLE, () => {
    throw new Error("callback failed");
  });
  hub.register({}, null, DomainEventId.LIFECYCLE, () => second++);
  hub.emit(a, started);
  await nextTurn();
  assert.equal(second, 1);
  hub.dispose();
});

test("deregistering needs the owner's id; a wrong one is libvirt's invalid-argument error", async () => {
  const hub = new DomainEventHub();
  const mine = {};
  const theirs = {};
  let count = 0;
  const id = hub.register(mine, null, DomainEventId.LIFECYCLE, () => count++);
  for (const [owner, bad] of [
    [theirs, id],
    [mine, id + 1],
  ] as const) {
    assert.throws(
      () => {
        hub.deregister(owner, bad);
      },
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "API_INVALID_ARG" &&
        e.message.includes(`could not find event callback ${bad} for deletion`),
    );
  }
  hub.emit(a, started);
  await nextTurn();
  assert.equal(count, 1, "a refused deregistration leaves the callback in place");
  hub.deregister(mine, id);
  assert.throws(() => {
    hub.deregister(mine, id);
  }, /could not find event callback 1 for deletion/);
  hub.emit(a, started);
  await nextTurn();
  assert.equal(count, 1);
  assert.equal(hub.idle, true);
  assert.equal(
    hub.register(mine, null, DomainEventId.LIFECYCLE, () => count++),
    2,
    "ids are not reused",
  );
  hub.dispose();
});

test("removeOwner drops one connection's callbacks and keeps the others'", async () => {
  const hub = new DomainEventHub();
  const closing = {};
  const staying = {};
  const seen: string[] = [];
  hub.register(closing, null, DomainEventId.LIFECYCLE, () => seen.push("closing"));
  hub.register(staying, null, DomainEventId.LIFECYCLE, () => seen.push("staying"));
  hub.removeOwner(closing);
  hub.emit(a, started);
  await nextTurn();
  assert.deepEqual(seen, ["staying"]);
  hub.dispose();
});

test("an idle hub drops events; dispose cancels what is queued", async () => {
  const hub = new DomainEventHub();
  hub.emit(a, started);
  let count = 0;
  hub.register({}, null, DomainEventId.LIFECYCLE, () => count++);
  await nextTurn();
  assert.equal(count, 0, "an event emitted while nobody listened is not delivered later");
  hub.emit(a, started);
  hub.dispose();
  await nextTurn();
  assert.equal(count, 0);
  assert.equal(hub.idle, true);
});

test("flush delivers at once; a tap sees every event even with no callback", async () => {
  const hub = new EventHub<{ readonly name: string }>();
  const tapped: string[] = [];
  hub.tap = (dom, ev) => tapped.push(`${dom.name}:${ev.name}`);
  hub.emit(a, { name: "X" });
  hub.flush();
  assert.deepEqual(tapped, ["a:X"]);
  const matched: string[] = [];
  hub.add(
    {},
    null,
    (ev) => ev.name.startsWith("BLOCK"),
    (_dom, ev) => matched.push(ev.name),
  );
  hub.emit(b, { name: "BLOCK_JOB_READY" });
  hub.emit(b, { name: "RESUME" });
  await nextTurn();
  assert.deepEqual(matched, ["BLOCK_JOB_READY"], "the registration's filter decides");
  assert.deepEqual(tapped, ["a:X", "b:BLOCK_JOB_READY", "b:RESUME"]);
  hub.dispose();
});
