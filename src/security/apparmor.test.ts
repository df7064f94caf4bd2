/**
 * AppArmor profiles: every domain of libvirt's corpus that needs files gets a profile that
 * `apparmor_parser -Q` accepts (parsed, not loaded: works without AppArmor in the kernel); rule
 * shapes modelled on libvirt's virt-aa-helper-test cases; a hotplugged disk adds exactly its
 * rule; names and paths AppArmor cannot hold are refused with catalogued errors; the host part
 * writes, keeps and removes profiles where AppArmor is unavailable and says why.
 */
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { parseDomainXML, type DiskDef, type DomainDef } from "../conf/domain/index.ts";
import { corpusOrSkip } from "../testing/corpus.ts";
import { libvirtSuiteOrSkip } from "../testing/libvirt-suite.ts";
import { isVirtError } from "../util/errors/index.ts";
import {
  abstractionText,
  FORBIDDEN_NAME_CHARS,
  FORBIDDEN_PATH_CHARS,
  filesText,
  guestProfilePaths,
  guestRules,
  profileName,
  profilePaths,
  profileText,
} from "./apparmor.ts";
import {
  AppArmorProfiles,
  appArmorState,
  backingChain,
  checkProfiles,
  diskBackingChains,
  parserPath,
  pciIommuGroups,
  resolveHostPath,
} from "./apparmor-host.ts";
import { makeFakeSysfs } from "../testing/host/sysfs.ts";

const UUID = "00000000-0000-0000-0000-0123456789ab";

/** virt-aa-helper-test's template domain, with a marker for the disk and extra devices. */
function domain(
  disk = "/var/lib/tvirt/images/1.img",
  extra = "",
  os = "",
  name = "virt-aa-helper-test",
): DomainDef {
  const xml = `<domain type='kvm'>
  <name>${name}</name>
  <uuid>${UUID}</uuid>
  <memory>524288</memory>
  <memoryBacking><access mode='shared'/></memoryBacking>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${os}<boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${disk}'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <interface type='network'><mac address='52:54:00:50:4b:26'/><source network='default'/><model type='virtio'/></interface>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    ${extra}
  </devices>
</domain>`;
  return parseDomainXML(xml).def;
}

