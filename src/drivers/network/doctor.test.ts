/**
 * The network doctor's checks over gathered facts (fixtures: outputs of iptables -S and nft -j
 * as Docker, ufw and a hand-made nft table leave them), and its parsers.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseNetwork } from "../../conf/network/index.ts";
import {
  diagnoseNetworks,
  freeSubnet,
  parseIptablesS,
  parseNftForwardDrop,
  type DoctorFacts,
  type DoctorNetwork,
} from "./doctor.ts";

const net = (xml: string, active: boolean): DoctorNetwork => ({ def: parseNetwork(xml).def, active });

const DEFAULT = net(
  "<network><name>default</name><bridge name='virbr0'/><forward/>" +
    "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
  true,
);
const ISOLATED = net(
  "<network><name>iso</name><bridge name='virbr5'/><ip address='10.5.0.1' prefix='24'/></network>",
  false,
);

/** A healthy host with `default` running. */
function healthy(over: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    ipv4Forward: true,
    ipv6Forward: false,
    forwardDropChains: [],
    iptablesChains: ["INPUT", "FORWARD", "OUTPUT"],
    addresses: [
      { dev: "eth0", cidr: "10.0.2.15/24" },
      { dev: "virbr0", cidr: "192.168.122.1/24" },
    ],
    routes: [
      { dev: "eth0", dst: "10.0.2.0/24" },
      { dev: "virbr0", dst: "192.168.122.0/24" },
    ],
    links: new Map([
      ["lo", { up: true }],
      ["eth0", { up: true }],
      ["virbr0", { up: true }],
    ]),
    dnsmasqConfFiles: ["/var/lib/tvirt/dnsmasq/default.conf"],
    ownTables: ["tvirt_network", "libvirt_network"],
    ...over,
  };
}

// `iptables -S` after Docker started (policy DROP, its chains, no rule for virbr0).
const DOCKER_IPTABLES = `-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A DOCKER-USER -j RETURN
`;

// `nft -j list ruleset` with an inet filter table whose forward chain drops, one rule accepting br9.
const NFT_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6" } },
    { table: { family: "inet", name: "filter", handle: 1 } },
    {
      chain: {
        family: "inet",
        table: "filter",
        name: "forward",
        handle: 2,
        type: "filter",
        hook: "forward",
        prio: 0,
        policy: "drop",
      },
    },
    {
      chain: {
        family: "inet",
        table: "tvirt_network",
        name: "forward",
        handle: 3,
        type: "filter",
        hook: "forward",
        prio: 0,
        policy: "drop",
      },
    },
    {
      rule: {
        family: "inet",
        table: "filter",
        chain: "forward",
        handle: 4,
        expr: [{ match: { op: "==", left: { meta: { key: "iifname" } }, right: "br9" } }, { accept: null }],
      },
    },
    { chain: { family: "ip", table: "nat", name: "POSTROUTING", hook: "postrouting", policy: "accept" } },
  ],
});

