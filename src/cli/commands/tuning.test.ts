import assert from "node:assert/strict";
import { test } from "node:test";
import { monitorCommandJSON } from "./monitor.ts";
import { parseScaled, typedParamText } from "./tuning.ts";

test("scaled sizes as virsh reads them (default KiB, binary and decimal suffixes)", () => {
  const max = 2n ** 64n - 1n;
  assert.equal(parseScaled("100", 1024n, max), 102400n);
  assert.equal(parseScaled("1G", 1024n, max), 1073741824n);
  assert.equal(parseScaled("1GiB", 1024n, max), 1073741824n);
  assert.equal(parseScaled("1GB", 1024n, max), 1000000000n);
  assert.equal(parseScaled("512 M", 1024n, max), 536870912n);
  assert.equal(parseScaled("3b", 1024n, max), 3n);
  assert.equal(parseScaled("12X", 1024n, max), null);
  assert.equal(parseScaled("-1", 1024n, max), null);
  assert.equal(parseScaled("", 1024n, max), null);
  assert.equal(parseScaled("2E", 1024n, 2n ** 60n), null, "above the maximum");
});

test("qemu-monitor-command's simplified syntax becomes a QMP command", () => {
  assert.equal(monitorCommandJSON(['{"execute":"query-status"}']), '{"execute":"query-status"}');
  assert.equal(monitorCommandJSON(['{"execute":', '"cont"}']), '{"execute": "cont"}');
  assert.equal(monitorCommandJSON(["query-status"]), '{"execute":"query-status"}');
  assert.equal(
    monitorCommandJSON(["qom-get", "path=/machine", "property=type"]),
    '{"execute":"qom-get","arguments":{"path":"/machine","property":"type"}}',
  );
  assert.equal(
    monitorCommandJSON(["balloon", "value=104857600"]),
    '{"execute":"balloon","arguments":{"value":104857600}}',
  );
  assert.deepEqual(monitorCommandJSON(["x", "novalue"]), {
    error: "Malformed argument 'novalue', expected 'key=value'",
  });
});

test("typed parameters print as virsh prints them", () => {
  assert.equal(
    typedParamText({ field: "a", value: { type: 4, value: 18446744073709551615n } }),
    "18446744073709551615",
  );
  assert.equal(typedParamText({ field: "b", value: { type: 5, value: 0.5 } }), "0.500000");
  assert.equal(typedParamText({ field: "c", value: { type: 6, value: true } }), "yes");
  assert.equal(typedParamText({ field: "d", value: { type: 7, value: "vda" } }), "vda");
});
