/**
 * Bad network XML gets a catalogued error of the network domain naming the network, the field
 * (XPath, line) and what is allowed; unknown XML is reported as warnings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError } from "../../util/errors/index.ts";
import { checkNetworkForDriver, formatNetwork, parseNetwork } from "./index.ts";

const UUID = "<uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>";

function fails(xml: string, check: (e: VirtError) => void): void {
  try {
    parseNetwork(xml);
  } catch (e) {
    assert.ok(e instanceof VirtError, `expected a VirtError, got ${String(e)}`);
    assert.equal(e.kind, "user");
    assert.equal(e.virDomain, 19, "VIR_FROM_NETWORK");
    check(e);
    return;
  }
  assert.fail("expected a parse error");
}

test("a root other than <network> is refused", () => {
  fails("<domain><name>x</name></domain>", (e) => {
    assert.equal(e.code, "NETWORK_UNEXPECTED_ROOT");
    assert.equal(e.message, "XML error: unexpected root element <domain>, expecting <network>");
  });
});

test("a network without a name, or with a '/' in it, is refused", () => {
  fails("<network><bridge name='br0'/></network>", (e) => {
    assert.equal(e.code, "NETWORK_NO_NAME");
    assert.equal(e.virCode, 21);
  });
  fails("<network><name>a/b</name></network>", (e) => {
    assert.equal(e.code, "NETWORK_INVALID_NAME");
    assert.match(e.message, /network name 'a\/b' is not valid: it must not contain '\/'/);
    assert.equal(e.details.xpath, "/network/name");
  });
});

test("an unknown forward mode names the field, the line and the allowed modes", () => {
  fails(`<network>\n<name>n</name>\n<forward mode='nated'/>\n</network>`, (e) => {
    assert.equal(e.code, "NETWORK_INVALID_VALUE");
    assert.equal(e.virCode, 27);
    assert.equal(e.details.xpath, "/network/forward/@mode");
    assert.equal(e.details.line, 3);
    assert.deepEqual(e.details.allowed, [
      "nat",
      "route",
      "open",
      "bridge",
      "private",
      "vepa",
      "passthrough",
      "hostdev",
    ]);
    assert.match(
      e.message,
      /invalid value 'nated' for \/network\/forward\/@mode \(line 3\) in network 'n': expected one of nat, route/,
    );
  });
});

test("addresses: malformed, wrong family, netmask with prefix, range outside the subnet", () => {
  fails(`<network><name>n</name><ip address='192.168.1.300' prefix='24'/></network>`, (e) => {
    assert.equal(e.details.xpath, "/network/ip/@address");
    assert.match(e.message, /expected an IP address/);
  });
  fails(`<network><name>n</name><ip family='ipv4' address='fd00::1' prefix='64'/></network>`, (e) => {
    assert.match(e.message, /expected an IPv4 address/);
  });
  fails(
    `<network><name>n</name><ip address='10.0.0.1' netmask='255.255.255.0' prefix='24'/></network>`,
    (e) => {
      assert.equal(e.message, "XML error: Network 'n' IP address cannot have both a prefix and a netmask");
    },
  );
  fails(
    `<network><name>n</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>`,
    (e) => {
      assert.equal(e.details.xpath, "/network/ip/dhcp/range/@start");
      assert.match(e.message, /expected an address in the network 10\.0\.0\.1\/24/);
    },
  );
  fails(`<network><name>n</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>`, (e) => {
    assert.match(e.message, /contiguous bits/);
  });
});

test("MAC addresses: malformed and multicast are refused, case is normalised", () => {
  fails(`<network><name>n</name><mac address='52:54:00:zz:00:01'/></network>`, (e) => {
    assert.equal(e.details.xpath, "/network/mac/@address");
  });
  fails(`<network><name>n</name><mac address='01:00:5e:00:00:01'/></network>`, (e) => {
    assert.match(e.message, /unicast MAC address/);
  });
  const { def } = parseNetwork(`<network><name>n</name>${UUID}<mac address='52:54:00:AB:CD:EF'/></network>`);
  assert.equal(def.mac, "52:54:00:ab:cd:ef");
});

test("forward-mode rules keep libvirt's wording", () => {
  fails(`<network><name>n</name><forward mode='nat'/></network>`, (e) => {
    assert.equal(
      e.message,
      "XML error: nat forwarding requested, but no IP address provided for network 'n'",
    );
  });
  fails(`<network><name>n</name><forward mode='bridge'/><bridge name='br0' stp='off'/></network>`, (e) => {
    assert.equal(
      e.message,
      "XML error: bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in bridge (network 'n')",
    );
  });
  fails(`<network><name>n</name><forward mode='vepa' dev='eth0'/><bridge name='br0'/></network>`, (e) => {
    assert.equal(e.message, "XML error: bridge name not allowed in vepa mode (network 'n')");
  });
  fails(
    `<network><name>n</name><forward mode='bridge'/><bridge name='br0'/><mtu size='9000'/></network>`,
    (e) => {
      assert.match(e.message, /mtu size only allowed in open, route, nat, and isolated mode, not in bridge/);
    },
  );
  fails(
    `<network><name>n</name><forward dev='eth0'><interface dev='eth1'/></forward><ip address='10.0.0.1' prefix='24'/></network>`,
    (e) => {
      assert.equal(
        e.message,
        "XML error: <forward dev='eth0'> must match first <interface dev='eth1'/> in network n",
      );
    },
  );
});

test("an unreachable route gateway is an unsupported configuration", () => {
  fails(
    `<network><name>n</name><ip address='10.0.0.1' prefix='24'/><route address='10.9.0.0' prefix='16' gateway='10.1.0.1'/></network>`,
    (e) => {
      assert.equal(e.virCode, 67);
      assert.equal(
        e.message,
        "unsupported configuration: unreachable static route gateway '10.1.0.1' specified for network 'n'",
      );
    },
  );
});

test("DHCP leases below two minutes, and extra data in disabled DNS, are refused", () => {
  fails(
    `<network><name>n</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='60' unit='seconds'/></range></dhcp></ip></network>`,
    (e) => {
      assert.equal(e.details.xpath, "/network/ip/dhcp/range/lease/@expiry");
      assert.equal(e.virCode, 67);
      assert.equal(
        e.message,
        "unsupported configuration: The minimum lease time should be greater than 2 minutes",
      );
    },
  );
  fails(`<network><name>n</name><dns enable='no'><forwarder addr='8.8.8.8'/></dns></network>`, (e) => {
    assert.equal(e.message, "XML error: Extra data in disabled network 'n'");
  });
});

test("unknown elements and attributes are reported, not silently dropped", () => {
  const { warnings } = parseNetwork(
    `<network><name>n</name>${UUID}<bridge name='br0' colour='blue'/><frobnicate/></network>`,
  );
  assert.deepEqual(
    warnings.map((w) => w.xpath),
    ["/network/bridge/@colour", "/network/frobnicate"],
  );
});

test("a syntax error is reported with its line", () => {
  assert.throws(
    () => parseNetwork("<network>\n<name>n</name>\n<bridge></network>"),
    (e: unknown) => e instanceof VirtError && e.code === "XML_SYNTAX" && e.details.line === 3,
  );
});

test("metadata, title, nat ipv6 and vlans round-trip", () => {
  const xml = [
    "<network ipv6='yes' trustGuestRxFilters='no'>",
    "  <name>n</name>",
    "  <uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>",
    "  <title>A network</title>",
    "  <metadata>",
    // Metadata is written by libxml2 in libvirt, hence the double quotes.
    '    <app:info xmlns:app="http://example.org/app">x</app:info>',
    "  </metadata>",
    "  <forward mode='nat'>",
    "    <nat ipv6='yes'/>",
    "  </forward>",
    "  <bridge name='virbr5' stp='on' delay='0' macTableManager='kernel'/>",
    "  <vlan trunk='yes'>",
    "    <tag id='10' nativeMode='untagged'/>",
    "  </vlan>",
    "  <ip family='ipv6' address='fd00::1' prefix='64'>",
    "  </ip>",
    "</network>",
    "",
  ].join("\n");
  const { def, warnings } = parseNetwork(xml);
  assert.deepEqual(warnings, []);
  assert.equal(formatNetwork(def), xml);
});

test("the driver's define-time rules refuse addresses on a host-bridge network", () => {
  const { def } = parseNetwork(
    `<network><name>hb</name><forward mode='bridge'/><bridge name='br0'/><ip address='10.0.0.1' prefix='24'/></network>`,
  );
  assert.throws(
    () => {
      checkNetworkForDriver(def);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.message ===
        "unsupported configuration: Unsupported <ip> element in network hb with forward mode='bridge'",
  );
});

test("NAT ranges, SRV records, vlans, virtualports and routes refuse what libvirt refuses", () => {
  const withNat = (nat: string): string =>
    `<network><name>n</name><forward mode='nat'><nat>${nat}</nat></forward><ip address='10.0.0.1' prefix='24'/></network>`;
  fails(withNat("<address start='1.2.3.4'/>"), (e) => {
    assert.equal(e.details.xpath, "/network/forward/nat/address/@end");
  });
  fails(withNat("<port start='2000'/>"), (e) => {
    assert.equal(e.details.xpath, "/network/forward/nat/port/@end");
  });
  fails(
    `<network><name>n</name><dns><srv service='ldap' protocol='tcp' port='389'/></dns></network>`,
    (e) => {
      assert.equal(
        e.message,
        "XML error: DNS SRV port attribute not permitted without target for service 'ldap' in network 'n'",
      );
    },
  );
  fails(`<network><name>n</name><vlan trunk='no'><tag id='1'/><tag id='2'/></vlan></network>`, (e) => {
    assert.match(e.message, /trunk='yes' is required for more than one vlan tag/);
  });
  fails(
    `<network><name>n</name><forward mode='bridge'/><bridge name='br0'/><virtualport type='802.1Qbh'><parameters interfaceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/></virtualport></network>`,
    (e) => {
      assert.equal(e.details.xpath, "/network/virtualport/parameters/@interfaceid");
      assert.deepEqual(e.details.allowed, ["profileid"]);
    },
  );
  fails(
    `<network><name>n</name><ip address='10.0.0.1' prefix='24'/><route address='10.9.0.1' prefix='16' gateway='10.0.0.2'/></network>`,
    (e) => {
      assert.equal(
        e.message,
        "XML error: n: Address '10.9.0.1' in route definition is not a network address",
      );
    },
  );
});

test("a single native vlan tag is not a trunk; a static host's MAC is kept as written", () => {
  const { def } = parseNetwork(
    `<network><name>n</name>${UUID}<vlan><tag id='7' nativeMode='untagged'/></vlan>` +
      `<ip address='10.0.0.1' prefix='24'><dhcp><host mac='52:54:00:AA:BB:CC' ip='10.0.0.9'/></dhcp></ip></network>`,
  );
  assert.equal(def.vlan?.trunk, false);
  assert.equal(def.ips[0]?.hosts[0]?.mac, "52:54:00:AA:BB:CC");
  assert.match(formatNetwork(def), /<vlan>\n {4}<tag id='7' nativeMode='untagged'\/>\n {2}<\/vlan>/);
});
