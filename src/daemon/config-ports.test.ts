import assert from "node:assert/strict";
import { test } from "node:test";
import { isVirtError } from "../util/errors/index.ts";
import { applyConf, defaultConfig, parseConf } from "./config.ts";

const conf = (text: string) => applyConf(defaultConfig(), parseConf(text, "tvirtd.conf"), "tvirtd.conf");

test("graphics port ranges: qemu.conf's keys and defaults", () => {
  const d = defaultConfig();
  assert.deepEqual(
    [d.displayPorts, d.websocketPorts],
    [
      { min: 5900, max: 65535 },
      { min: 5700, max: 65535 },
    ],
  );
  const c = conf(
    "remote_display_port_min = 6000\nremote_display_port_max = 6100\nremote_websocket_port_min = 5800\n",
  );
  assert.deepEqual(
    [c.displayPorts, c.websocketPorts],
    [
      { min: 6000, max: 6100 },
      { min: 5800, max: 65535 },
    ],
  );
  assert.deepEqual(c.ignored, []);
});

test("graphics port ranges out of qemu.conf's limits are refused", () => {
  for (const [text, reason] of [
    ["remote_display_port_min = 5000", "expected an integer >= 5900"],
    ["remote_display_port_max = 70000", "port must be less than or equal to 65535"],
    ["remote_websocket_port_min = 100", "expected an integer >= 5700"],
    [
      "remote_display_port_min = 6000\nremote_display_port_max = 5950",
      "remote_display_port_min (6000) must not be greater than remote_display_port_max (5950)",
    ],
  ] as const) {
    assert.throws(
      () => conf(text),
      (e: unknown) => isVirtError(e) && e.code === "DAEMON_CONFIG_VALUE" && e.message.includes(reason),
      text,
    );
  }
});
