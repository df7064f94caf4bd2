/**
 * Golden tests of the storage commands against libvirt 11.3's storagepoolxml2argv and
 * storagevolxml2argv data (read in place), with the case list and pairings of libvirt's
 * harnesses (storagepoolxml2argvtest.c, storagevolxml2argvtest.c), plus unit tests for what
 * the data does not cover. The product returns argv arrays; `printLikeLibvirt` prints them as
 * libvirt's test does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { libvirtSuite, libvirtSuiteOrSkip } from "../../testing/libvirt-suite.ts";
import { VirtError } from "../../util/errors/index.ts";
import { parsePool, parseVolume, type PoolDef, type VolumeDef } from "../../conf/storage/index.ts";
import {
  checkVolumeCreatable,
  diskLabelCommand,
  logicalBuildCommands,
  logicalChangeCommand,
  logicalDeleteCommands,
  mkfsCommand,
  poolMountCommand,
  poolStartCommands,
  poolStopCommands,
  qemuImgCommands,
  type Argv,
  type MountPlatform,
} from "./commands.ts";

/**
 * libvirt's printing of a command for tests (virCommandToString with line breaks): arguments
 * separated by " \\\n", except that a value follows its option (an argument starting with '-')
 * on the same line. `strip` drops the program's directory, as the pool harness does.
 */
export function printLikeLibvirt(cmds: readonly Argv[], strip = false): string {
  return cmds
    .map((argv) => {
      let s = "";
      argv.forEach((a, i) => {
        const arg = i === 0 && strip ? basename(a) : a;
        if (i === 0) s = arg;
        else if ((argv[i - 1] ?? "").startsWith("-") && !arg.startsWith("-")) s += ` ${arg}`;
        else s += ` \\\n${arg}`;
      });
      return s + "\n";
    })
    .join("");
}

test("printLikeLibvirt keeps an option's value on its line", () => {
  assert.equal(
    printLikeLibvirt([["/usr/bin/mount", "-o", "a,b", "-t", "nfs", "src", "dst"]], true),
    "mount \\\n-o a,b \\\n-t nfs \\\nsrc \\\ndst\n",
  );
});

/** storagepoolxml2argvtest: pools that have a command (the others are its expected failures). */
const POOL_CASES: readonly { pool: string; platform?: boolean }[] = [
  { pool: "pool-logical" },
  { pool: "pool-logical-nopath" },
  { pool: "pool-logical-create" },
  { pool: "pool-logical-noname" },
  { pool: "pool-fs", platform: true },
  { pool: "pool-netfs", platform: true },
  { pool: "pool-netfs-auto", platform: true },
  { pool: "pool-netfs-protocol-ver", platform: true },
  { pool: "pool-netfs-ns-mountopts", platform: true },
  { pool: "pool-netfs-gluster", platform: true },
  { pool: "pool-netfs-cifs", platform: true },
];
/** The harness's expected failures: pool types without a start command. */
const POOL_FAIL = [
  "pool-dir",
  "pool-dir-naming",
  "pool-disk",
  "pool-disk-device-nopartsep",
  "pool-iscsi",
  "pool-iscsi-auth",
  "pool-scsi",
  "pool-scsi-type-scsi-host",
  "pool-scsi-type-fc-host",
  "pool-scsi-type-fc-host-managed",
  "pool-mpath",
  "pool-iscsi-multiiqn",
  "pool-iscsi-vendor-product",
  "pool-gluster",
  "pool-gluster-sub",
  "pool-scsi-type-scsi-host-stable",
  "pool-zfs",
  "pool-zfs-sourcedev",
  "pool-rbd",
  "pool-vstorage",
  "pool-iscsi-direct-auth",
  "pool-iscsi-direct",
];

/**
 * storagevolxml2argvtest: [pool, volume, input pool, input volume, argv file, prealloc flag,
 * capacity optional with a backing store]. `fail` cases have no argv file.
 */
