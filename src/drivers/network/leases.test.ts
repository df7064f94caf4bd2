import { test } from "node:test";
import assert from "node:assert/strict";
import { parseNetwork } from "../../conf/network/index.ts";
import { parseLeaseFile } from "./leases.ts";

const { def } = parseNetwork(
  "<network><name>n</name><bridge name='virbr7'/><ip address='192.168.122.1' prefix='24'/>" +
    "<ip family='ipv6' address='fd00::1' prefix='64'/></network>",
);

test("dnsmasq's lease file gives IPv4 and IPv6 leases with the subnet's prefix", () => {
  const text =
    "1765000000 52:54:00:AA:BB:CC 192.168.122.50 guest1 01:52:54:00:aa:bb:cc\n" +
    "0 52:54:00:11:22:33 192.168.122.60 * *\n" +
    "duid 00:01:00:01:2c:aa:bb:cc:dd:ee:ff:00\n" +
    "1765000100 1234 fd00::50 guest6 00:04:aa:bb\n";
  const leases = parseLeaseFile(text, def);
  assert.deepEqual(leases, [
    {
      iface: "virbr7",
      expirytime: 1765000000,
      type: 0,
      mac: "52:54:00:aa:bb:cc",
      iaid: null,
      ipaddr: "192.168.122.50",
      prefix: 24,
      hostname: "guest1",
      clientid: "01:52:54:00:aa:bb:cc",
    },
    {
      iface: "virbr7",
      expirytime: 0,
      type: 0,
      mac: "52:54:00:11:22:33",
      iaid: null,
      ipaddr: "192.168.122.60",
      prefix: 24,
      hostname: null,
      clientid: null,
    },
    {
      iface: "virbr7",
      expirytime: 1765000100,
      type: 1,
      mac: null,
      iaid: "1234",
      ipaddr: "fd00::50",
      prefix: 64,
      hostname: "guest6",
      clientid: "00:04:aa:bb",
    },
  ]);
  assert.deepEqual(
    parseLeaseFile(text, def, "52:54:00:11:22:33").map((l) => l.ipaddr),
    ["192.168.122.60"],
  );
  assert.deepEqual(parseLeaseFile("", def), []);
});
