import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { QapiSchema } from "./schema.ts";
import { parseQmpReplies } from "../../../testing/qemu/monitor-fake-server.ts";
import { corpusOrSkip } from "../../../testing/corpus.ts";

/** A tiny schema in QEMU's introspection format covering every kind of step. */
const small = new QapiSchema([
  {
    name: "netdev_add",
    "meta-type": "command",
    "arg-type": "Netdev",
    "ret-type": "0",
    features: ["json-cli"],
  },
  { name: "query-things", "meta-type": "command", "arg-type": "0", "ret-type": "[Thing]" },
  { name: "STOP", "meta-type": "event", "arg-type": "0" },
  { name: "0", "meta-type": "object", members: [] },
  {
    name: "Netdev",
    "meta-type": "object",
    members: [
      { name: "id", type: "str" },
      { name: "type", type: "NetKind" },
    ],
    tag: "type",
    variants: [
      { case: "stream", type: "NetStream" },
      { case: "user", type: "0" },
    ],
  },
  {
    name: "NetKind",
    "meta-type": "enum",
    members: [{ name: "stream" }, { name: "user" }, { name: "dgram", features: ["unstable"] }],
  },
  { name: "OldEnum", "meta-type": "enum", values: ["a", "b"] },
  {
    name: "NetStream",
    "meta-type": "object",
    members: [
      { name: "addr", type: "Addr" },
      { name: "reconnect", type: "int", default: null },
      { name: "server", type: "bool" },
    ],
    features: ["fancy"],
  },
  { name: "Addr", "meta-type": "alternate", members: [{ type: "str" }, { type: "AddrObj" }] },
  { name: "AddrObj", "meta-type": "object", members: [{ name: "path", type: "str" }] },
  { name: "[Thing]", "meta-type": "array", "element-type": "Thing" },
  { name: "Thing", "meta-type": "object", members: [{ name: "kind", type: "OldEnum" }] },
  { name: "str", "meta-type": "builtin", "json-type": "string" },
  { name: "int", "meta-type": "builtin", "json-type": "int" },
  { name: "bool", "meta-type": "builtin", "json-type": "boolean" },
]);

void test("schema paths: commands, members, variants, optional members", () => {
  assert.ok(small.hasCommand("netdev_add"));
  assert.ok(small.hasCommand("STOP"));
  assert.ok(!small.hasCommand("Netdev"));
  assert.ok(small.query("netdev_add"));
  assert.ok(small.query("netdev_add/arg-type/+stream"));
  assert.ok(small.query("netdev_add/arg-type/+stream/reconnect"));
  assert.ok(small.query("netdev_add/arg-type/+stream/*reconnect"), "reconnect is optional");
  assert.ok(!small.query("netdev_add/arg-type/+stream/*server"), "server is mandatory");
  assert.ok(!small.query("netdev_add/arg-type/+dgram"));
  assert.ok(!small.query("netdev_add/arg-type/+stream/nosuch"));
  assert.ok(!small.query("nosuch/arg-type"));
  assert.ok(!small.query(""));
});

void test("schema paths: enum values, builtin types, features, arrays, alternates", () => {
  assert.ok(small.query("netdev_add/arg-type/type/^dgram"));
  assert.ok(!small.query("netdev_add/arg-type/type/^vde"));
  assert.ok(small.query("netdev_add/arg-type/type/^dgram/$unstable"));
  assert.ok(!small.query("netdev_add/arg-type/type/^stream/$unstable"));
  assert.ok(
    small.query("query-things/ret-type/kind/^b"),
    "arrays are looked through; old 'values' enums work",
  );
  assert.ok(!small.query("query-things/ret-type/kind/^b/$x"), "old enums have no features");
  assert.ok(small.query("netdev_add/$json-cli"));
  assert.ok(!small.query("netdev_add/$json-cli/more"), "a feature step must be last");
  assert.ok(small.query("netdev_add/arg-type/+stream/$fancy"));
  assert.ok(small.query("netdev_add/arg-type/+stream/server/!boolean"));
  assert.ok(!small.query("netdev_add/arg-type/+stream/server/!string"));
  assert.ok(small.query("netdev_add/arg-type/+stream/addr/path"), "alternates try each branch");
  assert.ok(small.query("netdev_add/arg-type/+stream/addr/!string"));
  assert.ok(!small.query("netdev_add/arg-type/+stream/addr/port"));
  assert.ok(!small.query("netdev_add/arg-type/^stream"), "an enum step on an object is false");
});

void test("schema paths against QEMU 7.2's real schema (libvirt's recorded probe)", (t) => {
  const corpus = corpusOrSkip(t);
  if (!corpus) return;
  const ex = parseQmpReplies(readFileSync(join(corpus, "caps", "caps_7.2.0_x86_64.replies"), "utf8"));
  const reply = ex.find((e) => e.request.execute === "query-qmp-schema")?.reply.return;
  assert.ok(Array.isArray(reply));
  const schema = new QapiSchema(reply);
  assert.ok(schema.size > 1000);
  const yes = [
    "netdev_add/arg-type/+stream",
    "netdev_add/arg-type/type/^dgram",
    "object-add/arg-type/qom-type/^secret",
    "device_add/$json-cli",
    "device_add/$json-cli-hotplug",
    "blockdev-add/arg-type/+file/aio/^io_uring",
    "blockdev-add/arg-type/+file/$dynamic-auto-read-only",
    "query-display-options/ret-type/+egl-headless/rendernode",
    "screendump/arg-type/format/^png",
    "query-hotpluggable-cpus/ret-type/props/die-id",
    "chardev-add/arg-type/backend/+socket/data/reconnect",
  ];
  const no = [
    "netdev_add/arg-type/+stream/reconnect",
    "block-stream/arg-type/backing-mask-protocol",
    "blockdev-add/arg-type/+qcow2/discard-no-unref",
    "blockdev-add/arg-type/+rbd/encrypt/parent",
    "migrate-incoming/arg-type/exit-on-error",
  ];
  for (const q of yes) assert.ok(schema.query(q), `QEMU 7.2 has ${q}`);
  for (const q of no) assert.ok(!schema.query(q), `QEMU 7.2 lacks ${q}`);
});