interface VolCase {
  pool: string;
  vol: string;
  inputPool?: string;
  inputVol?: string;
  argv: string;
  prealloc?: boolean;
  optCapacity?: boolean;
  fail?: RegExp;
}
const VOL_CASES: readonly VolCase[] = [
  { pool: "pool-dir", vol: "vol-qcow2", argv: "qcow2-compat" },
  { pool: "pool-dir", vol: "vol-qcow2-nobacking", argv: "qcow2-nobacking-prealloc-compat", prealloc: true },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-nobacking",
    inputPool: "pool-dir",
    inputVol: "vol-file",
    argv: "qcow2-nobacking-convert-prealloc-compat",
    prealloc: true,
  },
  { pool: "pool-dir", vol: "vol-qcow2-lazy", argv: "qcow2-lazy" },
  { pool: "pool-dir", vol: "vol-qcow2-1.1", argv: "qcow2-1.1" },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-0.10-lazy",
    argv: "qcow2-0.10-lazy",
    fail: /lazy_refcounts not supported with compat level 0\.10/,
  },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-nobacking",
    inputPool: "pool-logical",
    inputVol: "vol-logical",
    argv: "qcow2-from-logical-compat",
  },
  {
    pool: "pool-logical",
    vol: "vol-logical",
    inputPool: "pool-dir",
    inputVol: "vol-qcow2-nobacking",
    argv: "logical-from-qcow2",
  },
  { pool: "pool-dir", vol: "vol-qcow2-nocow", argv: "qcow2-nocow-compat" },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-nocapacity",
    inputPool: "pool-dir",
    inputVol: "vol-file",
    argv: "qcow2-nocapacity-convert-prealloc",
    prealloc: true,
  },
  { pool: "pool-dir", vol: "vol-qcow2-zerocapacity", argv: "qcow2-zerocapacity" },
  { pool: "pool-dir", vol: "vol-qcow2-nocapacity-backing", argv: "qcow2-nocapacity", optCapacity: true },
  { pool: "pool-dir", vol: "vol-qcow2-clusterSize", argv: "qcow2-clusterSize" },
  { pool: "pool-dir", vol: "vol-file-iso", argv: "iso" },
  { pool: "pool-dir", vol: "vol-file", inputPool: "pool-dir", inputVol: "vol-file-iso", argv: "iso-input" },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-encryption",
    argv: "qcow2-encryption",
    fail: /creation of qcow2 encrypted image is not supported/,
  },
  { pool: "pool-dir", vol: "vol-luks", argv: "luks" },
  { pool: "pool-dir", vol: "vol-luks-cipher", argv: "luks-cipher" },
  { pool: "pool-dir", vol: "vol-qcow2-luks", argv: "qcow2-luks" },
  {
    pool: "pool-dir",
    vol: "vol-luks-convert",
    inputPool: "pool-dir",
    inputVol: "vol-file",
    argv: "luks-convert",
  },
  {
    pool: "pool-dir",
    vol: "vol-luks-convert",
    inputPool: "pool-dir",
    inputVol: "vol-file-qcow2",
    argv: "luks-convert-qcow2",
  },
  {
    pool: "pool-dir",
    vol: "vol-luks",
    inputPool: "pool-dir",
    inputVol: "vol-luks-convert",
    argv: "luks-convert-encrypt",
  },
  {
    pool: "pool-dir",
    vol: "vol-file",
    inputPool: "pool-dir",
    inputVol: "vol-luks-convert",
    argv: "luks-convert-encrypt2fileraw",
  },
  {
    pool: "pool-dir",
    vol: "vol-file-qcow2",
    inputPool: "pool-dir",
    inputVol: "vol-luks-convert",
    argv: "luks-convert-encrypt2fileqcow2",
  },
  {
    pool: "pool-dir",
    vol: "vol-qcow2-luks",
    inputPool: "pool-dir",
    inputVol: "vol-qcow2-luks-convert",
    argv: "qcow2-luks-convert-encrypt",
  },
  {
    pool: "pool-dir",
    vol: "vol-file",
    inputPool: "pool-dir",
    inputVol: "vol-qcow2-luks-convert",
    argv: "qcow2-luks-convert-encrypt2fileraw",
  },
  {
    pool: "pool-dir",
    vol: "vol-file-qcow2",
    inputPool: "pool-dir",
    inputVol: "vol-qcow2-luks-convert",
    argv: "qcow2-luks-convert-encrypt2fileqcow2",
  },
];

