/**
 * Behaviour beyond the corpus cases, checked option by option against libvirt's spellings:
 * file chardevs passed by descriptor, vhost-user and socket netdevs, NBD disks, DIMMs with
 * hugepages and host nodes, floppies, guestfwd channels, USB port assignment. (The QEMU 7.2
 * spellings are checked byte for byte in command.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { corpusOrSkip } from "../../../testing/corpus.ts";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError, VirErrorNumber } from "../../../util/errors/index.ts";
import { loadCapsFile } from "../capabilities/load.ts";
import type { QemuCaps } from "../capabilities/types.ts";
import { buildQemuCommand } from "./index.ts";
import { corpusHarnessContext } from "../../../testing/qemu/command-harness.ts";
import type { CommandContext } from "./types.ts";

function domain(devices: string, extra = "", machine = "pc"): string {
  return `<domain type='qemu'>
  <name>QEMUGuest1</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <memory unit='KiB'>219136</memory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='x86_64' machine='${machine}'>hvm</type><boot dev='hd'/></os>
  ${extra}
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${devices}
    <memballoon model='none'/>
  </devices>
</domain>`;
}

let capsCache: QemuCaps | undefined;
function caps(dir: string): QemuCaps {
  capsCache ??= loadCapsFile(join(dir, "caps", "caps_10.0.0_x86_64.xml"));
  return capsCache;
}

/** argv as `option value` lines. */
function lines(xml: string, dir: string, tweak: Partial<CommandContext> = {}): string[] {
  const { def } = parseDomainXML(xml);
  const ctx = { ...corpusHarnessContext(def, { caps: caps(dir), corpusDir: dir }), ...tweak };
  const args = buildQemuCommand(def, ctx).args;
  const out: string[] = [];
  for (const a of args) {
    if (a.startsWith("-") || out.length === 0) out.push(a);
    else out[out.length - 1] = `${out[out.length - 1] ?? ""} ${a}`;
  }
  return out;
}

function has(l: string[], line: string): void {
  assert.ok(l.includes(line), `missing: ${line}\n--- got ---\n${l.join("\n")}`);
}

test("file chardev with a log goes through -add-fd", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<serial type='file'><source path='/tmp/serial.log'/><log file='/var/log/libvirt/qemu/QEMUGuest1-serial0.log'/><target port='0'/></serial>`,
    ),
    dir,
  );
  has(l, "-add-fd set=0,fd=1750,opaque=serial0-source");
  has(l, "-add-fd set=1,fd=1751,opaque=serial0-log");
  has(l, "-chardev file,id=charserial0,path=/dev/fdset/0,append=on,logfile=/dev/fdset/1,logappend=on");
  has(l, `-device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}`);
});

test("tcp telnet serial, unix connect serial", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(`<serial type='tcp'><source mode='bind' host='127.0.0.1' service='9999'/><protocol type='telnet'/><target port='0'/></serial>
    <serial type='unix'><source mode='connect' path='/tmp/serial.sock'/><target port='1'/></serial>`),
    dir,
  );
  has(l, "-chardev socket,id=charserial0,host=127.0.0.1,port=9999,telnet=on,server=on,wait=off");
  has(l, "-chardev socket,id=charserial1,path=/tmp/serial.sock");
});

test("vhost-user and socket netdevs", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<interface type='vhostuser'><mac address='52:54:00:ee:96:6b'/><source type='unix' path='/tmp/vhost0.sock' mode='server'/><model type='virtio'/></interface>
    <interface type='server'><mac address='52:54:00:95:db:c0'/><source address='' port='2015'/><model type='rtl8139'/></interface>`,
      // libvirt refuses vhost-user without shared guest memory
      "<memoryBacking><access mode='shared'/></memoryBacking>",
    ),
    dir,
  );
  has(l, "-chardev socket,id=charnet0,path=/tmp/vhost0.sock,server=on");
  has(l, `-netdev {"type":"vhost-user","chardev":"charnet0","id":"hostnet0"}`);
  has(l, `-netdev {"type":"socket","listen":":2015","id":"hostnet1"}`);
});

