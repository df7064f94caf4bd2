/**
 * `updateNetworkDef` (virNetworkUpdate on a definition): which `<ip>` a DHCP entry goes to,
 * libvirt's matching rules for modify and delete, duplicates, the input left untouched, and the
 * format/parse round trip refusing what the parser refuses. The texts are checked against virsh
 * in `cli/commands/network.test.ts`; here the rules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isVirtError } from "../../util/errors/index.ts";
import { formatNetwork } from "./format.ts";
import { parseNetwork } from "./parse.ts";
import { NetworkUpdateCommand as C, NetworkUpdateSection as S, updateNetworkDef } from "./update.ts";

const base = parseNetwork(
  `<network><name>u</name><uuid>0f0e0d0c-0b0a-0908-0706-050403020109</uuid><bridge name='br1'/>
  <ip address='10.0.0.1' prefix='24'/>
  <ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.10' end='10.1.0.20'/>
    <host mac='52:54:00:00:00:01' name='a' ip='10.1.0.5'/>
    <host mac='52:54:00:00:00:02' name='b' ip='10.1.0.6'/></dhcp></ip>
  <ip family='ipv6' address='fd00::1' prefix='64'/>
  <dns><host ip='10.1.0.7'><hostname>x</hostname><hostname>y</hostname></host>
    <host ip='10.1.0.8'><hostname>y</hostname></host></dns></network>`,
).def;

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return isVirtError(e) ? e.code : String(e);
  }
  return "no error";
};

test("DHCP entries go to the <ip> that has DHCP, or to the one parentIndex names", () => {
  const before = formatNetwork(base);
  const a = updateNetworkDef(
    base,
    C.ADD_LAST,
    S.IP_DHCP_HOST,
    -1,
    "<host mac='52:54:00:00:00:03' ip='10.1.0.9'/>",
  );
  assert.deepEqual(
    a.ips[1]!.hosts.map((h) => h.ip),
    ["10.1.0.5", "10.1.0.6", "10.1.0.9"],
  );
  const first = updateNetworkDef(base, C.ADD_FIRST, S.IP_DHCP_HOST, -1, "<host name='c' ip='10.1.0.9'/>");
  assert.equal(first.ips[1]!.hosts[0]!.name, "c");
  // parentIndex 0 is the first <ip>: a second IPv4 <ip> with DHCP is refused, as libvirt does.
  assert.equal(
    code(() => updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_HOST, 0, "<host name='c' ip='10.0.0.9'/>")),
    "NETWORK_UPDATE_MULTI_DHCP",
  );
  assert.equal(
    code(() => updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_HOST, 7, "<host name='c' ip='10.1.0.9'/>")),
    "NETWORK_UPDATE_NO_IP",
  );
  // An IPv4 host for the IPv6 <ip>.
  assert.equal(
    code(() => updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_HOST, 2, "<host name='c' ip='10.1.0.9'/>")),
    "NETWORK_UPDATE_FAMILY",
  );
  // The input stays as it was.
  assert.equal(formatNetwork(base), before);
});

test("modify matches on any of mac, ip, name; delete needs all that are given to match", () => {
  const m = updateNetworkDef(
    base,
    C.MODIFY,
    S.IP_DHCP_HOST,
    -1,
    "<host mac='52:54:00:00:00:02' name='b2' ip='10.1.0.16'/>",
  );
  assert.deepEqual(m.ips[1]!.hosts[1], { mac: "52:54:00:00:00:02", name: "b2", ip: "10.1.0.16" });
  // The MAC compares as an address, not as text.
  const d = updateNetworkDef(base, C.DELETE, S.IP_DHCP_HOST, -1, "<host mac='52:54:0:0:0:1'/>");
  assert.deepEqual(
    d.ips[1]!.hosts.map((h) => h.name),
    ["b"],
  );
  assert.equal(
    code(() => updateNetworkDef(base, C.DELETE, S.IP_DHCP_HOST, -1, "<host name='a' ip='10.1.0.6'/>")),
    "NETWORK_UPDATE_NO_MATCH",
  );
  assert.equal(
    code(() =>
      updateNetworkDef(
        base,
        C.ADD_LAST,
        S.IP_DHCP_HOST,
        -1,
        "<host mac='52:54:00:00:00:09' name='a' ip='10.1.0.9'/>",
      ),
    ),
    "NETWORK_UPDATE_EXISTS",
  );
  assert.equal(
    code(() =>
      updateNetworkDef(
        base,
        C.MODIFY,
        S.IP_DHCP_HOST,
        -1,
        "<host mac='52:54:00:00:00:09' name='z' ip='10.1.0.9'/>",
      ),
    ),
    "NETWORK_UPDATE_NO_MATCH",
  );
});

test("ranges are added or deleted, never modified; the parser's rules still hold", () => {
  const r = updateNetworkDef(
    base,
    C.ADD_LAST,
    S.IP_DHCP_RANGE,
    -1,
    "<range start='10.1.0.100' end='10.1.0.110'/>",
  );
  assert.equal(r.ips[1]!.ranges.length, 2);
  const gone = updateNetworkDef(
    base,
    C.DELETE,
    S.IP_DHCP_RANGE,
    -1,
    "<range start='10.1.0.10' end='10.1.0.20'/>",
  );
  assert.equal(gone.ips[1]!.ranges.length, 0);
  assert.equal(
    code(() =>
      updateNetworkDef(base, C.MODIFY, S.IP_DHCP_RANGE, -1, "<range start='10.1.0.10' end='10.1.0.20'/>"),
    ),
    "NETWORK_UPDATE_NO_MODIFY",
  );
  // Outside the <ip>'s subnet.
  assert.equal(
    code(() =>
      updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_RANGE, -1, "<range start='10.9.0.1' end='10.9.0.2'/>"),
    ),
    "NETWORK_INVALID_VALUE",
  );
});

test("DNS hosts: add checks the address only, delete matches an address or a name, once", () => {
  const added = updateNetworkDef(
    base,
    C.ADD_LAST,
    S.DNS_HOST,
    -1,
    "<host ip='10.1.0.9'><hostname>x</hostname></host>",
  );
  assert.equal(added.dns.hosts.length, 3);
  assert.equal(
    code(() =>
      updateNetworkDef(base, C.ADD_LAST, S.DNS_HOST, -1, "<host ip='10.1.0.8'><hostname>z</hostname></host>"),
    ),
    "NETWORK_UPDATE_EXISTS",
  );
  const byName = updateNetworkDef(base, C.DELETE, S.DNS_HOST, -1, "<host><hostname>x</hostname></host>");
  assert.deepEqual(
    byName.dns.hosts.map((h) => h.ip),
    ["10.1.0.8"],
  );
  // "y" is a name of both records.
  assert.equal(
    code(() => updateNetworkDef(base, C.DELETE, S.DNS_HOST, -1, "<host><hostname>y</hostname></host>")),
    "NETWORK_UPDATE_NO_MATCH",
  );
});

test("syntax errors, wrong elements and sections libvirt does not update", () => {
  assert.equal(
    code(() => updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_HOST, -1, "<host")),
    "XML_SYNTAX",
  );
  assert.equal(
    code(() =>
      updateNetworkDef(base, C.ADD_LAST, S.IP_DHCP_HOST, -1, "<range start='10.1.0.1' end='10.1.0.2'/>"),
    ),
    "NETWORK_UPDATE_WRONG_ELEMENT",
  );
  for (const s of [S.BRIDGE, S.DOMAIN, S.IP, S.FORWARD, S.FORWARD_PF]) {
    assert.equal(
      code(() => updateNetworkDef(base, C.ADD_LAST, s, -1, "<x/>")),
      "NETWORK_UPDATE_SECTION_UNSUPPORTED",
    );
  }
  assert.equal(
    code(() => updateNetworkDef(base, C.ADD_LAST, 99, -1, "<x/>")),
    "NETWORK_UPDATE_SECTION_UNKNOWN",
  );
  assert.equal(
    code(() => updateNetworkDef(base, 9, S.IP_DHCP_HOST, -1, "<host name='c' ip='10.1.0.9'/>")),
    "NETWORK_UPDATE_COMMAND_UNKNOWN",
  );
});
