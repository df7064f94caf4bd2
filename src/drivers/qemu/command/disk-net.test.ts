import { test } from "node:test";
import assert from "node:assert/strict";
import { assignAliases, formatDomainXML, parseDomainXML } from "../../../conf/domain/index.ts";
import { fakeCapsX86 } from "../../../testing/qemu/capabilities.ts";
import { buildQemuCommand, formatArgsFile } from "./index.ts";
import { hostCommandContext } from "./context.ts";
import type { CommandContext } from "./types.ts";

const caps = fakeCapsX86(["virtio-blk-pci", "blockjob.backing-mask-protocol"]);

function domain(disk: string): string {
  return `<domain type='qemu'>\n  <name>n</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n${disk}    <controller type='usb' model='none'/>\n    <memballoon model='none'/>\n  </devices>\n</domain>\n`;
}

function argv(xml: string, ctx: Partial<CommandContext> = {}): string {
  const { def } = parseDomainXML(xml);
  assignAliases(def);
  const base = hostCommandContext(caps, "n", { kind: "embed", root: "/tmp/tvirt-disk-net-test" });
  return formatArgsFile(
    buildQemuCommand(def, {
      ...base,
      masterKey: new Uint8Array(32),
      secretIV: () => new Uint8Array(16),
      ...ctx,
    }),
  );
}

const curl = `    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='https' name='img' query='a=b'>
        <host name='example.org'/>
        <ssl verify='no'/>
        <cookies>
          <cookie name='c1'>v1</cookie>
        </cookies>
        <readahead size='1024'/>
        <timeout seconds='10'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
`;

test("an https source keeps its query, SSL, cookie, readahead and timeout settings and gets port 443", () => {
  const { def } = parseDomainXML(domain(curl));
  const xml = formatDomainXML(def);
  assert.match(xml, /<source protocol='https' name='img' query='a=b'>/);
  assert.match(xml, /<host name='example.org' port='443'\/>/);
  assert.match(xml, /<ssl verify='no'\/>\n\s+<cookies>\n\s+<cookie name='c1'>v1<\/cookie>/);
  assert.match(xml, /<readahead size='1024'\/>\n\s+<timeout seconds='10'\/>/);
});

test("an https source's node carries the URL query, sslverify, its cookie secret, readahead and timeout", () => {
  const a = argv(domain(curl));
  assert.match(a, /"qom-type":"secret","id":"libvirt-1-storage-httpcookie-secret0"/);
  assert.match(
    a,
    /"driver":"https","url":"https:\/\/example.org:443\/img\?a=b","sslverify":false,"cookie-secret":"libvirt-1-storage-httpcookie-secret0","readahead":1024,"timeout":10,/,
  );
});

test("with storage_use_nbdkit and nbdkit's curl plugin, QEMU reaches the source through nbdkit's socket", () => {
  const a = argv(domain(curl), { nbdkit: { plugins: ["curl"] } });
  assert.doesNotMatch(a, /httpcookie/);
  assert.match(
    a,
    /"driver":"nbd","server":\{"type":"unix","path":"[^"]*\/nbdkit-libvirt-1-storage.socket"\}/,
  );
});

test("an nbd source with tls='yes' gets TLS credentials and its reconnect delay", () => {
  const nbd = `    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='e' tls='yes'>
        <host name='example.org' port='6000'/>
        <reconnect delay='10'/>
      </source>
      <target dev='vda' bus='virtio'/>
    </disk>
`;
  const { def } = parseDomainXML(domain(nbd));
  assert.match(
    formatDomainXML(def),
    /<source protocol='nbd' name='e' tls='yes'>[\s\S]*<reconnect delay='10'\/>/,
  );
  const a = argv(domain(nbd), { nbdTLS: { enabled: false, x509certdir: "/etc/pki/nbd" } });
  assert.match(
    a,
    /"qom-type":"tls-creds-x509","id":"objlibvirt-1-storage_tls0","dir":"\/etc\/pki\/nbd","endpoint":"client","verify-peer":true/,
  );
  assert.match(a, /"export":"e","tls-creds":"objlibvirt-1-storage_tls0","reconnect-delay":10,/);
});

test("an iSCSI source without a host is refused", () => {
  const xml = domain(`    <disk type='network' device='disk'>
      <source protocol='iscsi' name='iqn.1992-01.com.example:storage/1'/>
      <target dev='vda' bus='virtio'/>
    </disk>
`);
  assert.throws(() => argv(xml), /iSCSI protocol accepts only one host/);
});