/** Argv files no case of the 11.3 harness reads (older releases' leftovers). */
const STALE_ARGV: Readonly<Record<string, string>> = {
  "qcow2-nocow":
    "pre-1.1 output (encryption=on, old line breaking); 11.3 tests vol-qcow2-nocow as qcow2-nocow-compat",
};

/** The volume type libvirt's createVol sets (as the harness's testSetVolumeType). */
function withPoolVolType(vol: VolumeDef, pool: PoolDef): VolumeDef {
  if (pool.type === "dir" || pool.type === "fs" || pool.type === "netfs") return { ...vol, type: "file" };
  if (pool.type === "logical") return { ...vol, type: "block" };
  return vol;
}

const suite = libvirtSuite();

if (!suite) {
  test("storage xml2argv corpus", (t) => {
    libvirtSuiteOrSkip(t);
  });
} else {
  const tests = join(suite, "tests");
  const poolXml = (name: string): PoolDef =>
    parsePool(readFileSync(join(tests, "storagepoolxml2xmlin", `${name}.xml`), "utf8")).def;
  const volXml = (
    name: string,
    pool: PoolDef,
    opts: { noCapacity?: boolean; optCapacity?: boolean } = {},
  ): VolumeDef =>
    withPoolVolType(
      parseVolume(readFileSync(join(tests, "storagevolxml2xmlin", `${name}.xml`), "utf8"), pool, opts).def,
      pool,
    );
  const poolArgv = join(tests, "storagepoolxml2argvdata");
  const volArgv = join(tests, "storagevolxml2argvdata");

  for (const c of POOL_CASES) {
    const variants: [string, MountPlatform][] = c.platform
      ? [
          ["-linux", "linux"],
          ["-freebsd", "freebsd"],
          ["", "other"],
        ]
      : [["", "linux"]];
    for (const [suffix, platform] of variants) {
      test(`pool xml2argv ${c.pool}${suffix}`, () => {
        const pool = poolXml(c.pool);
        const cmds =
          pool.type === "logical"
            ? [logicalChangeCommand(pool, true)]
            : [poolMountCommand(pool, {}, platform)];
        const want = readFileSync(join(poolArgv, `${c.pool}${suffix}.argv`), "utf8");
        assert.equal(printLikeLibvirt(cmds, true), want);
      });
    }
  }

  test("pool xml2argv: the harness's failing cases have no start command", () => {
    for (const p of POOL_FAIL) {
      if (!existsSync(join(tests, "storagepoolxml2xmlin", `${p}.xml`))) continue;
      const pool = poolXml(p);
      assert.deepEqual(poolStartCommands(pool), [], p);
      assert.throws(() => poolMountCommand(pool), VirtError, p);
    }
  });

  for (const c of VOL_CASES) {
    test(`volume xml2argv ${c.argv}`, () => {
      const pool = poolXml(c.pool);
      const inputPool = c.inputPool ? poolXml(c.inputPool) : undefined;
      const vol = volXml(c.vol, pool, { noCapacity: c.inputVol !== undefined, optCapacity: c.optCapacity });
      const inputVol = c.inputVol && inputPool ? volXml(c.inputVol, inputPool) : undefined;
      const run = (): Argv[] =>
        qemuImgCommands({
          pool,
          vol,
          inputPool,
          inputVol,
          preallocMetadata: c.prealloc,
          secretPath: "/path/to/secretFile",
          inputSecretPath: "/path/to/inputSecretFile",
        });
      if (c.fail) {
        assert.throws(
          run,
          (e: unknown) => e instanceof VirtError && c.fail!.test(e.message) && e.kind === "user",
        );
        return;
      }
      const want = readFileSync(join(volArgv, `${c.argv}.argv`), "utf8");
      assert.equal(printLikeLibvirt(run()), want);
    });
  }

  test("every argv file is a harness case or a listed stale one", () => {
    const vols = readdirSync(volArgv)
      .filter((f) => f.endsWith(".argv"))
      .map((f) => f.slice(0, -5))
      .sort();
    const used = VOL_CASES.filter((c) => !c.fail).map((c) => c.argv);
    assert.deepEqual(vols, [...used, ...Object.keys(STALE_ARGV)].sort());
    const pools = readdirSync(poolArgv).filter((f) => f.endsWith(".argv")).length;
    const poolUsed = POOL_CASES.reduce((n, c) => n + (c.platform ? 3 : 1), 0);
    assert.equal(pools, poolUsed);
  });

  for (const [f, why] of Object.entries(STALE_ARGV)) {
    test(`volume argv ${f} is stale: ${why}`, () => {
      assert.ok(existsSync(join(volArgv, `${f}.argv`)));
      assert.ok(!VOL_CASES.some((c) => c.argv === f));
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Unit tests (no corpus needed)
// ---------------------------------------------------------------------------------------------

const DIR_POOL = parsePool(
  "<pool type='dir'><name>p</name><uuid>00000000-0000-0000-0000-000000000001</uuid><target><path>/p</path></target></pool>",
).def;

function vol(xml: string): VolumeDef {
  return { ...parseVolume(xml, DIR_POOL).def, type: "file" };
}

test("qemu-img create of a raw volume rounds the size up to KiB", () => {
  const v = vol("<volume><name>a</name><capacity>1025</capacity><target><path>/p/a</path></target></volume>");
  assert.deepEqual(qemuImgCommands({ pool: DIR_POOL, vol: v }), [
    ["qemu-img", "create", "-f", "raw", "/p/a", "2K"],
  ]);
});

test("a backing store on a raw volume is refused", () => {
  const v = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path></target><backingStore><path>/p/b</path></backingStore></volume>",
  );
  assert.throws(() => qemuImgCommands({ pool: DIR_POOL, vol: v }), /cannot set backing store for raw volume/);
});

test("metadata preallocation conflicts with a backing store and needs qcow2", () => {
  const b = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path><format type='qcow2'/></target><backingStore><path>/p/b</path></backingStore></volume>",
  );
  assert.throws(
    () => qemuImgCommands({ pool: DIR_POOL, vol: b, preallocMetadata: true }),
    /conflicts with backing store/,
  );
  const raw = vol("<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path></target></volume>");
  assert.throws(
    () => qemuImgCommands({ pool: DIR_POOL, vol: raw, preallocMetadata: true }),
    /only available with qcow2/,
  );
});

test("extended_l2 with compat 0.10 is refused, lazy_refcounts and extended_l2 are written in order", () => {
  const bad = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path><format type='qcow2'/><compat>0.10</compat><features><extended_l2/></features></target></volume>",
  );
  assert.throws(
    () => qemuImgCommands({ pool: DIR_POOL, vol: bad }),
    /extended_l2 not supported with compat level 0\.10/,
  );
  const ok = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path><format type='qcow2'/><features><extended_l2/><lazy_refcounts/></features></target></volume>",
  );
  assert.deepEqual(qemuImgCommands({ pool: DIR_POOL, vol: ok })[0]?.slice(4, 6), [
    "-o",
    "compat=1.1,lazy_refcounts,extended_l2=on",
  ]);
});

