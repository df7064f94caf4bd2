/**
 * Firewall commands: every xml2firewall case of libvirt 11.3's network corpus (read in place),
 * for both backends, plus the global setup (`base.iptables`, `base.nftables`). The product gives
 * argv arrays; `printLikeLibvirt` (testing/network-conformance.ts) prints them the way libvirt's
 * test harness does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { networkCorpusDir, networkCorpusOrSkip } from "../../testing/network-corpus.ts";
import { printLikeLibvirt } from "../../testing/network-conformance.ts";
import { parseNetwork } from "../../conf/network/index.ts";
import {
  FIREWALL_BACKENDS,
  firewallSetupCommands,
  iptablesUndo,
  isBestEffort,
  networkFirewallCommands,
  nftHandleFromEcho,
  nftUndo,
} from "./firewall.ts";

const dir = networkCorpusDir();
if (!dir) {
  test("network xml2firewall corpus", (t) => {
    networkCorpusOrSkip(t);
  });
} else {
  const data = join(dir, "networkxml2firewalldata");
  const cases = readdirSync(data)
    .filter((f) => f.endsWith(".xml"))
    .map((f) => f.slice(0, -4))
    .sort();
  test("the corpus has its 6 xml2firewall cases", () => {
    assert.equal(cases.length, 6);
  });
  for (const backend of FIREWALL_BACKENDS) {
    test(`global setup matches base.${backend}`, () => {
      assert.equal(
        printLikeLibvirt(firewallSetupCommands(backend)),
        readFileSync(join(data, `base.${backend}`), "utf8"),
      );
    });
    for (const c of cases) {
      test(`xml2firewall ${c} (${backend})`, () => {
        const { def } = parseNetwork(readFileSync(join(data, `${c}.xml`), "utf8"));
        const got = printLikeLibvirt(networkFirewallCommands(def, backend));
        assert.equal(got, readFileSync(join(data, `${c}-linux.${backend}`), "utf8"));
      });
    }
  }
}

const net = (body: string): string =>
  `<network><name>n1</name><uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid><bridge name='br9'/>${body}</network>`;

test("argv arrays: a negation and an nft set are single arguments, never shell text", () => {
  const { def } = parseNetwork(net("<forward/><ip address='10.1.0.1' prefix='24'/>"));
  const ipt = networkFirewallCommands(def, "iptables");
  assert.ok(ipt.some((a) => a.includes("!") && a[0] === "iptables"));
  for (const a of [...ipt, ...networkFirewallCommands(def, "nftables")]) {
    for (const arg of a) assert.doesNotMatch(arg, /[;&|`$]/, `argument '${arg}' of ${a.join(" ")}`);
  }
  const base = firewallSetupCommands("nftables");
  assert.ok(base.some((a) => a.includes("{ type filter hook forward priority 0; policy accept; }")));
});

test("explicit NAT address and port range become SNAT (iptables) and snat to (nftables)", () => {
  const { def } = parseNetwork(
    net(
      "<forward mode='nat'><nat><address start='10.20.30.40' end='10.20.30.44'/><port start='60000' end='65432'/></nat></forward>" +
        "<ip address='10.1.0.1' prefix='24'/>",
    ),
  );
  const ipt = networkFirewallCommands(def, "iptables").map((a) => a.join(" "));
  assert.ok(
    ipt.includes(
      "iptables -w --table nat --insert LIBVIRT_PRT --source 10.1.0.0/24 ! --destination 10.1.0.0/24 --jump SNAT --to-source 10.20.30.40-10.20.30.44",
    ),
    ipt.join("\n"),
  );
  assert.ok(
    ipt.includes(
      "iptables -w --table nat --insert LIBVIRT_PRT --source 10.1.0.0/24 -p udp ! --destination 10.1.0.0/24 --jump SNAT --to-source 10.20.30.40-10.20.30.44:60000-65432",
    ),
  );
  const nft = networkFirewallCommands(def, "nftables").map((a) => a.join(" "));
  assert.ok(
    nft.some((l) =>
      l.endsWith(
        "meta l4proto tcp ip saddr 10.1.0.0/24 ip daddr != 10.1.0.0/24 counter snat to 10.20.30.40-10.20.30.44:60000-65432",
      ),
    ),
    nft.join("\n"),
  );
});

test("IPv6 masquerading with <nat ipv6='yes'> returns link-local multicast, not broadcast", () => {
  const { def } = parseNetwork(
    net("<forward mode='nat'><nat ipv6='yes'/></forward><ip family='ipv6' address='fd00:1::1' prefix='64'/>"),
  );
  const ipt = networkFirewallCommands(def, "iptables").map((a) => a.join(" "));
  assert.ok(
    ipt.includes(
      "ip6tables -w --table nat --insert LIBVIRT_PRT --source fd00:1::/64 ! --destination fd00:1::/64 --jump MASQUERADE",
    ),
  );
  assert.ok(
    ipt.includes(
      "ip6tables -w --table nat --insert LIBVIRT_PRT --source fd00:1::/64 --destination ff02::/16 --jump RETURN",
    ),
  );
  assert.ok(!ipt.some((l) => l.includes("255.255.255.255")));
});

test("TFTP opens port 69; open and host-bridge networks get no rules", () => {
  const { def } = parseNetwork(
    net(
      "<ip address='10.1.0.1' prefix='24'><tftp root='/srv/tftp'/><dhcp><range start='10.1.0.2' end='10.1.0.9'/></dhcp></ip>",
    ),
  );
  const ipt = networkFirewallCommands(def, "iptables").map((a) => a.join(" "));
  assert.ok(
    ipt.includes(
      "iptables -w --table filter --insert LIBVIRT_INP --in-interface br9 --protocol udp --destination-port 69 --jump ACCEPT",
    ),
  );
  const open = parseNetwork(net("<forward mode='open'/><ip address='10.1.0.1' prefix='24'/>")).def;
  assert.deepEqual(networkFirewallCommands(open, "iptables"), []);
  const hb = parseNetwork(
    "<network><name>hb</name><forward mode='bridge'/><bridge name='br0'/></network>",
  ).def;
  assert.deepEqual(networkFirewallCommands(hb, "nftables"), []);
});

test("undo commands: iptables --insert becomes --delete; nft rules are deleted by echoed handle", () => {
  const { def } = parseNetwork(
    net(
      "<forward/><ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.9'/></dhcp></ip>",
    ),
  );
  const ipt = networkFirewallCommands(def, "iptables");
  const first = ipt[0]!;
  assert.deepEqual(
    iptablesUndo(first),
    first.map((a) => (a === "--insert" ? "--delete" : a)),
  );
  assert.ok(isBestEffort(ipt[ipt.length - 1]!), "the CHECKSUM rule is best effort");
  assert.ok(!isBestEffort(first));
  const nft = networkFirewallCommands(def, "nftables");
  assert.equal(iptablesUndo(nft[0]!), undefined);
  assert.ok(isBestEffort(nft[0]!), "the tc probe is best effort");
  const rule = nft.find((a) => a[0] === "nft")!;
  const handle = nftHandleFromEcho(
    'insert rule ip libvirt_network guest_output iif "br9" counter packets 0 bytes 0 reject # handle 5309\n',
  );
  assert.equal(handle, 5309);
  assert.deepEqual(nftUndo(rule, handle), [
    "nft",
    "delete",
    "rule",
    "ip",
    "libvirt_network",
    "guest_output",
    "handle",
    "5309",
  ]);
  assert.equal(nftHandleFromEcho("no handle here"), undefined);
});
