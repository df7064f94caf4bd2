/**
 * Bad input to the QEMU driver: each case gives a catalogued error naming what is wrong, and
 * leaves no file, process or state behind.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DomainShutoffReason, DomainState } from "../../enums.ts";
import { probeKvm } from "../../../host/kvm.ts";
import { isVirtError } from "../../../util/errors/index.ts";
import { driverPaths } from "../paths.ts";
import { guestXML, makeTestRoot, qemuProcessesOf, runtimeLeftovers } from "../../../testing/qemu/driver.ts";

function code(c: string, message?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(isVirtError(e), `not a VirtError: ${String(e)}`);
    assert.equal(e.code, c, e.message);
    if (message) assert.match(e.message, message);
    return true;
  };
}

test("bad input gives catalogued errors and leaves nothing behind", async (t) => {
  const xml = await guestXML(t, { name: "good", mode: "idle", uuid: "11111111-2222-4333-8444-555555555555" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const paths = driverPaths({ kind: "embed", root: tr.root });
  const configs = (): string[] => readdirSync(paths.configDir).filter((f) => f.endsWith(".xml"));
  const conn = await tr.open();
  try {
    // Malformed and invalid XML.
    await assert.rejects(conn.domainDefineXML("<domain type='qemu'><name>x</name"), code("XML_SYNTAX"));
    await assert.rejects(
      conn.domainDefineXML(
        xml.replace(
          /<memory unit='MiB'>128<\/memory>\n\s*<currentMemory unit='MiB'>128<\/currentMemory>/,
          "",
        ),
      ),
      code("DOMAIN_MEMORY_MISSING"),
    );
    await assert.rejects(
      conn.domainDefineXML(
        xml.replace("<vcpu placement='static'>1</vcpu>", "<vcpu placement='static'>many</vcpu>"),
      ),
      (e: unknown) => isVirtError(e) && e.kind === "user",
    );
    await assert.rejects(
      conn.domainDefineXML(xml.replace("<domain type='qemu'>", "<domain type='xen'>")),
      code("QEMU_VIRT_TYPE_UNSUPPORTED", /domain type 'xen'/),
    );
    await assert.rejects(
      conn.domainDefineXML(xml.replace("machine='pc'", "machine='pc-nonesuch-1.0'")),
      code("QEMU_MACHINE_UNSUPPORTED", /does not support machine type 'pc-nonesuch-1.0'/),
    );

    // Names that would become bad file names.
    await assert.rejects(
      conn.domainDefineXML(xml.replace("<name>good</name>", "<name>a/b</name>")),
      code("DOMAIN_INVALID_NAME", /cannot contain '\/'/),
    );
    await assert.rejects(
      conn.domainDefineXML(xml.replace("<name>good</name>", "<name>..</name>")),
      code("DOMAIN_INVALID_NAME"),
    );
    await assert.rejects(
      conn.domainDefineXML(xml.replace("<name>good</name>", "<name>bad&#9;name</name>")),
      code("DOMAIN_INVALID_NAME", /control characters/),
    );
    await assert.rejects(
      conn.domainCreateXML(xml.replace("<name>good</name>", "<name>a/b</name>"), 0),
      code("DOMAIN_INVALID_NAME"),
    );

    // Too little memory.
    await assert.rejects(
      conn.domainDefineXML(xml.replace(/unit='MiB'>128</g, "unit='MiB'>4<")),
      code("DOMAIN_MEMORY_TOO_SMALL", /4096 KiB is too small: at least 16384 KiB/),
    );
    assert.deepEqual(configs(), [], "no config written for refused definitions");

    // Duplicates.
    const dom = await conn.domainDefineXML(xml);
    await assert.rejects(
      conn.domainDefineXML(
        xml.replace("11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-666666666666"),
      ),
      code(
        "DOMAIN_NAME_EXISTS",
        /^operation failed: domain 'good' already exists with uuid 11111111-2222-4333-8444-555555555555$/,
      ),
    );
    await assert.rejects(
      conn.domainDefineXML(xml.replace("<name>good</name>", "<name>other</name>")),
      code("DOMAIN_UUID_EXISTS", /domain 'good' is already defined with uuid/),
    );
    await assert.rejects(
      conn.domainCreateXML(
        xml.replace("11111111-2222-4333-8444-555555555555", "11111111-2222-4333-8444-777777777777"),
        0,
      ),
      code("DOMAIN_NAME_EXISTS"),
    );
    assert.deepEqual(configs(), ["good.xml"]);

    // Unknown domains.
    await assert.rejects(
      conn.domainLookupByName("nope"),
      code("QEMU_NO_DOMAIN_NAME", /^Domain not found: no domain with matching name 'nope'$/),
    );
    await assert.rejects(
      conn.domainLookupByUUID("99999999-2222-4333-8444-555555555555"),
      code("QEMU_NO_DOMAIN_UUID"),
    );
    await assert.rejects(
      conn.domainLookupByID(4242),
      code("QEMU_NO_DOMAIN_ID", /no domain with matching id 4242/),
    );
    const ghost = { name: "ghost", uuid: "99999999-2222-4333-8444-555555555555", id: -1 };
    await assert.rejects(
      conn.domainCreate(ghost),
      code(
        "QEMU_NO_DOMAIN_HANDLE",
        /no domain with matching uuid '99999999-2222-4333-8444-555555555555' \(ghost\)/,
      ),
    );
    await assert.rejects(
      conn.domainSuspend(dom),
      code("DOMAIN_NOT_RUNNING", /^Requested operation is not valid: domain is not running$/),
    );
    await assert.rejects(conn.domainSetAutostart(ghost, true), code("QEMU_NO_DOMAIN_HANDLE"));

    // Missing kernel, initrd, disk: start refuses before anything is created.
    const missing = async (what: RegExp, bad: string): Promise<void> => {
      const d = await conn.domainDefineXML(bad);
      await assert.rejects(conn.domainCreate(d), code("QEMU_FILE_MISSING", what));
      assert.deepEqual(await conn.domainGetState(d, 0), {
        state: DomainState.SHUTOFF,
        reason: DomainShutoffReason.UNKNOWN,
      });
      assert.equal(d.id, -1);
      assert.deepEqual(runtimeLeftovers(tr.root, "good"), []);
      assert.equal(existsSync(join(paths.logDir, "good.log")), false, "not even a log: QEMU never ran");
    };
    await missing(
      /Cannot access kernel '\/nonexistent\/vmlinuz' of domain 'good': No such file or directory/,
      xml.replace(/<kernel>[^<]*<\/kernel>/, "<kernel>/nonexistent/vmlinuz</kernel>"),
    );
    await missing(
      /Cannot access initrd/,
      xml.replace(/<initrd>[^<]*<\/initrd>/, "<initrd>/nonexistent/initrd.img</initrd>"),
    );
    await missing(
      /Cannot access storage file '\/nonexistent\/disk.qcow2'/,
      xml.replace(
        "<devices>",
        "<devices>\n    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/nonexistent/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>",
      ),
    );
    // A transient domain that cannot start does not stay in the list.
    await assert.rejects(
      conn.domainCreateXML(
        xml
          .replace(/<kernel>[^<]*<\/kernel>/, "<kernel>/nonexistent/vmlinuz</kernel>")
          .replace("<name>good</name>", "<name>trans</name>")
          .replace(/<uuid>.*<\/uuid>/, ""),
        0,
      ),
      code("QEMU_FILE_MISSING"),
    );
    await assert.rejects(conn.domainLookupByName("trans"), code("QEMU_NO_DOMAIN_NAME"));

    // QEMU itself refuses to run: its own message is the error, and nothing is left.
    const bogus = join(tr.root, "not-a-kernel");
    writeFileSync(bogus, "this is not a Linux kernel\n");
    const d = await conn.domainDefineXML(xml.replace(/<kernel>[^<]*<\/kernel>/, `<kernel>${bogus}</kernel>`));
    await assert.rejects(conn.domainCreate(d), (e: unknown) => {
      assert.ok(isVirtError(e));
      assert.equal(e.code, "QEMU_START_FAILED", e.message);
      assert.match(
        e.message,
        /^operation failed: domain 'good': QEMU exited while starting: qemu(-system-x86_64)?: \S/,
      );
      assert.match(String(e.details.logTail), /linux kernel too old to load a ram disk/);
      return true;
    });
    assert.deepEqual(await conn.domainGetState(d, 0), {
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.FAILED,
    });
    assert.deepEqual(runtimeLeftovers(tr.root, "good"), []);
    assert.deepEqual(qemuProcessesOf(tr.root), []);
    assert.equal(d.id, -1);

    // KVM: refused with the probe's reason on a host where it does not work.
    const kvmXml = xml.replace("<domain type='qemu'>", "<domain type='kvm'>");
    await conn.domainDefineXML(kvmXml);
    const probe = await probeKvm();
    if (probe.usable) {
      t.diagnostic("KVM works on this host: the refusal is only checked with a stand-in probe below");
    } else {
      await assert.rejects(
        conn.domainCreate(d),
        code("KVM_UNAVAILABLE", /^unsupported configuration: KVM is not usable on this host: /),
      );
      assert.deepEqual(qemuProcessesOf(tr.root), []);
      assert.deepEqual(runtimeLeftovers(tr.root, "good"), []);
    }
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("type='kvm' with a KVM probe that says no: the clear KVM error, nothing started", async (t) => {
  const xml = await guestXML(t, { name: "kvm-guest", mode: "none" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open({
    probeKvm: (binary) =>
      Promise.resolve({
        usable: false,
        reason: "/dev/kvm does not exist (stand-in probe)",
        device: "missing",
        binary,
      }),
  });
  try {
    const dom = await conn.domainDefineXML(xml.replace("<domain type='qemu'>", "<domain type='kvm'>"));
    await assert.rejects(
      conn.domainCreate(dom),
      code("KVM_UNAVAILABLE", /KVM is not usable on this host: \/dev\/kvm does not exist \(stand-in probe\)/),
    );
    await assert.rejects(
      conn.domainCreateXML(
        xml
          .replace("<domain type='qemu'>", "<domain type='kvm'>")
          .replace("kvm-guest", "kvm2")
          .replace(/<uuid>.*<\/uuid>/, ""),
        0,
      ),
      code("KVM_UNAVAILABLE"),
    );
    assert.deepEqual(qemuProcessesOf(tr.root), []);
    assert.deepEqual(
      (await conn.connectListAllDomains(0)).map((d) => d.name),
      ["kvm-guest"],
    );
    assert.doesNotMatch(await conn.connectGetCapabilities(), /<domain type='kvm'\/>/);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});

test("a damaged save image is refused; a failed restore leaves nothing behind", async (t) => {
  const xml = await guestXML(t, { name: "saved", mode: "counter" });
  if (xml === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const image = join(tr.root, "saved.img");
    await conn.domainSave(dom, image);
    const whole = readFileSync(image);
    // Cut short: QEMU fails to load it.
    const cut = join(tr.root, "cut.img");
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await assert.rejects(
      conn.domainRestore(cut),
      code("QEMU_RESTORE_FAILED", /^operation failed: restoring domain 'saved' from '.*cut.img' failed: /),
    );
    await assert.rejects(conn.domainLookupByName("saved"), code("QEMU_NO_DOMAIN_NAME"));
    assert.deepEqual(qemuProcessesOf(tr.root), []);
    assert.deepEqual(runtimeLeftovers(tr.root, "saved"), []);
    // Marked partial (an interrupted save): refused before anything starts.
    const partial = join(tr.root, "partial.img");
    writeFileSync(partial, Buffer.concat([Buffer.from("LibvirtQemudPart"), whole.subarray(16)]));
    await assert.rejects(
      conn.domainRestore(partial),
      code("QEMU_SAVE_IMAGE_INCOMPLETE", /^operation failed: save image is incomplete$/),
    );
    await assert.rejects(
      conn.domainRestore(join(tr.root, "missing.img")),
      code(
        "QEMU_SAVE_IMAGE_OPEN",
        /Failed to open domain image file '.*missing.img': No such file or directory/,
      ),
    );
    // Saving into a directory that does not exist fails, and the guest keeps running.
    await conn.domainRestore(image);
    const back = await conn.domainLookupByName("saved");
    await assert.rejects(
      conn.domainSave(back, join(tr.root, "no/such/dir/x.img")),
      code("QEMU_SAVE_IMAGE_OPEN"),
    );
    assert.equal((await conn.domainGetState(back, 0)).state, DomainState.RUNNING);
    await conn.domainDestroy(back);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