test("encryption is refused by the driver check with the volume named", () => {
  const v = vol(
    "<volume><name>secret.img</name><capacity>1</capacity><target><path>/p/s</path><encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption></target></volume>",
  );
  assert.throws(
    () => {
      checkVolumeCreatable(v);
    },
    (e: unknown) =>
      e instanceof VirtError &&
      e.code === "STORAGE_VOL_ENCRYPTION_REFUSED" &&
      e.message.includes("'secret.img'") &&
      e.message.includes("'luks'") &&
      e.virDomain === 18,
  );
  const plain = vol(
    "<volume><name>b</name><capacity>1</capacity><target><path>/p/b</path></target></volume>",
  );
  assert.doesNotThrow(() => {
    checkVolumeCreatable(plain);
  });
  assert.throws(() => {
    checkVolumeCreatable(plain, v);
  }, /'secret\.img'/);
});

test("pool build, stop and delete commands", () => {
  const lv = parsePool(
    "<pool type='logical'><name>vg0</name><source><device path='/dev/sdb1'/><device path='/dev/sdc1'/></source></pool>",
  ).def;
  assert.deepEqual(logicalBuildCommands(lv), [
    ["pvcreate", "/dev/sdb1"],
    ["pvcreate", "/dev/sdc1"],
    ["vgcreate", "vg0", "/dev/sdb1", "/dev/sdc1"],
  ]);
  assert.deepEqual(logicalDeleteCommands(lv), [
    ["vgremove", "-f", "vg0"],
    ["pvremove", "/dev/sdb1"],
    ["pvremove", "/dev/sdc1"],
  ]);
  assert.deepEqual(poolStopCommands(lv), [["vgchange", "-aln", "vg0"]]);
  const fs = parsePool(
    "<pool type='fs'><name>f</name><source><device path='/dev/sdd1'/><format type='ext4'/></source><target><path>/mnt/f</path></target></pool>",
  ).def;
  assert.deepEqual(mkfsCommand(fs), ["mkfs", "-t", "ext4", "-F", "/dev/sdd1"]);
  assert.deepEqual(poolStopCommands(fs), [["umount", "/mnt/f"]]);
  const disk = parsePool(
    "<pool type='disk'><name>d</name><source><device path='/dev/sde'/><format type='dos'/></source><target><path>/dev</path></target></pool>",
  ).def;
  assert.deepEqual(diskLabelCommand(disk), ["parted", "/dev/sde", "mklabel", "--script", "msdos"]);
  const unknown = parsePool(
    "<pool type='disk'><name>d</name><source><device path='/dev/sde'/></source><target><path>/dev</path></target></pool>",
  ).def;
  assert.deepEqual(diskLabelCommand(unknown), ["parted", "/dev/sde", "mklabel", "--script", "msdos"]);
  const gpt = parsePool(
    "<pool type='disk'><name>d</name><source><device path='/dev/sdf'/><format type='gpt'/></source><target><path>/dev</path></target></pool>",
  ).def;
  assert.deepEqual(diskLabelCommand(gpt), ["parted", "/dev/sdf", "mklabel", "--script", "gpt"]);
  assert.throws(
    () => mkfsCommand(disk),
    (e: unknown) => e instanceof VirtError && e.kind === "user",
  );
});

