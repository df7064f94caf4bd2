/**
 * LUKS-encrypted disks and `<iotune>` on real QEMU (TCG, the tiny guest in `disks` mode, which
 * prints each block device with its size in sectors every 2 s), one guest for all:
 * - a raw LUKS image (secret by usage, `<encryption>` in `<disk>`) and a qcow2 with LUKS
 *   encryption (secret by UUID, `<encryption>` in `<source>`) are opened with the passphrases of
 *   the root's secret driver: the guest sees their virtual sizes, which QEMU knows only after
 *   unlocking them; the command line carries the passphrases encrypted with the domain's master
 *   key, never in the clear;
 * - `<iotune>` reaches QEMU's throttling (query-block);
 * - a hotplugged LUKS disk is unlocked too, and its secret object goes away with it;
 * - a missing secret and a wrong passphrase refuse the start with errors naming them.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DomainDeviceModifyFlags as F } from "../../enums.ts";
import { secretDriverFor } from "../../secret/driver.ts";
import { driverPaths } from "../paths.ts";
import { ConsoleReader, guestXML, makeTestRoot, rejects } from "../../../testing/qemu/driver.ts";

const PASS = "correct horse battery";
const RAW_UUID = "6c4b9b1e-2f61-4a4c-9d7e-5b3b1f0d2a11";
const QCOW_UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";

function luksImage(path: string, size: string, format: "luks" | "qcow2", pass: string): void {
  // a short key derivation (200 ms), so unlocking does not slow the test
  const opts =
    format === "luks"
      ? "key-secret=sec0,iter-time=200"
      : "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=200";
  // qemu-img times its PBKDF by CPU time, and on a loaded machine it may measure none and give
  // up ("Unable to get accurate CPU usage"): try again then
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(
        "qemu-img",
        ["create", "-q", "--object", `secret,id=sec0,data=${pass}`, "-f", format, "-o", opts, path, size],
        { stdio: "pipe" },
      );
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}

test("LUKS disks unlocked with the secret driver's passphrases, iotune applied, hotplug", async (t) => {
  const base = await guestXML(t, { name: "luks", mode: "disks" });
  if (base === undefined) return;
  const tr = makeTestRoot("tvirt-luks-");
  const raw = join(tr.root, "data.luks");
  const qcow = join(tr.root, "data.qcow2");
  const hot = join(tr.root, "hot.luks");
  const wrong = join(tr.root, "wrong.luks");
  luksImage(raw, "16M", "luks", PASS);
  luksImage(qcow, "24M", "qcow2", PASS);
  luksImage(hot, "20M", "luks", PASS);
  luksImage(wrong, "8M", "luks", "another passphrase");

  const secrets = secretDriverFor({ kind: "embed", root: tr.root });
  await secrets.defineXML(
    `<secret ephemeral='no' private='yes'><uuid>${RAW_UUID}</uuid><usage type='volume'><volume>${raw}</volume></usage></secret>`,
    0,
  );
  await secrets.setValue({ uuid: RAW_UUID, usageType: 1, usageID: raw }, Buffer.from(PASS), 0);
  await secrets.defineXML(`<secret ephemeral='no' private='no'><uuid>${QCOW_UUID}</uuid></secret>`, 0);
  await secrets.setValue({ uuid: QCOW_UUID, usageType: 0, usageID: "" }, Buffer.from(PASS), 0);

  const rawDisk = (path: string, dev: string, by: string): string =>
    `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${path}'/>` +
    `<target dev='${dev}' bus='virtio'/><encryption format='luks'><secret type='passphrase' ${by}/></encryption></disk>`;
  const qcowDisk =
    `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${qcow}'>` +
    `<encryption format='luks'><secret type='passphrase' uuid='${QCOW_UUID}'/></encryption></source>` +
    `<target dev='vdc' bus='virtio'/><iotune><total_bytes_sec>10485760</total_bytes_sec><read_iops_sec>400</read_iops_sec></iotune></disk>`;
  const withDisks = (...disks: string[]): string =>
    base.replace("<memballoon", `${disks.join("\n    ")}\n    <memballoon`);
  const paths = driverPaths({ kind: "embed", root: tr.root });
  const conn = await tr.open();
  try {
    // --- refusals: no such secret; a passphrase that does not unlock the image --------------
    const missing = await conn.domainDefineXML(
      withDisks(rawDisk(raw, "vdb", "uuid='11111111-2222-3333-4444-555555555555'")),
    );
    await rejects(conn.domainCreate(missing), "SECRET_NOT_FOUND", /11111111-2222-3333-4444-555555555555/);
    await conn.domainUndefine(missing);
    const bad = await conn.domainDefineXML(withDisks(rawDisk(wrong, "vdb", `uuid='${QCOW_UUID}'`)));
    await assert.rejects(conn.domainCreate(bad), /keyslot|password/i);
    await conn.domainUndefine(bad);

    // --- start: both images unlocked, sizes seen by the guest ------------------------------
    const xml = withDisks(rawDisk(raw, "vdb", `usage='${raw}'`), qcowDisk);
    const dom = await conn.domainDefineXML(xml);
    const defined = await conn.domainGetXMLDesc(dom, 0);
    assert.match(defined, /<target dev='vdb' bus='virtio'\/>\s*<encryption format='luks' engine='qemu'>/);
    assert.match(defined, new RegExp(`<source file='${qcow}'>\\s*<encryption format='luks' engine='qemu'>`));
    assert.match(defined, /<iotune>\s*<total_bytes_sec>10485760<\/total_bytes_sec>\s*<read_iops_sec>400</);
    await conn.domainCreate(dom);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    // the guest names its disks in PCI order: vdb and vdc of the XML are its vda and vdb
    await con.waitFor(/DISK vda 32768\b/, 120_000); // 16 MiB
    await con.waitFor(/DISK vdb 49152\b/, 60_000); // 24 MiB

    const argv = readFileSync(join(paths.logDir, "luks.log"), "utf8");
    assert.ok(!argv.includes(PASS), "no passphrase in the clear");
    assert.ok(!argv.includes(Buffer.from(PASS).toString("base64")), "nor merely base64-encoded");
    assert.match(
      argv,
      /"qom-type":"secret","id":"libvirt-\d+-format-encryption-secret0","data":"[^"]+","keyid":"masterKey0"/,
    );
    assert.match(argv, /"driver":"luks","key-secret":"libvirt-\d+-format-encryption-secret0"/);
    assert.match(
      argv,
      /"driver":"qcow2","encrypt":\{"format":"luks","key-secret":"libvirt-\d+-format-encryption-secret0"\}/,
    );

    const blocks = JSON.parse(
      await conn.domainQemuMonitorCommand(dom, JSON.stringify({ execute: "query-block" }), 0),
    ) as { return: { qdev?: string; inserted?: { bps: number; iops_rd: number } }[] };
    const vdc = blocks.return.find((b) => b.qdev?.includes("virtio-disk2"));
    assert.ok(vdc?.inserted, "vdc in query-block");
    assert.equal(vdc.inserted.bps, 10485760);
    assert.equal(vdc.inserted.iops_rd, 400);

    // --- hotplug: unlocked, then unplugged with its secret object --------------------------
    let from = con.text.length;
    await conn.domainAttachDeviceFlags(dom, rawDisk(hot, "vdd", `uuid='${QCOW_UUID}'`), F.LIVE);
    await con.waitFor(/DISK vdc 40960\b/, 60_000, from); // 20 MiB
    const objects = async (): Promise<string[]> => {
      const r = JSON.parse(
        await conn.domainQemuMonitorCommand(
          dom,
          JSON.stringify({ execute: "qom-list", arguments: { path: "/objects" } }),
          0,
        ),
      ) as { return: { name: string }[] };
      return r.return.map((o) => o.name).filter((n) => n.includes("secret"));
    };
    const before = await objects();
    assert.equal(before.filter((n) => n.endsWith("-encryption-secret0")).length, 3, before.join(","));
    from = con.text.length;
    await conn.domainDetachDeviceFlags(dom, rawDisk(hot, "vdd", `uuid='${QCOW_UUID}'`), F.LIVE);
    await con.waitFor(/DISKS-END 2\b/, 60_000, from);
    const after = await objects();
    assert.equal(after.filter((n) => n.endsWith("-encryption-secret0")).length, 2, after.join(","));
    await con.close();
    await conn.domainDestroy(dom);
  } finally {
    await conn.connectClose().catch(() => undefined);
    await tr.cleanup();
  }
});
