/**
 * Bad input to the pool and volume parsers: each mistake gives a catalogued user error of the
 * storage domain naming the object, the place and what is allowed; unknown XML gives warnings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError } from "../../util/errors/index.ts";
import {
  POOL_TYPES,
  formatPool,
  formatVolume,
  parsePool,
  parseVolume,
  sanitizePath,
  unitScale,
} from "./index.ts";

const UUID = "<uuid>00000000-0000-0000-0000-000000000001</uuid>";
const DIR = parsePool(
  `<pool type='dir'><name>images</name>${UUID}<target><path>/var/lib/images</path></target></pool>`,
).def;

function userError(fn: () => unknown, code: string, ...parts: string[]): VirtError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof VirtError, `expected a VirtError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.kind, "user");
  assert.equal(caught.virDomain, 18, "VIR_FROM_STORAGE");
  assert.doesNotMatch(caught.message, /internal error/);
  for (const p of parts) assert.ok(caught.message.includes(p), `'${caught.message}' lacks '${p}'`);
  return caught;
}

const volXml = (name: string, capacity = "<capacity>1</capacity>"): string =>
  `<volume><name>${name}</name>${capacity}<target><path>/var/lib/images/x</path></target></volume>`;

test("a volume name with '/' is refused, naming it", () => {
  userError(
    () => parseVolume(volXml("a/b"), DIR),
    "STORAGE_INVALID_NAME",
    "storage volume name 'a/b'",
    "'/'",
  );
  userError(() => parseVolume(volXml(".."), DIR), "STORAGE_INVALID_NAME", "'..'");
  userError(() => parseVolume(volXml(""), DIR), "STORAGE_INVALID_NAME", "empty");
});

test("a pool name with '/' is refused, naming it", () => {
  userError(
    () => parsePool(`<pool type='dir'><name>x/y</name><target><path>/p</path></target></pool>`),
    "STORAGE_INVALID_NAME",
    "storage pool name 'x/y'",
  );
});

test("size 0 is a valid capacity (as libvirt: qemu-img creates an empty image)", () => {
  const { def } = parseVolume(volXml("z", "<capacity>0</capacity>"), DIR);
  assert.equal(def.capacity, 0n);
  assert.equal(def.allocation, 0n);
});

test("negative, non-numeric and overflowing sizes are refused with the volume and XPath named", () => {
  const e = userError(
    () => parseVolume(volXml("v", "<capacity>-1</capacity>"), DIR),
    "STORAGE_INVALID_VALUE",
    "'-1'",
    "/volume/capacity",
    "storage volume 'v'",
    "non-negative",
  );
  assert.equal(e.details.xpath, "/volume/capacity");
  userError(
    () => parseVolume(volXml("v", "<capacity>1.5</capacity>"), DIR),
    "STORAGE_INVALID_VALUE",
    "'1.5'",
  );
  userError(
    () => parseVolume(volXml("v", "<capacity unit='EiB'>8</capacity>"), DIR),
    "STORAGE_INVALID_VALUE",
    "larger than the maximum of 9223372036854775807 bytes",
  );
  userError(
    () => parseVolume(volXml("v", "<capacity>99999999999999999999999</capacity>"), DIR),
    "STORAGE_INVALID_VALUE",
    "larger than the maximum",
  );
  // The largest allowed size is accepted exactly.
  const max = parseVolume(volXml("v", "<capacity>9223372036854775807</capacity>"), DIR).def;
  assert.equal(max.capacity, 2n ** 63n - 1n);
});

test("an unknown unit is refused with the units allowed", () => {
  const e = userError(
    () => parseVolume(volXml("v", "<capacity unit='parsec'>1</capacity>"), DIR),
    "STORAGE_INVALID_VALUE",
    "'parsec'",
    "/volume/capacity/@unit",
    "KiB",
  );
  assert.equal(e.details.xpath, "/volume/capacity/@unit");
});

test("units scale as libvirt's: k and KiB are 1024, KB is 1000, bytes 1", () => {
  assert.equal(unitScale("k"), 1024n);
  assert.equal(unitScale("KiB"), 1024n);
  assert.equal(unitScale("KB"), 1000n);
  assert.equal(unitScale("GB"), 1000n ** 3n);
  assert.equal(unitScale("G"), 1024n ** 3n);
  assert.equal(unitScale("bytes"), 1n);
  assert.equal(unitScale(undefined), 1n);
  assert.equal(unitScale("KiBB"), undefined);
  assert.equal(unitScale("x"), undefined);
});

test("an unknown pool type is refused with the allowed list", () => {
  const e = userError(
    () => parsePool(`<pool type='nfs'><name>p</name><target><path>/p</path></target></pool>`),
    "STORAGE_INVALID_VALUE",
    "'nfs'",
    "/pool/@type",
    "dir, fs, netfs, logical",
  );
  assert.deepEqual(e.details.allowed, POOL_TYPES);
  userError(() => parsePool(`<pool><name>p</name></pool>`), "STORAGE_MISSING", "missing pool type");
});

test("an unknown volume format is refused with the pool's formats", () => {
  const e = userError(
    () =>
      parseVolume(
        `<volume><name>v</name><capacity>1</capacity><target><format type='qcow3'/></target></volume>`,
        DIR,
      ),
    "STORAGE_INVALID_VALUE",
    "'qcow3'",
    "qcow2",
    "for a dir pool",
  );
  assert.ok(Array.isArray(e.details.allowed) && e.details.allowed.includes("vmdk"));
});

test("a missing capacity is refused unless the options allow it", () => {
  const xml = `<volume><name>v</name><target><path>/p/v</path></target></volume>`;
  userError(() => parseVolume(xml, DIR), "STORAGE_MISSING", "missing capacity element", "storage volume 'v'");
  assert.equal(parseVolume(xml, DIR, { noCapacity: true }).def.capacity, undefined);
  userError(() => parseVolume(xml, DIR, { optCapacity: true }), "STORAGE_MISSING");
});

test("bad permissions, compat, features and uuids are refused", () => {
  const withTarget = (t: string): string =>
    `<volume><name>v</name><capacity>1</capacity><target><path>/p/v</path>${t}</target></volume>`;
  userError(
    () => parseVolume(withTarget("<permissions><mode>0999</mode></permissions>"), DIR),
    "STORAGE_INVALID_VALUE",
    "octal mode",
  );
  userError(
    () => parseVolume(withTarget("<permissions><owner>root</owner></permissions>"), DIR),
    "STORAGE_INVALID_VALUE",
    "'root'",
  );
  userError(() => parseVolume(withTarget("<compat>1.1a</compat>"), DIR), "STORAGE_INVALID_VALUE", "compat");
  userError(
    () => parseVolume(withTarget("<features><zeroes/></features>"), DIR),
    "STORAGE_CONFIG_UNSUPPORTED",
    "unsupported feature zeroes",
    "lazy_refcounts, extended_l2",
  );
  userError(
    () =>
      parsePool(`<pool type='dir'><name>p</name><uuid>nope</uuid><target><path>/p</path></target></pool>`),
    "STORAGE_INVALID_VALUE",
    "'nope'",
    "UUID",
  );
});

test("pool source rules keep libvirt's wording", () => {
  userError(
    () =>
      parsePool(
        `<pool type='netfs'><name>n</name><source><dir path='/x'/></source><target><path>/m</path></target></pool>`,
      ),
    "STORAGE_MISSING",
    "missing storage pool source host name",
    "/pool/source/host",
  );
  userError(
    () => parsePool(`<pool type='fs'><name>n</name><target><path>/m</path></target></pool>`),
    "STORAGE_MISSING",
    "missing storage pool source device name",
    "/pool/source/device",
  );
  userError(
    () => parsePool(`<pool type='rbd'><name>r</name><source><host name='h'/></source></pool>`),
    "STORAGE_MISSING",
    "element 'name' is mandatory for RBD pool",
  );
  userError(
    () =>
      parsePool(
        `<pool type='netfs'><name>n</name><source><host name='h'/><dir path='/x'/><format type='cifs'/><protocol ver='3'/></source><target><path>/m</path></target></pool>`,
      ),
    "STORAGE_CONFIG_UNSUPPORTED",
    "storage pool protocol ver unsupported for pool type 'cifs'",
  );
  userError(
    () =>
      parsePool(
        `<pool type='logical'><name>l</name><features><cow state='yes'/></features><source><device path='/dev/sdb'/></source></pool>`,
      ),
    "STORAGE_NO_SUPPORT",
    "cow feature may only be used for 'fs' and 'dir' pools",
  );
  userError(
    () =>
      parsePool(
        `<pool type='iscsi'><name>i</name><source><host name='h'/><device path='t'/><auth username='u'><secret usage='s'/></auth></source><target><path>/dev</path></target></pool>`,
      ),
    "STORAGE_CONFIG_UNSUPPORTED",
    "storage pool missing auth type",
  );
  userError(
    () =>
      parsePool(
        `<pool type='iscsi-direct'><name>i</name><source><host name='h'/><device path='t'/></source></pool>`,
      ),
    "STORAGE_CONFIG_UNSUPPORTED",
    "missing initiator IQN",
  );
  userError(
    () =>
      parsePool(
        `<pool type='scsi'><name>s</name><source><adapter type='fc_host' wwnn='1'/></source><target><path>/dev</path></target></pool>`,
      ),
    "STORAGE_INVALID_VALUE",
    "WWN",
  );
});

test("the wrong root element is refused", () => {
  userError(() => parsePool("<volume/>"), "STORAGE_UNEXPECTED_ROOT", "expecting <pool>");
  userError(() => parseVolume("<pool/>", DIR), "STORAGE_UNEXPECTED_ROOT", "expecting <volume>");
});

test("unknown XML is reported as warnings, not dropped silently", () => {
  const { warnings } = parsePool(
    `<pool type='dir' colour='red'><name>p</name>${UUID}<target><path>/p</path><quota/></target></pool>`,
  );
  assert.deepEqual(
    warnings.map((w) => w.xpath),
    ["/pool/@colour", "/pool/target/quota"],
  );
  // A format on a logical volume is not read (logical volumes have none): a warning says so.
  const lv = parsePool(
    `<pool type='logical'><name>vg</name><source><device path='/dev/sdb'/></source></pool>`,
  ).def;
  const v = parseVolume(
    `<volume><name>l</name><capacity>1</capacity><target><format type='qcow2'/></target></volume>`,
    lv,
  );
  assert.deepEqual(
    v.warnings.map((w) => w.xpath),
    ["/volume/target/format"],
  );
});

test("defaults: uuid made when absent, gluster dir '/', logical target from the source name", () => {
  const p = parsePool(`<pool type='dir'><name>p</name><target><path>/p/</path></target></pool>`, {
    makeUuid: () => "11111111-2222-3333-4444-555555555555",
  }).def;
  assert.equal(p.uuid, "11111111-2222-3333-4444-555555555555");
  assert.equal(p.target?.path, "/p");
  const g = parsePool(
    `<pool type='gluster'><name>g</name>${UUID}<source><host name='h'/></source></pool>`,
  ).def;
  assert.equal(g.source.dir, "/");
  assert.equal(g.source.name, "g");
  assert.match(formatPool(g), /<dir path='\/'\/>/);
});

test("paths are cleaned as libvirt's virFileSanitizePath", () => {
  assert.equal(sanitizePath("///var/////lib//"), "/var/lib");
  assert.equal(sanitizePath("//host/share"), "//host/share");
  assert.equal(sanitizePath("/"), "/");
  assert.equal(sanitizePath("rel//x/"), "rel/x");
});

test("a volume round-trips with features, cluster size and encryption", () => {
  const xml = `<volume><name>q</name><capacity unit='KiB'>4</capacity><target><path>/p/q</path><format type='qcow2'/><encryption format='luks'><secret type='passphrase' usage='vol-q'/></encryption><clusterSize unit='KiB'>64</clusterSize><features><lazy_refcounts/></features></target></volume>`;
  const { def, warnings } = parseVolume(xml, DIR);
  assert.deepEqual(warnings, []);
  const out = formatVolume(DIR, def);
  assert.match(out, /<capacity unit='bytes'>4096<\/capacity>/);
  assert.match(out, /<secret type='passphrase' usage='vol-q'\/>/);
  assert.match(out, /<compat>1\.1<\/compat>\n {4}<clusterSize unit='B'>65536<\/clusterSize>/);
  assert.equal(formatVolume(DIR, parseVolume(out, DIR).def), out);
});

test("source parts a pool type does not have are warned about, not dropped silently", () => {
  const { def, warnings } = parsePool(
    `<pool type='dir'><name>p</name>${UUID}<source><host name='h'/><name>x</name></source><target><path>/p</path></target></pool>`,
  );
  assert.deepEqual(
    warnings.map((w) => w.xpath),
    ["/pool/source/host", "/pool/source/name"],
  );
  assert.deepEqual(def.source.hosts, []);
  userError(
    () =>
      parsePool(
        `<pool type='fs'><name>f</name><source><device path='/dev/sdb'/><protocol ver='3'/></source><target><path>/m</path></target></pool>`,
      ),
    "STORAGE_CONFIG_UNSUPPORTED",
    "protocol ver unsupported",
  );
});

test("an empty volume target keeps its end tag, as libvirt writes it", () => {
  const lv = parsePool(
    `<pool type='logical'><name>vg</name>${UUID}<source><device path='/dev/sdb'/></source></pool>`,
  ).def;
  const out = formatVolume(
    lv,
    parseVolume(`<volume type='block'><name>l</name><capacity>1</capacity></volume>`, lv).def,
  );
  assert.match(out, /\n {2}<target>\n {2}<\/target>\n/);
});