function lines(def: DomainDef, guest = {}): string[] {
  return filesText(def, guest)
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The rule part of a line (without the trailing comment). */
function rules(def: DomainDef, guest = {}): string[] {
  return lines(def, guest).map((l) => l.replace(/,\s+#.*$/, ",").trim());
}

function hasParser(t: TestContext): boolean {
  if (existsSync(parserPath())) return true;
  const why = "apparmor_parser not installed (apt-get install --no-install-recommends apparmor)";
  if (process.env.CI === "true") throw new Error(`${why}; it is required under CI`);
  t.skip(why);
  return false;
}

test("profile name: libvirt-<uuid>, as libvirt names it", () => {
  assert.equal(profileName({ name: "x", uuid: UUID }), `libvirt-${UUID}`);
  assert.equal(profileName({ name: "x", uuid: UUID.toUpperCase() }), `libvirt-${UUID}`);
  assert.throws(() => profileName({ name: "x", uuid: "00000000-0000-0000-0000-00000000000g" }), {
    code: "APPARMOR_BAD_UUID",
  });
});

test("rule shapes (virt-aa-helper-test cases)", () => {
  const base = domain();
  // create: disk read-write with lock, the emulator mapped, vhost-net for a kvm virtio NIC
  assert.deepEqual(rules(base), [
    `"/usr/bin/qemu-system-x86_64" rmix,`,
    `"/var/lib/tvirt/images/1.img" rwk,`,
    `"/dev/vhost-net" rw,`,
  ]);
  // multiple disks
  const two = domain(
    undefined,
    "<disk type='file' device='disk'><source file='/var/lib/tvirt/images/2.img'/><target dev='hdb' bus='ide'/></disk>",
  );
  assert.ok(rules(two).includes(`"/var/lib/tvirt/images/2.img" rwk,`));
  // readonly disk: read and lock, no deny rule (libvirt's "Rk")
  const ro = domain("/var/lib/tvirt/images/1.img'/><readonly/><source file='/var/lib/tvirt/images/1.img");
  assert.ok(rules(ro).includes(`"/var/lib/tvirt/images/1.img" rk,`));
  // relative path parts are normalised
  assert.ok(
    rules(domain("/var/lib/tvirt/./../tvirt//images/./1.img")).includes(`"/var/lib/tvirt/images/1.img" rwk,`),
  );
  // empty cdrom: no rule
  const cd = domain(
    undefined,
    "<disk type='block' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>",
  );
  assert.deepEqual(rules(cd), rules(base));
  // serial file, pty (no path: the abstraction's /dev/pts/*), dev, pipe (.in and .out)
  const add = (x: string) => rules(domain(undefined, x)).filter((r) => !rules(base).includes(r));
  assert.deepEqual(add("<serial type='file'><source path='/tmp/serial.log'/><target port='0'/></serial>"), [
    `"/tmp/serial.log" rw,`,
  ]);
  assert.deepEqual(add("<serial type='pty'><target port='0'/></serial>"), []);
  assert.deepEqual(add("<serial type='dev'><source path='/dev/ttyS0'/><target port='0'/></serial>"), [
    `"/dev/ttyS0" rw,`,
  ]);
  assert.deepEqual(add("<serial type='pipe'><source path='/tmp/serial.pipe'/><target port='0'/></serial>"), [
    `"/tmp/serial.pipe.in" rw,`,
    `"/tmp/serial.pipe.out" rw,`,
    `"/tmp/serial.pipe" rw,`,
  ]);
  assert.deepEqual(
    add("<parallel type='pipe'><source path='/tmp/parallel.pipe'/><target port='0'/></parallel>").slice(0, 2),
    [`"/tmp/parallel.pipe.in" rw,`, `"/tmp/parallel.pipe.out" rw,`],
  );
  // channel (unix), with a log file
  assert.deepEqual(
    add(
      "<channel type='unix'><source mode='bind' path='/tmp/guestfwd'/><log file='/tmp/chan.log'/><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>",
    ),
    [`"/tmp/guestfwd" rw,`, `"/tmp/chan.log" rw,`],
  );
  // kernel, initrd, dtb: read, writes denied silently
  const k = rules(
    domain(undefined, "", "<kernel>/boot/vmlinuz-6</kernel><initrd>/boot/initrd.img-6</initrd>"),
  );
  for (const p of ["/boot/vmlinuz-6", "/boot/initrd.img-6"]) {
    assert.ok(k.includes(`"${p}" r,`), p);
    assert.ok(k.includes(`deny "${p}" w,`), p);
  }
  // firmware read-only under /usr/share/OVMF, nvram read-write with lock
  const fw = rules(
    domain(
      undefined,
      "",
      "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader><nvram>/var/lib/tvirt/nvram/x_VARS.fd</nvram>",
    ),
  );
  assert.ok(fw.includes(`"/usr/share/OVMF/OVMF_CODE.fd" rk,`));
  assert.ok(fw.includes(`"/var/lib/tvirt/nvram/x_VARS.fd" rwk,`));
  // shared folders: recursive, read-only without deny; the folder itself readable
  assert.deepEqual(
    add(
      "<filesystem type='mount' accessmode='passthrough'><source dir='/srv/share'/><target dir='share'/><readonly/></filesystem>",
    ),
    [`"/srv/share/**" r,`, `"/srv/share/" r,`],
  );
  assert.deepEqual(
    add(
      "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/srv/rw'/><target dir='rw'/></filesystem>",
    ),
    [`"/srv/rw/**" rwl,`, `"/srv/rw/" r,`],
  );
  // host devices: a USB node, PCI through VFIO (its group when known)
  assert.deepEqual(
    add("<hostdev mode='subsystem' type='usb'><source><address bus='2' device='4'/></source></hostdev>"),
    [`"/dev/bus/usb/002/004" rw,`],
  );
  const pciXml =
    "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x00' slot='0x19' function='0x0'/></source></hostdev>";
  assert.deepEqual(add(pciXml), [
    `"/dev/vfio/vfio" rw,`,
    `"/dev/vfio/[0-9]*" rw,`,
    `"/sys/devices/pci*/**/0000:00:19.0/**" rw,`,
  ]);
  // the group from sysfs: the device's iommu_group link
  const pci = domain(undefined, pciXml);
  const sysfs = makeFakeSysfs({ pci: [{ addr: "0000:00:19.0", group: 7, driver: "e1000e" }] });
  try {
    const vfioGroups = pciIommuGroups(pci, sysfs.root);
    assert.deepEqual([...vfioGroups], [["0000:00:19.0", 7]]);
    const r = rules(pci, { vfioGroups });
    assert.ok(r.includes(`"/dev/vfio/7" rw,`));
    assert.ok(!r.includes(`"/dev/vfio/[0-9]*" rw,`));
  } finally {
    sysfs.dispose();
  }
  // vhost-user NIC socket, evdev input, TPM passthrough
  assert.deepEqual(
    add(
      "<interface type='vhostuser'><mac address='52:54:00:3b:83:1a'/><source type='unix' path='/tmp/vhost0.sock' mode='server'/><model type='virtio'/></interface>",
    ),
    [`"/tmp/vhost0.sock" rw,`],
  );
  assert.deepEqual(add("<input type='evdev'><source dev='/dev/input/event1'/></input>"), [
    `"/dev/input/event1" rw,`,
  ]);
  assert.deepEqual(
    add("<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>"),
    [`"/dev/tpm0" rw,`],
  );
});

test("shared memory: the /dev/shm file of a plain region, a doorbell's server socket (virt-aa-helper's rules)", () => {
  const r = rules(
    domain(
      undefined,
      "<shmem name='plain'/><shmem name='bell'><model type='ivshmem-doorbell'/><server/></shmem>" +
        "<shmem name='own'><model type='ivshmem-doorbell'/><server path='/tmp/own-sock'/></shmem>",
    ),
  );
  assert.ok(r.includes(`"/dev/shm/plain" rw,`));
  assert.ok(r.includes(`"/var/lib/libvirt/shmem-bell-sock" rw,`));
  assert.ok(r.includes(`"/tmp/own-sock" rw,`));
});

test("the run's own files: log, runtime folder, pid file, hugepage folders, backing chain", () => {
  const def = domain();
  const r = rules(def, {
    logFile: "/var/log/tvirt/qemu/virt-aa-helper-test.log",
    domainDir: "/var/lib/tvirt/qemu/domain-1-virt-aa-helper-test",
    pidFile: "/run/tvirt/qemu/virt-aa-helper-test.pid",
    hugepageDirs: ["/dev/hugepages/tvirt/qemu/1-virt-aa-helper-test"],
    backingChains: new Map([["hda", ["/var/lib/tvirt/images/base.qcow2"]]]),
  });
  for (const want of [
    `"/var/log/tvirt/qemu/virt-aa-helper-test.log" w,`,
    `"/var/lib/tvirt/qemu/domain-1-virt-aa-helper-test/**" rwk,`,
    `"/var/lib/tvirt/qemu/domain-1-virt-aa-helper-test/" r,`,
    `"/run/tvirt/qemu/virt-aa-helper-test.pid" rwk,`,
    `"/dev/hugepages/tvirt/qemu/1-virt-aa-helper-test/**" rwk,`,
    `"/var/lib/tvirt/images/base.qcow2" rk,`,
  ])
    assert.ok(r.includes(want), want);
});

test("a read-only file also written by another device gets no deny rule (a deny would win)", () => {
  const def = domain(
    undefined,
    "<serial type='file'><source path='/tmp/k'/><target port='0'/></serial>",
    "<kernel>/tmp/k</kernel>",
  );
  const r = rules(def);
  assert.ok(r.includes(`"/tmp/k" r,`));
  assert.ok(r.includes(`"/tmp/k" rw,`));
  assert.ok(!r.some((l) => l.startsWith("deny")));
});

test("restricted system paths are refused (virt-aa-helper's bad disk cases)", () => {
  for (const [path, restricted] of [
    ["/etc/passwd", "/etc/"],
    ["/usr/bin/qemu-img", "/usr/bin/"],
    ["/boot/initrd.img", "/boot/"],
    ["/sys/kernel/x", "/sys/"],
  ] as const) {
    assert.throws(
      () => filesText(domain(path)),
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "APPARMOR_RESTRICTED_PATH" &&
        e.message.includes(
          `disk 'hda' of domain 'virt-aa-helper-test' has path '${path}' under ${restricted}`,
        ),
      path,
    );
  }
  // read-only in /boot is fine (a kernel), read-write is not
  assert.doesNotThrow(() => filesText(domain(undefined, "", "<kernel>/boot/vmlinuz</kernel>")));
  // a relative path is skipped with a note, like virt-aa-helper
  const audio = domain(undefined, "<audio id='1' type='file' path='audio.wav'/>");
  assert.match(filesText(audio), /# skipped audio 1: 'audio\.wav' is not an absolute path/);
});

test("names and paths with characters AppArmor forbids are refused", () => {
  for (const c of FORBIDDEN_NAME_CHARS) {
    const name = `virt-aa-helper-test-${c}`;
    assert.throws(
      () => filesText({ ...domain(), name }),
      (e: unknown) =>
        isVirtError(e) && e.code === "APPARMOR_BAD_NAME" && e.message.includes(`contains '${c}'`),
      `name with ${c}`,
    );
    assert.throws(() => profileText({ name, uuid: UUID }, "/etc/apparmor.d"), { code: "APPARMOR_BAD_NAME" });
  }
  assert.throws(() => filesText({ ...domain(), name: "a\nb" }), /control character U\+000a/);
  for (const c of FORBIDDEN_PATH_CHARS) {
    const def = domain();
    (def.devices.disks[0] as DiskDef).source = { file: `/var/lib/tvirt/images/x${c}y.img` };
    assert.throws(
      () => filesText(def),
      (e: unknown) =>
        isVirtError(e) &&
        e.code === "APPARMOR_BAD_PATH" &&
        e.message.includes(`disk 'hda' of domain 'virt-aa-helper-test'`) &&
        e.message.includes(`contains '${c}'`),
      `path with ${c}`,
    );
  }
  // a comma, a space or '@' alone are fine inside a quoted rule
  const ok = domain("/var/lib/tvirt/images/a, b@c.img");
  assert.ok(rules(ok).includes(`"/var/lib/tvirt/images/a, b@c.img" rwk,`));
});

test("a storage volume disk gets the rule of the file or device it resolved to", () => {
  const def = domain();
  def.devices.disks.push({
    type: "volume",
    device: "disk",
    source: { pool: "default", volume: "v1", actualType: "block", dev: "/dev/vg0/v1" },
    target: { dev: "vdb", bus: "virtio" },
  });
  assert.ok(rules(def).includes(`"/dev/vg0/v1" rwk,`));
  // not resolved (an inactive definition): nothing to name yet
  def.devices.disks[1] = { ...def.devices.disks[1]!, source: { pool: "default", volume: "v1" } };
  assert.deepEqual(rules(def), rules(domain()));
});

test("a hotplugged disk adds exactly its rule", () => {
  const before = domain();
  const after = structuredClone(before);
  after.devices.disks.push({
    type: "file",
    device: "disk",
    source: { file: "/var/lib/tvirt/images/hot.qcow2" },
    target: { dev: "vdb", bus: "virtio" },
  });
  const guest = { logFile: "/var/log/tvirt/qemu/x.log", domainDir: "/var/lib/tvirt/qemu/domain-3-x" };
  const a = lines(before, guest);
  const b = lines(after, guest);
  assert.deepEqual(
    b.filter((l) => !a.includes(l)),
    [`  "/var/lib/tvirt/images/hot.qcow2" rwk,  # disk 'vdb'`],
  );
  assert.ok(a.every((l) => b.includes(l)));
  // a read-only one: read and lock only
  const ro = structuredClone(after);
  (ro.devices.disks[1] as DiskDef).readonly = true;
  assert.deepEqual(
    lines(ro, guest).filter((l) => !a.includes(l)),
    [`  "/var/lib/tvirt/images/hot.qcow2" rk,  # disk 'vdb'`],
  );
});

test("symbolic links are resolved to the path the kernel sees", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-aa-"));
  try {
    mkdirSync(join(dir, "real"));
    symlinkSync(join(dir, "real"), join(dir, "link"));
    assert.equal(resolveHostPath(join(dir, "link", "new", "disk.img")), join(dir, "real", "new", "disk.img"));
    const def = domain(join(dir, "link", "disk.img"));
    assert.match(
      filesText(def, {}, { resolve: resolveHostPath }),
      new RegExp(`"${join(dir, "real", "disk.img")}" rwk`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("backing chains are read from qcow2 headers and allowed read-only", (t) => {
  try {
    execFileSync("qemu-img", ["--version"], { stdio: "ignore" });
  } catch {
    if (process.env.CI === "true") throw new Error("qemu-img missing; required under CI");
    t.skip("qemu-img not installed");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "tvirt-aa-chain-"));
  try {
    const img = (n: string) => join(dir, n);
    execFileSync("qemu-img", ["create", "-q", "-f", "raw", img("base.raw"), "1M"]);
    execFileSync("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "raw",
      "-b",
      img("base.raw"),
      img("mid.qcow2"),
    ]);
    // a relative backing name is relative to the image's folder
    execFileSync("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-F",
      "qcow2",
      "-b",
      "mid.qcow2",
      img("top.qcow2"),
    ]);
    assert.deepEqual(backingChain(img("top.qcow2")), [img("mid.qcow2"), img("base.raw")]);
    assert.deepEqual(backingChain(img("base.raw")), []);
    const def = domain(img("top.qcow2"));
    (def.devices.disks[0] as DiskDef).driver = { name: "qemu", type: "qcow2" };
    const r = rules(def, { backingChains: diskBackingChains(def) });
    assert.ok(r.includes(`"${img("top.qcow2")}" rwk,`));
    assert.ok(r.includes(`"${img("mid.qcow2")}" rk,`));
    assert.ok(r.includes(`"${img("base.raw")}" rk,`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("AppArmor state from /sys", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-aa-sys-"));
  try {
    assert.deepEqual(appArmorState(dir), {
      enabled: false,
      reason: `the kernel has no AppArmor module (${join(dir, "module/apparmor/parameters/enabled")} is missing)`,
    });
    mkdirSync(join(dir, "module", "apparmor", "parameters"), { recursive: true });
    writeFileSync(join(dir, "module", "apparmor", "parameters", "enabled"), "N\n");
    assert.deepEqual(appArmorState(dir), {
      enabled: false,
      reason: `AppArmor is disabled in the kernel (${join(dir, "module/apparmor/parameters/enabled")} is 'N')`,
    });
    writeFileSync(join(dir, "module", "apparmor", "parameters", "enabled"), "Y\n");
    assert.deepEqual(appArmorState(dir), { enabled: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("profiles are written, checked, kept unloaded where AppArmor is unavailable, and removed", async (t) => {
  if (!hasParser(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-aa-prof-"));
  try {
    const aa = new AppArmorProfiles({ dir, state: { enabled: false, reason: "test: no AppArmor" } });
    const def = domain();
    const g = await aa.write(def, { logFile: "/var/log/tvirt/qemu/x.log" });
    assert.equal(g.loaded, false);
    assert.equal(g.unavailable, "test: no AppArmor");
    assert.equal(g.name, `libvirt-${UUID}`);
    assert.equal(readFileSync(profilePaths(dir).abstraction, "utf8"), abstractionText(dir));
    assert.match(
      readFileSync(g.profile, "utf8"),
      new RegExp(`profile libvirt-${UUID} flags=\\(attach_disconnected\\)`),
    );
    assert.match(readFileSync(g.profile, "utf8"), /include if exists ".*\/local\/libvirt-/);
    assert.match(abstractionText(dir), /include if exists ".*\/local\/abstractions\/tvirt-qemu"/);
    await checkProfiles([g.profile]);
    // a broken files list makes the check fail: the check can fail
    writeFileSync(g.files, '  "/x" rwzz,\n');
    await assert.rejects(checkProfiles([g.profile]), { code: "APPARMOR_PARSER_FAILED" });
    await aa.remove(def);
    assert.ok(!existsSync(g.profile) && !existsSync(g.files));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Writes the profiles of every corpus domain with files, checks them with apparmor_parser -Q. */
async function corpusCheck(
  t: TestContext,
  confData: string,
  expectRefused: readonly string[],
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-aa-corpus-"));
  try {
    mkdirSync(join(dir, "abstractions"), { recursive: true });
    writeFileSync(profilePaths(dir).abstraction, abstractionText(dir));
    mkdirSync(profilePaths(dir).guestDir, { recursive: true });
    const inputs = readdirSync(confData).filter(
      (f) => f.endsWith(".xml") && !/\.[a-z0-9_]+-(latest|\d+\.\d+\.\d+)[.+]/.test(f),
    );
    const profiles: string[] = [];
    const refused: string[] = [];
    let n = 0;
    for (const f of inputs) {
      let def: DomainDef;
      try {
        def = parseDomainXML(readFileSync(join(confData, f), "utf8")).def;
      } catch {
        continue; // inputs libvirt itself refuses (their .err outputs)
      }
      if (guestRules(def).every((r) => r.what === "emulator")) continue;
      // corpus domains share UUIDs: each gets its own so that each has its own profile
      def.uuid = `00000000-0000-4000-8000-${(n++).toString(16).padStart(12, "0")}`;
      try {
        const g = guestProfilePaths(dir, def);
        // every kind of run file too, so that their rules are parsed as well
        const short = `${String(n)}-${def.name.slice(0, 20)}`;
        const guest = {
          logFile: `/var/log/tvirt/qemu/${def.name}.log`,
          domainDir: `/var/lib/tvirt/qemu/domain-${short}`,
          pidFile: `/run/tvirt/qemu/${def.name}.pid`,
          channelDir: `/var/lib/tvirt/qemu/channel/target/domain-${short}`,
          memoryDir: `/var/lib/tvirt/qemu/ram/${short}`,
          hugepageDirs: [`/dev/hugepages/tvirt/qemu/${short}`],
          tpmStateDirs: def.devices.tpms.length > 0 ? [`/var/lib/tvirt/swtpm/${def.uuid}/tpm2`] : [],
          backingChains: new Map(
            def.devices.disks.map((d) => [d.target.dev, ["/var/lib/tvirt/images/base.qcow2"]]),
          ),
        };
        writeFileSync(g.files, filesText(def, guest));
        writeFileSync(g.profile, profileText(def, dir));
        profiles.push(g.profile);
      } catch (e) {
        assert.ok(isVirtError(e) && e.code.startsWith("APPARMOR_"), `${f}: ${String(e)}`);
        refused.push(f);
      }
    }
    assert.deepEqual(refused, expectRefused);
    assert.ok(profiles.length > 0);
    // two parsers at a time, 100 profiles each
    const batches: string[][] = [];
    for (let i = 0; i < profiles.length; i += 100) batches.push(profiles.slice(i, i + 100));
    const run = async (): Promise<void> => {
      for (let b = batches.shift(); b; b = batches.shift()) await checkProfiles(b);
    };
    await Promise.all([run(), run()]);
    t.diagnostic(
      `${String(profiles.length)} profiles pass apparmor_parser -Q; ${String(refused.length)} refused`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("every sample corpus domain with files gets a profile apparmor_parser -Q accepts", async (t) => {
  const corpus = corpusOrSkip(t);
  if (corpus === undefined || !hasParser(t)) return;
  await corpusCheck(t, join(corpus, "qemuxmlconfdata"), []);
});

test("every domain of libvirt's full qemuxmlconfdata with files gets a profile apparmor_parser -Q accepts", async (t) => {
  const suite = libvirtSuiteOrSkip(t);
  if (suite === undefined || !hasParser(t)) return;
  // a read-write loader under /usr/share is refused as virt-aa-helper refuses it; a domain name
  // with ',' (name-escape) cannot be written into the profile's rules (APPARMOR_BAD_NAME)
  await corpusCheck(t, join(suite, "tests", "qemuxmlconfdata"), [
    "firmware-manual-efi-rw-legacy-paths.xml",
    "firmware-manual-efi-rw-modern-paths.xml",
    "name-escape.xml",
  ]);
});
