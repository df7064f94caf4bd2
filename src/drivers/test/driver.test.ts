/**
 * The test driver's semantics: states and reasons, refused transitions with libvirt's
 * messages, transient vs persistent domains, save images, managed save, list filters, the
 * defaults libvirt applies, and bad input that leaves everything as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtError } from "../../util/errors/index.ts";
import { type DomainRef } from "../driver.ts";
import { ConnectListDomainsFlags as L, DomainState as S } from "../enums.ts";
import { TestConnection } from "./driver.ts";
import { acquireDefault } from "./state.ts";

function open(): TestConnection {
  return new TestConnection(acquireDefault(), "test:///default");
}

async function withConn(fn: (c: TestConnection, dom: DomainRef) => Promise<void>): Promise<void> {
  const c = open();
  try {
    await fn(c, await c.domainLookupByName("test"));
  } finally {
    await c.connectClose();
  }
}

function err(code: string, message?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof VirtError, String(e));
    assert.equal(e.code, code);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  };
}

const vm = (name: string, uuid: string, extra = ""): string =>
  `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory>65536</memory><os><type>hvm</type></os>${extra}</domain>`;
const U1 = "11111111-2222-3333-4444-555555555555";
const U2 = "22222222-2222-3333-4444-555555555555";

async function state(c: TestConnection, dom: DomainRef): Promise<[number, number]> {
  const s = await c.domainGetState(dom, 0);
  return [s.state, s.reason];
}

test("states and reasons through the life cycle", async () => {
  await withConn(async (c, d) => {
    assert.deepEqual(await state(c, d), [S.RUNNING, 0]); // the default domain: running (unknown)
    await c.domainSuspend(d);
    assert.deepEqual(await state(c, d), [S.PAUSED, 1]); // paused (user)
    await c.domainResume(d);
    assert.deepEqual(await state(c, d), [S.RUNNING, 5]); // running (unpaused)
    await c.domainReboot(d, 0);
    assert.deepEqual(await state(c, d), [S.RUNNING, 1]); // on_reboot restart: running (booted)
    await c.domainDestroyFlags(d, 0);
    assert.equal(d.id, -1, "the handle's id is updated");
    assert.deepEqual(await state(c, d), [S.SHUTOFF, 2]); // shut off (destroyed)
    await c.domainCreateWithFlags(d, 0);
    assert.equal(d.id, 2, "ids increase");
    assert.deepEqual(await state(c, d), [S.RUNNING, 1]);
    await c.domainShutdownFlags(d, 0);
    assert.deepEqual(await state(c, d), [S.SHUTOFF, 1]); // shut off (shutdown)
    await c.domainCreateWithFlags(d, 0);
    await c.domainManagedSave(d, 0);
    assert.deepEqual(await state(c, d), [S.SHUTOFF, 5]); // shut off (saved)
    assert.equal(await c.domainHasManagedSaveImage(d, 0), true);
    await c.domainCreateWithFlags(d, 0);
    assert.equal(await c.domainHasManagedSaveImage(d, 0), false, "start consumes the managed save image");
  });
});

test("refused transitions use libvirt's messages and change nothing", async () => {
  await withConn(async (c, d) => {
    await assert.rejects(
      c.domainResume(d),
      err("TEST_DOMAIN_NOT_PAUSED", "internal error: domain 'test' not paused"),
    );
    await assert.rejects(
      c.domainCreateWithFlags(d, 0),
      err("TEST_DOMAIN_ALREADY_RUNNING", "internal error: Domain 'test' is already running"),
    );
    await c.domainSuspend(d);
    await assert.rejects(
      c.domainSuspend(d),
      err("TEST_DOMAIN_NOT_RUNNING", "internal error: domain 'test' not running"),
    );
    await c.domainDestroyFlags(d, 0);
    for (const call of [
      () => c.domainDestroyFlags(d, 0),
      () => c.domainReboot(d, 0),
      () => c.domainReset(d, 0),
      () => c.domainManagedSave(d, 0),
    ]) {
      await assert.rejects(
        call(),
        err("DOMAIN_NOT_RUNNING", "Requested operation is not valid: domain is not running"),
      );
    }
    await assert.rejects(
      c.domainShutdownFlags(d, 0),
      err("TEST_DOMAIN_NOT_RUNNING", "internal error: domain 'test' not running"),
    );
    await assert.rejects(
      c.domainShutdownFlags(d, 1),
      err("UNSUPPORTED_FLAGS", "unsupported flags (0x1) in function testDomainShutdownFlags"),
    );
    await assert.rejects(
      c.domainCreateWithFlags(d, 1),
      err("UNSUPPORTED_FLAGS", "unsupported flags (0x1) in function testDomainCreateWithFlags"),
    );
    assert.deepEqual(await state(c, d), [S.SHUTOFF, 2]);
  });
});

test("transient domains disappear when they stop; undefine of a running domain makes it transient", async () => {
  await withConn(async (c, d) => {
    const t = await c.domainCreateXML(vm("t", U1), 0);
    assert.equal(await c.domainIsPersistent(t), false);
    await assert.rejects(c.domainManagedSave(t, 0), err("DOMAIN_MANAGED_SAVE_TRANSIENT"));
    await c.domainShutdownFlags(t, 0);
    await assert.rejects(c.domainLookupByName("t"), err("DOMAIN_NOT_FOUND", "Domain not found"));

    await c.domainUndefineFlags(d, 0);
    assert.equal(await c.domainIsPersistent(d), false);
    assert.equal(await c.domainIsActive(d), true);
    await c.domainDestroyFlags(d, 0);
    assert.deepEqual(await c.connectListAllDomains(0), []);
    await assert.rejects(
      c.domainGetState(d, 0),
      err(
        "DOMAIN_NOT_FOUND_UUID",
        "Domain not found: no domain with matching uuid '6695eb01-f6a4-8304-79aa-97f2502e193f' (test)",
      ),
    );
  });
});

test("a definition changed while running takes effect when the domain stops", async () => {
  await withConn(async (c) => {
    const x = await c.domainDefineXMLFlags(vm("x", U1, "<vcpu>1</vcpu>"), 0);
    await c.domainCreateWithFlags(x, 0);
    await c.domainDefineXMLFlags(vm("x", U1, "<vcpu>3</vcpu>"), 0);
    assert.match(await c.domainGetXMLDesc(x, 0), /<vcpu placement='static'>1<\/vcpu>/);
    assert.match(await c.domainGetXMLDesc(x, 2), /<vcpu placement='static'>3<\/vcpu>/);
    await c.domainDestroyFlags(x, 0);
    assert.match(await c.domainGetXMLDesc(x, 0), /<vcpu placement='static'>3<\/vcpu>/);
  });
});

test("save images: libvirt's test format; restore brings the domain back; bad images are refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-save-"));
  try {
    await withConn(async (c, d) => {
      const img = join(dir, "test.img");
      await assert.rejects(
        c.domainSaveFlags(d, img, "<domain/>", 0),
        err("DOMAIN_XML_MODIFICATION_UNSUPPORTED", "argument unsupported: xml modification unsupported"),
      );
      await c.domainSaveFlags(d, img, null, 0);
      assert.deepEqual(await state(c, d), [S.SHUTOFF, 5]);
      const bytes = readFileSync(img);
      assert.equal(bytes.subarray(0, 15).toString("latin1"), "TestGuestMagic\0");
      const len = bytes.readInt32LE(15);
      assert.equal(len, bytes.length - 19);
      assert.match(bytes.subarray(19).toString(), /^<domain type='test' id='1'>/);

      await c.domainRestoreFlags(img, null, 0);
      assert.deepEqual(await state(c, d), [S.RUNNING, 3]); // running (restored)
      await assert.rejects(
        c.domainRestoreFlags(img, null, 0),
        err("DOMAIN_ALREADY_ACTIVE", "Requested operation is not valid: domain 'test' is already active"),
      );

      const bad = join(dir, "bad.img");
      writeFileSync(bad, "not an image at all");
      await assert.rejects(
        c.domainRestoreFlags(bad, null, 0),
        err("SAVE_IMAGE_MAGIC", "internal error: mismatched header magic"),
      );
      writeFileSync(
        bad,
        Buffer.concat([Buffer.from("TestGuestMagic\0", "latin1"), Buffer.from([0xff, 0xff, 0, 0])]),
      );
      await assert.rejects(
        c.domainRestoreFlags(bad, null, 0),
        err("SAVE_IMAGE_LENGTH", "internal error: length of metadata out of range"),
      );
      writeFileSync(bad, "Test");
      await assert.rejects(c.domainRestoreFlags(bad, null, 0), err("SAVE_IMAGE_HEADER"));
      await assert.rejects(
        c.domainRestoreFlags(join(dir, "none"), null, 0),
        err("SAVE_IMAGE_OPEN", `cannot read domain image '${join(dir, "none")}': No such file or directory`),
      );
      await c.domainDestroyFlags(d, 0);
      await assert.rejects(c.domainSaveFlags(d, join(dir, "x.img"), null, 0), err("DOMAIN_NOT_RUNNING"));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("undefine refuses a domain with a managed save image unless asked", async () => {
  await withConn(async (c, d) => {
    await c.domainManagedSave(d, 0);
    await assert.rejects(
      c.domainUndefineFlags(d, 0),
      err(
        "DOMAIN_MANAGED_SAVE_EXISTS",
        "Requested operation is not valid: Refusing to undefine while domain managed save image exists",
      ),
    );
    await assert.rejects(
      c.domainUndefineFlags(d, 4),
      err("UNSUPPORTED_FLAGS", "unsupported flags (0x4) in function testDomainUndefineFlags"),
    );
    await c.domainUndefineFlags(d, 1);
    assert.deepEqual(await c.connectListAllDomains(0), []);
  });
});

test("list filters follow libvirt's flags", async () => {
  await withConn(async (c, d) => {
    await c.domainDefineXMLFlags(vm("off", U1), 0);
    const paused = await c.domainCreateXML(vm("paused", U2), 0);
    await c.domainSuspend(paused);
    await c.domainSetAutostart(d, true);
    const names = async (flags: number): Promise<string[]> =>
      (await c.connectListAllDomains(flags)).map((r) => r.name).sort();
    assert.deepEqual(await names(0), ["off", "paused", "test"]);
    assert.deepEqual(await names(L.ACTIVE), ["paused", "test"]);
    assert.deepEqual(await names(L.INACTIVE), ["off"]);
    assert.deepEqual(await names(L.PERSISTENT), ["off", "test"]);
    assert.deepEqual(await names(L.TRANSIENT), ["paused"]);
    assert.deepEqual(await names(L.RUNNING), ["test"]);
    assert.deepEqual(await names(L.PAUSED), ["paused"]);
    assert.deepEqual(await names(L.SHUTOFF), ["off"]);
    assert.deepEqual(await names(L.OTHER), []);
    assert.deepEqual(await names(L.AUTOSTART), ["test"]);
    assert.deepEqual(await names(L.NO_AUTOSTART), ["off", "paused"]);
    assert.deepEqual(await names(L.NO_SNAPSHOT), ["off", "paused", "test"]);
    assert.deepEqual(await names(L.HAS_SNAPSHOT), []);
    await assert.rejects(c.connectListAllDomains(1 << 20), err("UNSUPPORTED_FLAGS"));
  });
});

test("bad input gives a catalogued error and changes nothing", async () => {
  await withConn(async (c, d) => {
    const before = JSON.stringify(await c.connectListAllDomains(0));
    const xmlBefore = await c.domainGetXMLDesc(d, 0);
    const cases: [string, string, string?][] = [
      ["<domain type='test'><name>bad", "XML_SYNTAX"],
      ["<foo/>", "DOMAIN_XML_ROOT", "XML error: expecting root element of 'domain', not 'foo'"],
      [
        "<domain type='test'><memory>1</memory><os><type>hvm</type></os></domain>",
        "DOMAIN_XML_NAME_MISSING",
        "missing name information",
      ],
      [
        vm("test", U1),
        "DOMAIN_NAME_EXISTS",
        "operation failed: domain 'test' already exists with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f",
      ],
      [
        vm("other", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
        "DOMAIN_UUID_EXISTS",
        "operation failed: domain 'test' is already defined with uuid 6695eb01-f6a4-8304-79aa-97f2502e193f",
      ],
      [vm("a/b", U1), "DOMAIN_XML_NAME_SLASH", "XML error: name a/b cannot contain '/'"],
      [vm("../x", U1), "DOMAIN_XML_NAME_SLASH"],
      [vm("a\tb", U1), "DOMAIN_XML_NAME_CONTROL"],
      [vm("a\nb", U1), "DOMAIN_XML_NAME_CHAR", "invalid char in name: \n"],
      [vm("a\u0001b", U1), "XML_SYNTAX"],
      ["<domain type='test'><name>m</name><os><type>hvm</type></os></domain>", "DOMAIN_XML_MEMORY_MISSING"],
      [vm("u", "zzz"), "DOMAIN_XML_UUID", "internal error: malformed uuid element"],
    ];
    for (const [xml, code, message] of cases) {
      await assert.rejects(c.domainDefineXMLFlags(xml, 0), err(code, message), xml);
      await assert.rejects(c.domainCreateXML(xml, 0), err(code, message), xml);
    }
    await assert.rejects(c.domainLookupByName("nosuch"), err("DOMAIN_NOT_FOUND"));
    assert.equal(JSON.stringify(await c.connectListAllDomains(0)), before);
    assert.equal(await c.domainGetXMLDesc(d, 0), xmlBefore);
  });
});

test("defaults: libvirt's generic post-parse for the test driver", async () => {
  await withConn(async (c) => {
    const x = await c.domainDefineXMLFlags(
      `<domain type='test'>
  <name>vm2</name>
  <uuid>${U2}</uuid>
  <memory unit='MiB'>512</memory>
  <currentMemory unit='MiB'>1024</currentMemory>
  <vcpu>2</vcpu>
  <os><type>hvm</type><kernel>/boot/vmlinuz</kernel></os>
  <devices>
    <disk type='file' device='disk'><source file='/a.img'/><target dev='sda' bus='scsi'/></disk>
    <disk type='file' device='floppy'><source file='/f.img'/><target dev='fda'/></disk>
    <disk type='file' device='disk'><source file='/b.img'/><target dev='hdb'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:02'/></interface>
    <graphics type='vnc'/>
    <serial type='pty'/>
  </devices>
</domain>`,
      0,
    );
    // What virsh -c test:///default dumpxml prints for the same XML (libvirt 9.0).
    assert.equal(
      await c.domainGetXMLDesc(x, 0),
      `<domain type='test'>
  <name>vm2</name>
  <uuid>${U2}</uuid>
  <memory unit='KiB'>524288</memory>
  <currentMemory unit='KiB'>524288</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <kernel>/boot/vmlinuz</kernel>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/a.img'/>
      <target dev='sda' bus='scsi'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <disk type='file' device='floppy'>
      <source file='/f.img'/>
      <target dev='fda' bus='fdc'/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <disk type='file' device='disk'>
      <source file='/b.img'/>
      <target dev='hdb' bus='ide'/>
      <address type='drive' controller='0' bus='0' target='0' unit='1'/>
    </disk>
    <disk type='file' device='cdrom'>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      <address type='drive' controller='0' bus='1' target='0' unit='0'/>
    </disk>
    <controller type='scsi' index='0'/>
    <controller type='fdc' index='0'/>
    <controller type='ide' index='0'/>
    <interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default'/>
      <target dev='testnet0'/>
    </interface>
    <interface type='user'>
      <mac address='52:54:00:00:00:02'/>
      <target dev='testnet1'/>
    </interface>
    <serial type='pty'>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <graphics type='vnc' port='-1' autoport='yes'>
      <listen type='address'/>
    </graphics>
    <video>
      <model type='cirrus' vram='16384' heads='1' primary='yes'/>
    </video>
  </devices>
</domain>
`,
    );
    const y = await c.domainDefineXMLFlags(
      vm("y", U1, "<devices><interface type='bridge'><source bridge='br0'/></interface></devices>"),
      0,
    );
    assert.match(
      await c.domainGetXMLDesc(y, 0),
      /<mac address='52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'\/>/,
    );
  });
});

test("20 parallel operations on one domain end in a consistent state", async () => {
  await withConn(async (c, d) => {
    const ops = Array.from({ length: 20 }, (_, i) => {
      const kind = i % 4;
      const ref = { ...d };
      if (kind === 0) return c.domainCreateWithFlags(ref, 0);
      if (kind === 1) return c.domainDestroyFlags(ref, 0);
      if (kind === 2) return c.domainSuspend(ref);
      return c.domainGetInfo(ref);
    });
    const results = await Promise.allSettled(ops);
    for (const r of results) {
      if (r.status === "rejected")
        assert.ok(r.reason instanceof VirtError && r.reason.kind === "user", String(r.reason));
    }
    const [st] = await state(c, d);
    const info = await c.domainGetInfo(d);
    assert.equal(info.state, st);
    const active = await c.domainIsActive(d);
    assert.equal(active, st !== S.SHUTOFF);
    const listed = (await c.connectListAllDomains(0)).find((r) => r.name === "test");
    assert.ok(listed);
    assert.equal(listed.id === -1, !active);
  });
});