test("bridge interface: tap and vhost descriptors", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<interface type='bridge'><mac address='52:54:00:ee:96:6b'/><source bridge='br0'/><model type='virtio'/></interface>`,
    ),
    dir,
  );
  has(l, `-netdev {"type":"tap","fd":"102","vhost":true,"vhostfd":"44","id":"hostnet0"}`);
});

test("NBD disk: a single protocol node", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='bar'><host name='example.org' port='6000'/></source><target dev='vda' bus='virtio'/></disk>`,
    ),
    dir,
  );
  has(
    l,
    `-blockdev {"driver":"nbd","server":{"type":"inet","host":"example.org","port":"6000"},"export":"bar","node-name":"libvirt-1-storage","read-only":false}`,
  );
});

test("qcow2 disk with a cache mode: cache on both nodes and write-cache on the device", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<disk type='block' device='disk'><driver name='qemu' type='qcow2' cache='none' io='native'/><source dev='/dev/HostVG/QEMUGuest1'/><target dev='hda' bus='ide'/></disk>`,
    ),
    dir,
  );
  has(
    l,
    `-blockdev {"driver":"host_device","filename":"/dev/HostVG/QEMUGuest1","aio":"native","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap","cache":{"direct":true,"no-flush":false}}`,
  );
  has(
    l,
    `-blockdev {"node-name":"libvirt-1-format","read-only":false,"cache":{"direct":true,"no-flush":false},"driver":"qcow2","file":"libvirt-1-storage"}`,
  );
});

test("floppies", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(`<disk type='block' device='floppy'><source dev='/dev/fd0'/><target dev='fda' bus='fdc'/></disk>
    <disk type='file' device='floppy'><source file='/tmp/firmware.img'/><target dev='fdb' bus='fdc'/></disk>`),
    dir,
  );
  has(l, `-device {"driver":"floppy","unit":0,"drive":"libvirt-2-storage","id":"fdc0-0-0"}`);
  has(l, `-device {"driver":"floppy","unit":1,"drive":"libvirt-1-storage","id":"fdc0-0-1"}`);
});

test("guestfwd channel", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(
      `<channel type='pipe'><source path='/tmp/guestfwd'/><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>`,
    ),
    dir,
  );
  has(l, "-chardev pipe,id=charchannel0,path=/tmp/guestfwd");
  has(
    l,
    `-netdev {"type":"user","guestfwd":[{"str":"tcp:10.0.2.1:4600-chardev:charchannel0"}],"id":"channel0"}`,
  );
});

test("DIMMs: slots, hugepage backend, thread-context bound to host nodes", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const xml = domain(
    `<memory model='dimm'><target><size unit='KiB'>523264</size><node>0</node></target></memory>
    <memory model='dimm'><source><nodemask>1-3</nodemask><pagesize unit='KiB'>2048</pagesize></source><target><size unit='KiB'>524287</size><node>0</node></target></memory>`,
    `<maxMemory slots='16' unit='KiB'>1099511627776</maxMemory><cpu><numa><cell id='0' cpus='0-1' memory='219136' unit='KiB'/></numa></cpu>`,
  ).replace("<memory unit='KiB'>219136</memory>", "<memory unit='KiB'>1267710</memory>");
  const l = lines(xml, dir);
  has(l, "-m size=219136k,slots=16,maxmem=1099511627776k");
  has(l, `-object {"qom-type":"memory-backend-ram","id":"memdimm0","size":536870912}`);
  has(l, `-device {"driver":"pc-dimm","node":0,"memdev":"memdimm0","id":"dimm0","slot":0}`);
  has(l, `-object {"qom-type":"thread-context","id":"tc-memdimm1","node-affinity":[1,2,3]}`);
  has(
    l,
    `-object {"qom-type":"memory-backend-file","id":"memdimm1","mem-path":"/dev/hugepages2M/libvirt/qemu/-1-QEMUGuest1","prealloc":true,"size":536870912,"host-nodes":[1,2,3],"policy":"bind","prealloc-context":"tc-memdimm1"}`,
  );
  // pinned emulator threads on node 0 only: no thread-context for nodes 1-3
  const pinned = lines(
    xml.replace("<vcpu placement='static'>", "<vcpu placement='static' cpuset='0-1'>"),
    dir,
  );
  assert.ok(
    !pinned.some((x) => x.includes("thread-context")),
    "no thread-context expected when pinned away from the nodes",
  );
});

test("USB ports are assigned at start in libvirt's order", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const l = lines(
    domain(`<controller type='usb' index='0' model='piix3-uhci'/>
    <input type='tablet' bus='usb'/>
    <disk type='file' device='disk'><source file='/tmp/usb.img'/><target dev='sda' bus='usb'/></disk>
    <hostdev mode='subsystem' type='usb'><source><address bus='14' device='6'/></source></hostdev>`),
    dir,
  );
  // hostdevs, then disks, then inputs; a 2-port UHCI gets one hub for the third device
  has(
    l,
    `-device {"driver":"usb-host","hostdevice":"/dev/bus/usb/014/006","id":"hostdev0","bus":"usb.0","port":"2"}`,
  );
  has(l, `-device {"driver":"usb-hub","id":"hub0","bus":"usb.0","port":"1"}`);
  has(
    l,
    `-device {"driver":"usb-storage","bus":"usb.0","port":"1.1","drive":"libvirt-1-storage","id":"usb-disk0","bootindex":1,"removable":false}`,
  );
  has(l, `-device {"driver":"usb-tablet","id":"input0","bus":"usb.0","port":"1.2"}`);
});

test("hugepages: unmounted page size is an environment error with libvirt's error number", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const xml = domain("", "<memoryBacking><hugepages><page size='4' unit='MiB'/></hugepages></memoryBacking>");
  assert.throws(
    () => lines(xml, dir),
    (e: unknown) =>
      e instanceof VirtError &&
      e.code === "QEMU_CMD_HUGEPAGE_SIZE_UNAVAILABLE" &&
      e.kind === "environment" &&
      e.virCode === VirErrorNumber.INTERNAL_ERROR &&
      e.message.includes("4096 KiB") &&
      e.message.includes("2048 KiB, 1048576 KiB"),
  );
  assert.throws(
    () => lines(domain("", "<memoryBacking><hugepages/></memoryBacking>"), dir, { hugetlbfs: [] }),
    (e: unknown) => e instanceof VirtError && e.code === "QEMU_CMD_HUGETLBFS_MISSING",
  );
});

test("unsupported configurations are catalogued errors naming the element", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  assert.throws(
    () => lines(domain(`<sound model='pcspk-nonexistent'/>`), dir),
    (e: unknown) => e instanceof VirtError,
  );
  assert.throws(
    () =>
      lines(domain(`<interface type='ethernet'><mac address='52:54:00:ee:96:6b'/></interface>`), dir, {
        interfaceFds: undefined,
      }),
    (e: unknown) =>
      e instanceof VirtError && e.code === "QEMU_CMD_CONTEXT_MISSING" && e.message.includes("net0"),
  );
});

test("virtio options, virtio-sound, vhost-user GPU, qemu:override and -compat", (t) => {
  const dir = corpusOrSkip(t);
  if (!dir) return;
  const opts = "<driver iommu='on' ats='off' packed='on' page_per_vq='off'/>";
  const l = lines(
    domain(
      `<rng model='virtio'><backend model='random'>/dev/urandom</backend>${opts}<alias name='ua-rng'/></rng>
       <sound model='virtio' streams='4'>${opts}</sound>
       <video><driver name='vhostuser'/><model type='virtio' heads='1' primary='yes'/></video>`,
    ).replace(
      "</domain>",
      `<qemu:override xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:device alias='ua-rng'>
         <qemu:frontend><qemu:property name='max-bytes' type='unsigned' value='1024'/>
         <qemu:property name='rng' type='remove'/></qemu:frontend></qemu:device></qemu:override>
       <qemu:deprecation xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0' behavior='reject'/></domain>`,
    ),
    dir,
  );
  const virtio = '"iommu_platform":true,"ats":false,"packed":true,"page-per-vq":false';
  has(
    l,
    `-device {"driver":"virtio-rng-pci",${virtio},"id":"ua-rng","bus":"pci.0","addr":"0x4","max-bytes":1024}`,
  );
  has(
    l,
    `-device {"driver":"virtio-sound-pci",${virtio},"id":"sound0","audiodev":"audio1","streams":4,"bus":"pci.0","addr":"0x3"}`,
  );
  has(l, "-chardev socket,id=chr-vu-video0,fd=1729");
  has(
    l,
    `-device {"driver":"vhost-user-vga","id":"video0","max_outputs":1,"chardev":"chr-vu-video0","bus":"pci.0","addr":"0x2"}`,
  );
  has(l, `-compat {"deprecated-output":"hide","deprecated-input":"reject"}`);
  // without the helper process a vhost-user GPU is refused, not silently replaced
  const xml = domain("<video><driver name='vhostuser'/><model type='virtio'/></video>");
  assert.throws(() => lines(xml, dir, { vhostUserGpuFd: () => undefined }), /vhost-user GPU/);
});