describe("network doctor: checks", () => {
  test("a healthy host has no findings", () => {
    assert.deepEqual(diagnoseNetworks(healthy(), [DEFAULT, ISOLATED]), []);
  });

  test("forwarding off: an error naming the NAT networks, with sysctl", () => {
    const f = diagnoseNetworks(healthy({ ipv4Forward: false }), [DEFAULT, ISOLATED]);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.kind, "ip-forward-off");
    assert.equal(f[0]!.severity, "error");
    assert.deepEqual(f[0]!.networks, ["default"]);
    assert.equal(f[0]!.fix[0], "sysctl -w net.ipv4.ip_forward=1");
    // IPv6 forwarding off does not matter to an IPv4-only network.
    assert.deepEqual(diagnoseNetworks(healthy({ ipv6Forward: false }), [DEFAULT]), []);
  });

  test("Docker's FORWARD policy DROP: fix through DOCKER-USER; ufw: ufw route allow", () => {
    const p = parseIptablesS(DOCKER_IPTABLES);
    assert.equal(p.forwardPolicy, "DROP");
    assert.ok(p.chains.includes("DOCKER-USER"));
    const chain = {
      source: "iptables" as const,
      family: "ip",
      table: "filter",
      chain: "FORWARD",
      rules: p.forwardRules,
    };
    const f = diagnoseNetworks(healthy({ forwardDropChains: [chain], iptablesChains: p.chains }), [DEFAULT]);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.kind, "forward-policy-drop");
    assert.match(f[0]!.message, /iptables' FORWARD chain \(Docker's\) has policy drop/);
    assert.deepEqual(f[0]!.fix, [
      "iptables -I DOCKER-USER -i virbr0 -j ACCEPT",
      "iptables -I DOCKER-USER -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    ]);
    const ufw = diagnoseNetworks(
      healthy({ forwardDropChains: [chain], iptablesChains: ["FORWARD", "ufw-user-forward"] }),
      [DEFAULT],
    );
    assert.deepEqual(ufw[0]!.fix, ["ufw route allow in on virbr0", "ufw route allow out on virbr0"]);
    // A chain that accepts the bridge, or hands it to libvirt's chains, is fine.
    for (const rule of ["-A FORWARD -i virbr0 -j ACCEPT", "-A FORWARD -j LIBVIRT_FWO"]) {
      const ok = { ...chain, rules: [rule] };
      assert.deepEqual(diagnoseNetworks(healthy({ forwardDropChains: [ok] }), [DEFAULT]), []);
    }
    // The fix in DOCKER-USER counts: FORWARD jumps there.
    const fixed = parseIptablesS(
      DOCKER_IPTABLES + "-I DOCKER-USER -i virbr0 -j ACCEPT\n".replace("-I", "-A"),
    );
    const fixedChain = { ...chain, rules: fixed.forwardRules };
    assert.deepEqual(diagnoseNetworks(healthy({ forwardDropChains: [fixedChain] }), [DEFAULT]), []);
    // An isolated network forwards nothing.
    assert.deepEqual(diagnoseNetworks(healthy({ forwardDropChains: [chain] }), [ISOLATED]), []);
  });

  test("nftables: base chains on the forward hook with policy drop, ours left out", () => {
    const chains = parseNftForwardDrop(NFT_JSON);
    assert.deepEqual(
      chains.map((c) => `${c.family} ${c.table} ${c.chain} ${c.rules.length}`),
      ["inet filter forward 1", "inet tvirt_network forward 0"],
    );
    const f = diagnoseNetworks(healthy({ forwardDropChains: chains }), [DEFAULT]);
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /nftables chain inet filter forward has policy drop/);
    assert.deepEqual(f[0]!.fix, [
      'nft insert rule inet filter forward iifname "virbr0" accept',
      'nft insert rule inet filter forward oifname "virbr0" ct state related,established accept',
    ]);
    const br9 = net(
      "<network><name>n9</name><bridge name='br9'/><forward/><ip address='10.9.0.1' prefix='24'/></network>",
      true,
    );
    assert.deepEqual(
      diagnoseNetworks(
        healthy({
          forwardDropChains: chains,
          links: new Map([["br9", { up: true }]]),
          dnsmasqConfFiles: ["/x/n9.conf"],
        }),
        [br9],
      ),
      [],
    );
    assert.deepEqual(parseNftForwardDrop("not json"), []);
  });

  test("address clash with a host route, and with another network; a free range suggested", () => {
    const facts = healthy({
      addresses: [{ dev: "eth0", cidr: "192.168.122.77/24" }],
      routes: [{ dev: "eth0", dst: "192.168.122.0/24" }],
      links: new Map([["eth0", { up: true }]]),
      dnsmasqConfFiles: [],
    });
    const inactive = { ...DEFAULT, active: false };
    const f = diagnoseNetworks(facts, [inactive]);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.kind, "address-clash");
    assert.match(f[0]!.message, /192\.168\.122\.0\/24 overlaps address 192\.168\.122\.77\/24 on eth0/);
    assert.match(f[0]!.message, /route 192\.168\.122\.0\/24 on eth0.*it will not start/);
    assert.match(f[0]!.fix[0]!, /tvirsh net-edit default .*e\.g\. 192\.168\.123\.0\/24/);
    const twin = net(
      "<network><name>twin</name><bridge name='virbr7'/><ip address='192.168.122.129' prefix='25'/></network>",
      false,
    );
    const g = diagnoseNetworks(healthy(), [twin], [DEFAULT, twin]);
    assert.equal(g.length, 1);
    assert.match(g[0]!.message, /192\.168\.122\.128\/25 overlaps network 'default' \(192\.168\.122\.0\/24\)/);
    assert.equal(freeSubnet([]), "192.168.122.0/24");
  });

  test("active network: dnsmasq not running, bridge down, bridge gone", () => {
    const noDns = diagnoseNetworks(healthy({ dnsmasqConfFiles: ["/var/lib/libvirt/dnsmasq/other.conf"] }), [
      DEFAULT,
    ]);
    assert.deepEqual(
      noDns.map((x) => [x.kind, x.fix]),
      [["dnsmasq-not-running", ["tvirsh net-destroy default", "tvirsh net-start default"]]],
    );
    const down = diagnoseNetworks(healthy({ links: new Map([["virbr0", { up: false }]]) }), [DEFAULT]);
    assert.deepEqual(
      down.map((x) => [x.kind, x.fix]),
      [["bridge-down", ["ip link set dev virbr0 up"]]],
    );
    const gone = diagnoseNetworks(healthy({ links: new Map() }), [DEFAULT]);
    assert.deepEqual(
      gone.map((x) => x.kind),
      ["bridge-missing"],
    );
    // An inactive network has no bridge or dnsmasq to miss.
    const stopped = healthy({ links: new Map(), dnsmasqConfFiles: [], addresses: [], routes: [] });
    assert.deepEqual(diagnoseNetworks(stopped, [{ ...DEFAULT, active: false }]), []);
  });
});
