/**
 * dnsmasq configuration: every xml2conf case of libvirt 11.3's network corpus (read in place)
 * must give the `.conf` byte for byte, and the `.hostsfile` when the corpus has one (none may be
 * generated otherwise). libvirt's test context: state dir /var/lib/libvirt/dnsmasq, no pid
 * file, dnsmasq faked as version 2.67. Plus unit tests of the rules the corpus does not reach.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { networkCorpusDir, networkCorpusOrSkip } from "../../testing/network-corpus.ts";
import { parseNetwork } from "../../conf/network/index.ts";
import { VirtError } from "../../util/errors/index.ts";
import { dnsmasqConfig, leaseText, type DnsmasqContext } from "./dnsmasq.ts";

const CTX: DnsmasqContext = { stateDir: "/var/lib/libvirt/dnsmasq", version: [2, 67] };

const dir = networkCorpusDir();
if (!dir) {
  test("network xml2conf corpus", (t) => {
    networkCorpusOrSkip(t);
  });
} else {
  const data = join(dir, "networkxml2confdata");
  const cases = readdirSync(data)
    .filter((f) => f.endsWith(".conf"))
    .map((f) => f.slice(0, -5))
    .sort();
  test("the corpus has its 12 xml2conf cases", () => {
    assert.equal(cases.length, 12);
  });
  for (const c of cases) {
    test(`xml2conf ${c}`, () => {
      const { def } = parseNetwork(readFileSync(join(data, `${c}.xml`), "utf8"));
      const got = dnsmasqConfig(def, CTX);
      assert.equal(got.conf, readFileSync(join(data, `${c}.conf`), "utf8"));
      const hf = join(data, `${c}.hostsfile`);
      if (existsSync(hf)) assert.equal(got.hostsFile, readFileSync(hf, "utf8"));
      else assert.equal(got.hostsFile, undefined);
    });
  }
}

const net = (body: string): string =>
  `<network><name>n1</name><uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid><bridge name='br9'/>${body}</network>`;

test("old dnsmasq without bind-dynamic listens on each address instead", () => {
  const { def } = parseNetwork(net("<forward/><ip address='10.1.0.1' prefix='24'/>"));
  const conf = dnsmasqConfig(def, { ...CTX, version: [2, 62] }).conf;
  assert.match(conf, /\nexcept-interface=lo\nbind-interfaces\nlisten-address=10\.1\.0\.1\n/);
  assert.doesNotMatch(conf, /bind-dynamic/);
});

test("two IPv4 addresses with DHCP are refused with libvirt's message", () => {
  const { def } = parseNetwork(
    net(
      "<forward/><ip address='10.1.0.1' prefix='24'><dhcp><range start='10.1.0.2' end='10.1.0.9'/></dhcp></ip>" +
        "<ip address='10.2.0.1' prefix='24'><dhcp><range start='10.2.0.2' end='10.2.0.9'/></dhcp></ip>",
    ),
  );
  assert.throws(
    () => dnsmasqConfig(def, CTX),
    (e: unknown) =>
      e instanceof VirtError &&
      e.virCode === 67 &&
      e.message === "unsupported configuration: For IPv4, multiple DHCP definitions cannot be specified.",
  );
});

test("DNS TXT and SRV records, local-only domain, IPv6 range and bootp server", () => {
  const { def } = parseNetwork(
    net(
      "<forward mode='route'/><domain name='lab' localOnly='yes'/>" +
        "<dns><txt name='info' value='hello'/><srv service='ldap' protocol='tcp' domain='lab' target='srv1' port='389' priority='1' weight='10'/></dns>" +
        "<ip address='10.1.0.1' prefix='24' localPtr='yes'><dhcp><range start='10.1.0.10' end='10.1.0.19'><lease expiry='0'/></range><bootp file='pxe.img' server='10.1.0.5'/></dhcp></ip>" +
        "<ip family='ipv6' address='fd00::1' prefix='64'><dhcp><range start='fd00::10' end='fd00::1f'/></dhcp></ip>",
    ),
  );
  const conf = dnsmasqConfig(def, CTX).conf;
  assert.ok(conf.includes("local=/lab/\ndomain=lab\nexpand-hosts\n"), conf);
  assert.ok(conf.includes("txt-record=info,hello\nsrv-host=_ldap._tcp.lab,srv1,389,1,10\n"), conf);
  assert.ok(conf.includes("local=/0.1.10.in-addr.arpa/\n"), conf);
  assert.ok(conf.includes("dhcp-range=10.1.0.10,10.1.0.19,255.255.255.0,infinite\n"), conf);
  assert.ok(conf.includes("dhcp-boot=pxe.img,,10.1.0.5\n"), conf);
  assert.ok(conf.includes("dhcp-range=fd00::10,fd00::1f,64\n"), conf);
  assert.ok(conf.includes("dhcp-lease-max=26\n"), conf);
  assert.ok(conf.endsWith("enable-ra\n"), conf);
});

test("lease times print as dnsmasq wants them", () => {
  assert.equal(leaseText({ expiry: 0, unit: "minutes" }), "infinite");
  assert.equal(leaseText({ expiry: 30, unit: "minutes" }), "30m");
  assert.equal(leaseText({ expiry: 600, unit: "seconds" }), "600s");
});

test("a network without a bridge name is refused", () => {
  const { def } = parseNetwork(
    "<network><name>nobr</name><forward/><ip address='10.1.0.1' prefix='24'/></network>",
  );
  assert.throws(() => dnsmasqConfig(def, CTX), /network 'nobr' has no bridge name/);
});

test("SRV records: no target or '.' drops port/priority/weight; unset positions get defaults", () => {
  const { def } = parseNetwork(
    net(
      "<forward/><dns><srv service='a' protocol='tcp' target='.' port='1'/><srv service='b' protocol='udp' target='t' weight='5'/><srv service='c' protocol='tcp'/></dns>" +
        "<ip address='10.1.0.1' prefix='24'/>",
    ),
  );
  const conf = dnsmasqConfig(def, CTX).conf;
  assert.ok(conf.includes("srv-host=_a._tcp\nsrv-host=_b._udp,t,1,0,5\nsrv-host=_c._tcp\n"), conf);
});

test("IPv6 local PTR zones use nibbles; a prefix off the nibble boundary is refused", () => {
  const v6 = parseNetwork(
    net("<forward/><ip family='ipv6' address='fd00:1:2:3::1' prefix='64' localPtr='yes'/>"),
  ).def;
  assert.ok(dnsmasqConfig(v6, CTX).conf.includes("local=/3.0.0.0.2.0.0.0.1.0.0.0.0.0.d.f.ip6.arpa/\n"));
  const odd = parseNetwork(net("<forward/><ip address='10.1.0.1' prefix='20' localPtr='yes'/>")).def;
  assert.throws(
    () => dnsmasqConfig(odd, CTX),
    /PTR domain for IPv4 network with prefix 20 cannot be automatically created/,
  );
});

test("DNS host records go to the addnhosts text, merged by address", () => {
  const { def } = parseNetwork(
    net(
      "<forward/><dns><host ip='10.1.0.5'><hostname>a</hostname></host><host ip='fd00::5'><hostname>b</hostname><hostname>c</hostname></host>" +
        "<host ip='10.1.0.5'><hostname>d</hostname></host></dns><ip address='10.1.0.1' prefix='24'/>",
    ),
  );
  const files = dnsmasqConfig(def, CTX);
  assert.equal(files.addnHosts, "10.1.0.5\ta\td\t\nfd00::5\tb\tc\t\n");
  assert.equal(files.addnHostsPath, "/var/lib/libvirt/dnsmasq/n1.addnhosts");
  assert.equal(
    dnsmasqConfig(parseNetwork(net("<forward/><ip address='10.1.0.1' prefix='24'/>")).def, CTX).addnHosts,
    "",
  );
});
