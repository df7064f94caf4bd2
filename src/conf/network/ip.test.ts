import { test } from "node:test";
import assert from "node:assert/strict";
import {
  canonicalIp,
  defaultPrefix,
  formatIp,
  maskByPrefix,
  netmaskPrefix,
  parseIp,
  sameSubnet,
} from "./ip.ts";

test("IPv6 text is canonical: longest zero run compressed, lower case, single zero group kept", () => {
  assert.equal(canonicalIp("2001:DB8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalIp("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  assert.equal(canonicalIp("0:0:0:0:0:0:0:1"), "::1");
  assert.equal(canonicalIp("fe80:0:0:0:0:0:0:0"), "fe80::");
  assert.equal(canonicalIp("::ffff:192.168.1.1"), "::ffff:192.168.1.1");
});

test("malformed addresses do not parse", () => {
  for (const bad of ["1.2.3", "1.2.3.256", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", "", "a.b.c.d"]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

test("prefixes, netmasks and subnets", () => {
  assert.equal(netmaskPrefix(parseIp("255.255.255.0")!), 24);
  assert.equal(netmaskPrefix(parseIp("255.0.255.0")!), undefined);
  assert.equal(defaultPrefix(parseIp("10.24.10.1")!), 8);
  assert.equal(defaultPrefix(parseIp("172.16.0.1")!), 16);
  assert.equal(defaultPrefix(parseIp("192.168.1.1")!), 24);
  assert.equal(defaultPrefix(parseIp("fd00::1")!), 64);
  assert.equal(formatIp(maskByPrefix(parseIp("2001:db8:ca2:2::1")!, 64)), "2001:db8:ca2:2::");
  assert.ok(sameSubnet(parseIp("10.0.0.1")!, parseIp("10.0.0.200")!, 24));
  assert.ok(!sameSubnet(parseIp("10.0.0.1")!, parseIp("10.0.1.1")!, 24));
});