test("compat and features need qcow2; LUKS options of qcow2 go under encrypt.; commas are escaped", () => {
  const raw = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path><compat>1.1</compat></target></volume>",
  );
  assert.throws(
    () => qemuImgCommands({ pool: DIR_POOL, vol: raw }),
    /compatibility option only available with qcow2/,
  );
  const rawf = vol(
    "<volume><name>a</name><capacity>1</capacity><target><path>/p/a</path><features/></target></volume>",
  );
  assert.throws(() => qemuImgCommands({ pool: DIR_POOL, vol: rawf }), /only available with qcow2/);
  const q = vol(
    "<volume><name>q</name><capacity>1024</capacity><target><path>/p/q</path><format type='qcow2'/><encryption format='luks'><secret type='passphrase' usage='u'/><cipher name='aes' size='256' mode='xts'/><ivgen name='plain64'/></encryption></target></volume>",
  );
  assert.deepEqual(qemuImgCommands({ pool: DIR_POOL, vol: q, secretPath: "/run/a,b" }), [
    [
      "qemu-img",
      "create",
      "-f",
      "qcow2",
      "--object",
      "secret,id=q_encrypt0,file=/run/a,,b",
      "-o",
      "encrypt.format=luks,encrypt.key-secret=q_encrypt0,encrypt.cipher-alg=aes-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,compat=1.1",
      "/p/q",
      "1K",
    ],
  ]);
});

test("preallocation: metadata below the capacity, falloc when fully allocated", () => {
  const q = (alloc: string): VolumeDef =>
    vol(
      `<volume><name>q</name><capacity unit='MiB'>1</capacity><allocation>${alloc}</allocation><target><path>/p/q</path><format type='qcow2'/></target></volume>`,
    );
  const opt = (v: VolumeDef): string | undefined =>
    qemuImgCommands({ pool: DIR_POOL, vol: v, preallocMetadata: true })[0]?.[5];
  assert.equal(opt(q("0")), "preallocation=metadata,compat=1.1");
  assert.equal(opt(q("1048576")), "preallocation=falloc,compat=1.1");
});
