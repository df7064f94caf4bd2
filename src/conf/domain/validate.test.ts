import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtError } from "../../util/errors/index.ts";
import { parseDomainXML } from "./index.ts";

/** A small q35 guest; `devices` and `extra` are spliced in. */
function domain(devices = "", extra = "", machine = "q35"): string {
  return `<domain type='qemu'>
  <name>v</name>
  <memory unit='MiB'>256</memory>
  <os>
    <type arch='x86_64' machine='${machine}'>hvm</type>
  </os>
${extra}  <devices>
${devices}  </devices>
</domain>
`;
}

function disk(target: string, bus: string, inner = "", attrs = "type='file' device='disk'"): string {
  return `    <disk ${attrs}>\n${inner}      <target dev='${target}' bus='${bus}'/>\n    </disk>\n`;
}

const src = (f: string): string => `      <source file='${f}'/>\n`;

/** The error a document is refused with: code and message. */
function refused(xml: string): VirtError {
  try {
    parseDomainXML(xml);
  } catch (e) {
    assert.ok(e instanceof VirtError, `expected a VirtError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected the document to be refused");
}

function accepted(xml: string): void {
  assert.doesNotThrow(() => parseDomainXML(xml));
}

test("disks: a target used twice names both sources in libvirt's disk order (by bus, then index)", () => {
  const e = refused(domain(disk("vda", "virtio", src("/a")) + disk("vda", "virtio", src("/b"))));
  assert.equal(e.code, "DOMAIN_DISK_TARGET_DUPLICATE");
  assert.equal(e.message, "XML error: target 'vda' duplicated for disk sources '/a' and '/b'");
  // an IDE disk written after a USB one is grouped with the other IDE disk, before the USB one
  const mixed = refused(
    domain(disk("hda", "ide", src("/h")) + disk("sda", "usb", src("/u")) + disk("sda", "ide", src("/i"))),
  );
  assert.equal(mixed.message, "XML error: target 'sda' duplicated for disk sources '/i' and '/u'");
});

test("disks: the same drive address on one bus is refused, on two buses allowed", () => {
  const addr = "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n";
  const e = refused(domain(disk("sda", "sata", src("/a")) + disk("sdb", "sata", src("/b") + addr)));
  assert.equal(
    e.message,
    "unsupported configuration: Found duplicate drive address for disk with target name 'sda' controller='0' bus='0' target='0' unit='0'",
  );
  accepted(domain(disk("sda", "scsi", src("/a")) + disk("sdb", "sata", src("/b") + addr)));
});

test("disks: a drive bus with a PCI address is refused", () => {
  const pci = "      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n";
  const e = refused(domain(disk("sda", "sata", src("/a") + pci)));
  assert.equal(e.code, "DOMAIN_DISK_ADDRESS_BUS_MISMATCH");
  assert.match(e.message, /Invalid address type 'pci' for the disk 'sda' with the bus type 'sata'$/);
  accepted(domain(disk("vda", "virtio", src("/a") + pci)));
});

test("disks: target names (partitions, unparsable names) are checked", () => {
  assert.equal(refused(domain(disk("vdb1", "virtio", src("/a")))).code, "DOMAIN_DISK_TARGET_PARTITION");
  const e = refused(domain(disk("vdzzzzzzzzzzzz", "virtio", src("/a"))));
  assert.equal(e.message, "XML error: Unknown disk name 'vdzzzzzzzzzzzz' and no address specified");
});

test("disks: lun needs a block source, vendor needs scsi, VPD strings have limits", () => {
  assert.equal(
    refused(domain(disk("sda", "scsi", src("/a"), "type='file' device='lun'"))).code,
    "DOMAIN_DISK_LUN_SOURCE",
  );
  assert.equal(
    refused(domain(disk("vda", "virtio", src("/a") + "      <vendor>ACME</vendor>\n"))).message,
    "unsupported configuration: Only scsi disk supports 'vendor'",
  );
  accepted(domain(disk("sda", "sata", src("/a") + "      <product>P1</product>\n")));
  assert.equal(
    refused(domain(disk("sda", "scsi", src("/a") + "      <vendor>ACMEACMEA</vendor>\n"))).message,
    "unsupported configuration: disk vendor is more than 8 characters",
  );
  accepted(domain(disk("sda", "scsi", src("/a") + "      <vendor>ACMEACME</vendor>\n")));
});

test("disks: formats QEMU cannot open directly and shared non-raw images are refused", () => {
  const drv = (t: string): string => `      <driver name='qemu' type='${t}'/>\n`;
  for (const [fmt, code] of [
    ["cow", "DOMAIN_DISK_FORMAT_COW"],
    ["dir", "DOMAIN_DISK_FORMAT_DIR"],
    ["iso", "DOMAIN_DISK_FORMAT_ISO"],
  ] as const) {
    assert.equal(refused(domain(disk("vda", "virtio", drv(fmt) + src("/a")))).code, code);
  }
  const shared = drv("qcow2") + src("/a") + "      <shareable/>\n";
  assert.equal(refused(domain(disk("vda", "virtio", shared))).code, "DOMAIN_DISK_SHARED_FORMAT");
  accepted(domain(disk("vda", "virtio", shared.replace("qcow2", "raw"))));
});

test("disks: an empty USB disk is refused", () => {
  const e = refused(domain(disk("sda", "usb", "", "type='file' device='cdrom'")));
  assert.equal(e.message, "unsupported configuration: 'usb' disk must not be empty");
});

const numa = (cells: string): string =>
  `  <vcpu>2</vcpu>\n  <cpu>\n    <numa>\n${cells}    </numa>\n  </cpu>\n`;
const cell = (id: number, cpus: string, extra = ""): string =>
  `      <cell id='${id}' cpus='${cpus}' memory='128' unit='MiB'${extra}/>\n`;

test("NUMA cells: any order is kept sorted by id; gaps, duplicates and unknown siblings are refused", () => {
  const { def } = parseDomainXML(domain("", numa(cell(1, "1") + cell(0, "0"))));
  assert.deepEqual(
    def.cpu?.numa?.cells.map((c) => c.id),
    [0, 1],
  );
  assert.equal(refused(domain("", numa(cell(0, "0") + cell(2, "1")))).code, "DOMAIN_NUMA_CELL_ID_RANGE");
  assert.equal(refused(domain("", numa(cell(0, "0") + cell(0, "1")))).code, "DOMAIN_NUMA_CELL_ID_DUPLICATE");
  const sib = `      <cell id='0' cpus='0' memory='128' unit='MiB'>\n        <distances>\n          <sibling id='3' value='10'/>\n        </distances>\n      </cell>\n`;
  assert.equal(
    refused(domain("", numa(sib + cell(1, "1")))).message,
    "XML error: 'sibling_id 3' does not refer to a valid cell within NUMA 'cell id 0'",
  );
});

test("hugepages: one default size, disjoint nodesets, existing nodes", () => {
  const pages = (p: string): string =>
    `  <memoryBacking>\n    <hugepages>\n${p}    </hugepages>\n  </memoryBacking>\n`;
  const page = (size: number, nodeset?: string): string =>
    `      <page size='${size}' unit='KiB'${nodeset === undefined ? "" : ` nodeset='${nodeset}'`}/>\n`;
  const cells = numa(cell(0, "0") + cell(1, "1"));
  assert.equal(
    refused(domain("", pages(page(2048) + page(1048576)) + cells)).message,
    "two master hugepages detected: 1048576 and 2048",
  );
  assert.equal(
    refused(domain("", pages(page(2048, "0-1") + page(1048576, "1")) + cells)).code,
    "DOMAIN_HUGEPAGES_NODESETS_INTERSECT",
  );
  assert.equal(refused(domain("", pages(page(2048, "0,2")) + cells)).message, "hugepages: node 2 not found");
  accepted(domain("", pages(page(2048, "0") + page(1048576, "1")) + cells));
  // Without guest NUMA, nodeset '0' is the whole guest.
  accepted(domain("", pages(page(2048, "0"))));
});

test("numatune: memnodes need guest cells, restrictive goes both ways, placement rules", () => {
  const nt = (inner: string): string => `  <numatune>\n${inner}  </numatune>\n`;
  const cells = numa(cell(0, "0") + cell(1, "1"));
  assert.equal(
    refused(domain("", nt("    <memnode cellid='0' mode='strict' nodeset='0'/>\n"))).code,
    "DOMAIN_NUMATUNE_MEMNODE_NO_NUMA",
  );
  assert.equal(
    refused(
      domain(
        "",
        nt(
          "    <memory mode='restrictive' nodeset='0'/>\n    <memnode cellid='0' mode='strict' nodeset='0'/>\n",
        ) + cells,
      ),
    ).code,
    "DOMAIN_NUMATUNE_RESTRICTIVE_MEMNODE",
  );
  assert.equal(
    refused(
      domain(
        "",
        nt(
          "    <memory mode='strict' nodeset='0'/>\n    <memnode cellid='1' mode='restrictive' nodeset='0'/>\n",
        ) + cells,
      ),
    ).code,
    "DOMAIN_NUMATUNE_RESTRICTIVE_MEMORY",
  );
  assert.equal(
    refused(domain("", nt("    <memory mode='strict' placement='static'/>\n"))).message,
    "unsupported configuration: nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
  );
  accepted(
    domain(
      "",
      nt(
        "    <memory mode='restrictive' nodeset='0'/>\n    <memnode cellid='1' mode='restrictive' nodeset='0'/>\n",
      ) + cells,
    ),
  );
});

test("memory hotplug needs guest NUMA; memory devices name existing nodes", () => {
  const max = "  <maxMemory slots='4' unit='GiB'>4</maxMemory>\n";
  assert.equal(refused(domain("", max)).code, "DOMAIN_MEMORY_HOTPLUG_NO_NUMA");
  const dimm = (node: number): string =>
    `    <memory model='dimm'>\n      <target>\n        <size unit='MiB'>128</size>\n        <node>${node}</node>\n      </target>\n    </memory>\n`;
  const cells = numa(cell(0, "0-1"));
  assert.equal(
    refused(domain(dimm(1), max + cells)).message,
    "can't add memory backend for guest node '1' as the guest has only '1' NUMA nodes configured",
  );
  accepted(domain(dimm(0), max + cells));
});

test("SMM TSEG: q35 only, whole MiB", () => {
  const smm = (size: string): string =>
    `  <features>\n    <smm state='on'>\n      <tseg unit='KiB'>${size}</tseg>\n    </smm>\n  </features>\n`;
  assert.equal(refused(domain("", smm("49152"), "pc")).code, "DOMAIN_TSEG_MACHINE");
  assert.equal(refused(domain("", smm("12345"))).code, "DOMAIN_TSEG_SIZE");
  accepted(domain("", smm("49152")));
});

const nic = (addr: string): string =>
  `    <interface type='user'>\n      <mac address='52:54:00:00:00:01'/>\n      <address type='pci' ${addr}/>\n    </interface>\n`;

test("PCI addresses: parts out of range are named the way libvirt names them", () => {
  assert.equal(
    refused(domain(nic("domain='0' bus='0x100' slot='0' function='0'"))).message,
    "XML error: Invalid PCI address bus='0x100', must be <= 0xFF",
  );
  assert.equal(
    refused(domain(nic("domain='0' bus='0' slot='0x20' function='0'"))).message,
    "XML error: Invalid PCI address slot='0x20', must be <= 0x1F",
  );
  assert.equal(
    refused(domain(nic("domain='0' bus='0' slot='3' function='8'"))).message,
    "XML error: Invalid PCI address function=0x8, must be <= 7",
  );
});

test("PCI addresses: a device on a bus that does not take it names what it needs", () => {
  const ctl = "    <controller type='pci' index='1' model='pcie-root-port'/>\n";
  const e = refused(
    domain(
      ctl +
        "    <controller type='pci' index='2' model='dmi-to-pci-bridge'>\n      <address type='pci' domain='0' bus='1' slot='0' function='0'/>\n    </controller>\n",
    ),
  );
  assert.equal(
    e.message,
    "XML error: The device at PCI address 0000:01:00.0 cannot be plugged into the PCI controller with index='1'. It requires a controller that accepts a dmi-to-pci-bridge.",
  );
  assert.equal(e.code, "DOMAIN_PCI_ADDRESS_INCOMPATIBLE");
});

test("PCI controllers: the root's model, index and address; expander bus NUMA nodes", () => {
  const e = refused(domain("    <controller type='pci' index='0' model='pci-root'/>\n"));
  assert.equal(
    e.message,
    "XML error: The PCI controller with index='0' must be model='pcie-root' for this machine type, but model='pci-root' was found instead",
  );
  assert.equal(
    refused(
      domain(
        "    <controller type='pci' index='0' model='pcie-root'>\n      <address type='pci' domain='0' bus='0' slot='0' function='0'/>\n    </controller>\n",
      ),
    ).code,
    "DOMAIN_PCI_ROOT_ADDRESS",
  );
  const pxb =
    "    <controller type='pci' index='1' model='pci-expander-bus'>\n      <target busNr='254'>\n        <node>1</node>\n      </target>\n    </controller>\n";
  assert.equal(
    refused(domain(pxb, "", "pc")).message,
    "XML error: pci-expander-bus with index 1 is configured for a NUMA node (1) not present in the domain's <cpu><numa> array (0)",
  );
  assert.equal(
    refused(domain("    <controller type='ide' index='0'/>\n    <controller type='ide' index='0'/>\n"))
      .message,
    "XML error: Multiple 'ide' controllers with index '0'",
  );
});

test("video: 'none' stands alone, ramfb takes no address, one primary", () => {
  const video = (type: string, extra = ""): string =>
    `    <video>\n      <model type='${type}'${extra}/>\n    </video>\n`;
  assert.equal(refused(domain(video("vga") + video("none"))).code, "DOMAIN_VIDEO_NONE_NOT_ALONE");
  assert.equal(
    refused(domain(video("vga", " primary='yes'") + video("qxl", " primary='yes'"))).message,
    "unsupported configuration: Only one primary video device is supported",
  );
  const ramfb =
    "    <video>\n      <model type='ramfb'/>\n      <address type='pci' domain='0' bus='0' slot='5' function='0'/>\n    </video>\n";
  assert.equal(refused(domain(ramfb)).code, "DOMAIN_VIDEO_RAMFB_ADDRESS");
});

test("IOMMU: machine, ACPI, address and driver attributes per model", () => {
  const acpi = "  <features>\n    <acpi/>\n  </features>\n";
  assert.equal(
    refused(domain("    <iommu model='intel'/>\n", acpi, "pc")).message,
    "unsupported configuration: IOMMU device: 'intel' is only supported with Q35 machines",
  );
  assert.equal(
    refused(domain("    <iommu model='virtio'/>\n")).message,
    "unsupported configuration: IOMMU device: 'virtio' requires ACPI",
  );
  assert.equal(
    refused(domain("    <iommu model='virtio'>\n      <driver iotlb='on'/>\n    </iommu>\n", acpi)).code,
    "DOMAIN_IOMMU_EXTRA_ATTRIBUTES",
  );
  accepted(domain("    <iommu model='virtio'/>\n", acpi));
  accepted(domain("    <iommu model='intel'>\n      <driver iotlb='on'/>\n    </iommu>\n", acpi));
});

test("graphics: egl-headless pairs with vnc or spice only, one OpenGL display", () => {
  assert.equal(
    refused(domain("    <graphics type='sdl'/>\n    <graphics type='egl-headless'/>\n")).code,
    "DOMAIN_GRAPHICS_EGL_HEADLESS_PAIR",
  );
  const spiceGl = "    <graphics type='spice'>\n      <gl enable='yes'/>\n    </graphics>\n";
  assert.equal(
    refused(domain(spiceGl + "    <graphics type='egl-headless'/>\n")).code,
    "DOMAIN_GRAPHICS_MULTIPLE_GL",
  );
  accepted(domain("    <graphics type='vnc'/>\n    <graphics type='egl-headless'/>\n"));
});

test("ps2 off: no PS/2 inputs and no vmport", () => {
  const off = (more = ""): string => `  <features>\n    <ps2 state='off'/>\n${more}  </features>\n`;
  assert.equal(
    refused(domain("    <input type='mouse' bus='ps2'/>\n", off())).code,
    "DOMAIN_PS2_INPUT_DISABLED",
  );
  assert.equal(
    refused(domain("", off("    <vmport state='on'/>\n"), "pc")).code,
    "DOMAIN_VMPORT_PS2_DISABLED",
  );
  accepted(domain("", off()));
});

test("interfaces: portForward needs passt, queue sizes are powers of two", () => {
  const user = (inner: string, backend = ""): string =>
    `    <interface type='user'>\n${backend}${inner}      <model type='virtio'/>\n    </interface>\n`;
  const pf = "      <portForward proto='tcp'>\n        <range start='2022' to='22'/>\n      </portForward>\n";
  assert.equal(refused(domain(user(pf))).code, "DOMAIN_NET_PORT_FORWARD_BACKEND");
  accepted(domain(user(pf, "      <backend type='passt'/>\n")));
  assert.equal(
    refused(domain(user("      <driver rx_queue_size='500'/>\n"))).message,
    "unsupported configuration: rx_queue_size has to be a power of two",
  );
  accepted(domain(user("      <driver rx_queue_size='512'/>\n")));
});

test("character devices: reconnect timeout and TCP protocol", () => {
  const tcp = (inner: string): string =>
    `    <serial type='tcp'>\n      <source mode='connect' host='127.0.0.1' service='9999'>\n${inner}      </source>\n      <target port='0'/>\n    </serial>\n`;
  assert.equal(
    refused(domain(tcp("        <reconnect enabled='yes' timeout='0'/>\n"))).message,
    "invalid argument: chardev reconnect source timeout cannot be '0'",
  );
  const telnets =
    "    <serial type='tcp'>\n      <source mode='connect' host='127.0.0.1' service='9999'/>\n      <protocol type='telnets'/>\n      <target port='0'/>\n    </serial>\n";
  assert.equal(refused(domain(telnets)).code, "DOMAIN_CHR_TCP_PROTOCOL");
  accepted(domain(telnets.replace("telnets", "telnet")));
});

test("hostdevs: the same host device twice, two ramfb vGPUs, a display without graphics", () => {
  const usb =
    "    <hostdev mode='subsystem' type='usb'>\n      <source>\n        <address bus='1' device='2'/>\n      </source>\n    </hostdev>\n";
  assert.equal(
    refused(domain(usb + usb)).message,
    "XML error: Hostdev already exists in the domain configuration",
  );
  accepted(domain(usb + usb.replace("device='2'", "device='3'")));
  const mdev = (uuid: string, attrs: string): string =>
    `    <hostdev mode='subsystem' type='mdev' model='vfio-pci'${attrs}>\n      <source>\n        <address uuid='${uuid}'/>\n      </source>\n    </hostdev>\n`;
  const u1 = "53764d0e-85a0-42b4-af5c-2046b460b1dc";
  const u2 = "53764d0e-85a0-42b4-af5c-2046b460b1dd";
  assert.equal(refused(domain(mdev(u1, " display='on'"))).code, "DOMAIN_HOSTDEV_DISPLAY_NO_GRAPHICS");
  assert.equal(
    refused(domain(mdev(u1, " ramfb='on'") + mdev(u2, " ramfb='on'"))).code,
    "DOMAIN_HOSTDEV_RAMFB_MULTIPLE",
  );
});

test("controllers: iothread only on virtio-scsi", () => {
  const ctl = (type: string, model: string): string =>
    `    <controller type='${type}' index='0' model='${model}'>\n      <driver iothread='1'/>\n    </controller>\n`;
  assert.equal(refused(domain(ctl("virtio-serial", "virtio"))).code, "DOMAIN_CONTROLLER_IOTHREAD");
  accepted(domain(ctl("scsi", "virtio-scsi"), "  <iothreads>1</iothreads>\n"));
});

/** A guest whose `<os>` body is `os` (machine q35, ACPI on unless `acpi` is false). */
function withOs(os: string, attrs = "", acpi = true): string {
  return `<domain type='qemu'>
  <name>v</name>
  <memory unit='MiB'>256</memory>
  <os${attrs}>
    <type arch='x86_64' machine='q35'>hvm</type>
${os}  </os>
${acpi ? "  <features>\n    <acpi/>\n  </features>\n" : ""}  <devices/>
</domain>
`;
}

test("firmware: loader, NVRAM and autoselection rules", () => {
  const code = "    <loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>\n";
  assert.equal(
    refused(withOs("    <nvram>/v/VARS.fd</nvram>\n", " firmware='bios'")).message,
    "firmware type 'bios' does not support nvram",
  );
  assert.equal(
    refused(
      withOs(
        "    <firmware>\n      <feature enabled='yes' name='enrolled-keys'/>\n      <feature enabled='no' name='secure-boot'/>\n    </firmware>\n",
        " firmware='efi'",
      ),
    ).code,
    "DOMAIN_FW_ENROLLED_KEYS_NO_SECURE_BOOT",
  );
  assert.equal(
    refused(withOs("    <loader readonly='yes' type='pflash'/>\n")).code,
    "DOMAIN_FW_LOADER_NO_PATH",
  );
  assert.equal(
    refused(withOs(code.replace("readonly", "stateless='yes' readonly") + "    <nvram>/v/VARS.fd</nvram>\n"))
      .message,
    "NVRAM is not permitted when loader is stateless",
  );
  assert.equal(
    refused(withOs("    <loader stateless='no'>/fw/bios.bin</loader>\n")).code,
    "DOMAIN_FW_NVRAM_NEEDS_PFLASH",
  );
  assert.equal(
    refused(withOs(code, "", false)).message,
    "unsupported configuration: UEFI requires ACPI on this architecture",
  );
  accepted(withOs(code + "    <nvram>/v/VARS.fd</nvram>\n"));
});

test("boot menu timeout is range-checked by the validation, with libvirt's wording", () => {
  assert.equal(
    refused(withOs("    <bootmenu enable='yes' timeout='65536'/>\n")).message,
    "unsupported configuration: invalid value for boot menu timeout, must be in range [0,65535]",
  );
  accepted(withOs("    <bootmenu enable='yes' timeout='65535'/>\n"));
});

test("pSeries-only features and serial targets of other machines are refused on x86", () => {
  assert.equal(
    refused(domain("", "  <features>\n    <hpt resizing='required'/>\n  </features>\n", "pc")).message,
    "unsupported configuration: The 'hpt' feature is not supported for architecture 'x86_64' or machine type 'pc'",
  );
  assert.equal(
    refused(domain("    <serial type='pty'>\n      <target type='spapr-vio-serial'/>\n    </serial>\n"))
      .message,
    "unsupported configuration: Serial device with target type 'spapr-vio-serial' and target model 'spapr-vty' not compatible with guest architecture or machine type",
  );
});

test("inputs: transitional virtio models only for passthrough", () => {
  assert.equal(
    refused(domain("    <input type='keyboard' bus='virtio' model='virtio-non-transitional'/>\n")).code,
    "DOMAIN_INPUT_TRANSITIONAL",
  );
  accepted(domain("    <input type='keyboard' bus='virtio' model='virtio'/>\n"));
});

test("CPU cache modes: emulate needs level 3, passthrough needs a host CPU and no level", () => {
  const cpu = (mode: string, cache: string): string => `  <cpu mode='${mode}'>\n    ${cache}\n  </cpu>\n`;
  assert.equal(
    refused(domain("", cpu("host-model", "<cache level='2' mode='emulate'/>"))).message,
    "unsupported configuration: CPU cache mode 'emulate' can only be used with level='3'",
  );
  assert.equal(
    refused(domain("", cpu("host-model", "<cache mode='passthrough'/>"))).code,
    "DOMAIN_CPU_CACHE_PASSTHROUGH_MODE",
  );
  assert.equal(
    refused(domain("", cpu("host-passthrough", "<cache level='3' mode='passthrough'/>"))).code,
    "DOMAIN_CPU_CACHE_LEVEL",
  );
  accepted(domain("", cpu("host-passthrough", "<cache mode='passthrough'/>")));
});

test("sheepdog disks, TPM without backend and disks without target are refused with libvirt's words", () => {
  const sheep =
    "    <disk type='network' device='disk'>\n      <source protocol='sheepdog' name='img'>\n        <host name='h' port='7000'/>\n      </source>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n";
  assert.equal(refused(domain(sheep)).code, "DOMAIN_DISK_PROTOCOL_SHEEPDOG");
  assert.equal(
    refused(domain("    <tpm model='tpm-tis'/>\n")).message,
    "XML error: missing TPM device backend",
  );
  const noTarget = "    <disk type='file' device='disk'>\n      <source file='/img/a.raw'/>\n    </disk>\n";
  assert.equal(refused(domain(noTarget)).message, "missing target information for device /img/a.raw");
});

test("USB disabled: no hubs, USB inputs or another USB controller; companions need their master", () => {
  const none = "    <controller type='usb' index='0' model='none'/>\n";
  assert.equal(
    refused(domain(none + "    <hub type='usb'/>\n")).message,
    "unsupported configuration: Can't add USB hub: USB is disabled for this domain",
  );
  assert.equal(
    refused(domain(none + "    <input type='tablet' bus='usb'/>\n")).code,
    "DOMAIN_USB_DISABLED_INPUT",
  );
  assert.equal(
    refused(domain(none + "    <controller type='usb' index='1' model='qemu-xhci'/>\n")).message,
    "Can't add another USB controller: USB is disabled for this domain",
  );
  const companion =
    "    <controller type='usb' index='0' model='ich9-uhci2'>\n      <master startport='2'/>\n    </controller>\n";
  assert.equal(refused(domain(companion)).message, "No master USB controller specified");
  accepted(domain("    <controller type='usb' index='0' model='ich9-ehci1'/>\n" + companion));
});

test("sets: a malformed one is refused as libvirt's bitmap parser does, an empty numatune nodeset by name", () => {
  const e = refused(domain("", "  <vcpu cpuset='aaa'>2</vcpu>\n"));
  assert.equal(e.message, "invalid argument: Failed to parse bitmap 'aaa'");
  assert.equal(e.details.xpath, "/domain/vcpu/@cpuset");
  assert.equal(
    refused(domain("", "  <numatune>\n    <memory mode='strict' nodeset='0,^0'/>\n  </numatune>\n")).message,
    "unsupported configuration: Invalid value of 'nodeset': 0,^0",
  );
  assert.equal(refused(domain("", "  <vcpu cpuset='0,^0'>2</vcpu>\n")).code, "DOMAIN_BITMAP_INVALID");
});

test("vhost-user interfaces need shared guest memory", () => {
  const vu =
    "    <interface type='vhostuser'>\n      <mac address='52:54:00:00:00:09'/>\n      <source type='unix' path='/tmp/vu.sock' mode='client'/>\n      <model type='virtio'/>\n    </interface>\n";
  assert.equal(refused(domain(vu)).message, "unsupported configuration: 'interface' requires shared memory");
  accepted(domain(vu, "  <memoryBacking>\n    <access mode='shared'/>\n  </memoryBacking>\n"));
  const cells = numa(cell(0, "0", " memAccess='shared'") + cell(1, "1"));
  assert.equal(refused(domain(vu, cells)).code, "DOMAIN_VHOSTUSER_SHARED_MEMORY");
});

test("SCSI host devices: one drive address each, and none a SCSI disk takes", () => {
  const scsi = (unit: number): string =>
    `    <hostdev mode='subsystem' type='scsi'>\n      <source>\n        <adapter name='scsi_host2'/>\n        <address bus='0' target='0' unit='${unit}'/>\n      </source>\n      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n    </hostdev>\n`;
  const ctl = "    <controller type='scsi' index='0' model='virtio-scsi'/>\n";
  assert.equal(
    refused(domain(ctl + scsi(1) + scsi(2))).message,
    "unsupported configuration: SCSI host address controller='0' bus='0' target='0' unit='0' in use by another SCSI host device",
  );
  const e = refused(domain(ctl + disk("sda", "scsi", src("/a")) + scsi(1)));
  assert.equal(e.code, "DOMAIN_DISK_SCSI_HOSTDEV_CONFLICT");
  accepted(domain(ctl + disk("sdb", "scsi", src("/a")) + scsi(1)));
});

test("mediated devices: the source names its uuid, vfio-pci sits on PCI", () => {
  const mdev = (source: string, addr = ""): string =>
    `    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n      <source>\n        ${source}\n      </source>\n${addr}    </hostdev>\n`;
  assert.equal(
    refused(domain(mdev("<address/>"))).message,
    "unsupported configuration: Missing 'uuid' attribute for element <address>",
  );
  const uuid = "<address uuid='53764d0e-85a0-42b4-af5c-2046b460b1dc'/>";
  assert.equal(
    refused(domain(mdev(uuid, "      <address type='drive' controller='0' bus='0' target='0' unit='1'/>\n")))
      .message,
    "XML error: Unsupported address type 'drive' with mediated device model 'vfio-pci'",
  );
  accepted(domain(mdev(uuid)));
});

test("expander buses only on their machine type", () => {
  const pxb = (model: string): string => `    <controller type='pci' index='1' model='${model}'/>\n`;
  assert.equal(
    refused(domain(pxb("pcie-expander-bus"), "", "pc")).message,
    "unsupported configuration: pcie-expander-bus controllers are not supported with this machine type",
  );
  assert.equal(refused(domain(pxb("pci-expander-bus"))).code, "DOMAIN_EXPANDER_BUS_MACHINE");
});

test("no default machine: the emulator lacks the arch, or the virt type", () => {
  const facts = {
    supportsVirtType: (type: string): boolean => type === "qemu",
    defaultMachine: (arch: string, type: string): string | undefined =>
      type !== "qemu"
        ? undefined
        : arch === "x86_64"
          ? "pc-i440fx-10.0"
          : arch === "aarch64"
            ? "virt"
            : undefined,
  };
  const guest = (type: string, arch: string): string =>
    `<domain type='${type}'>\n  <name>v</name>\n  <memory unit='MiB'>256</memory>\n  <os>\n    <type arch='${arch}'>hvm</type>\n  </os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n  </devices>\n</domain>\n`;
  const err = (xml: string): VirtError => {
    try {
      parseDomainXML(xml, { facts });
    } catch (e) {
      assert.ok(e instanceof VirtError);
      return e;
    }
    assert.fail("expected a refusal");
  };
  assert.equal(
    err(guest("qemu", "alpha")).message,
    "unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support arch 'alpha'",
  );
  assert.equal(err(guest("kvm", "aarch64")).code, "DOMAIN_EMULATOR_VIRT_TYPE_UNSUPPORTED");
  assert.equal(
    err(guest("hvf", "x86_64").replace("<type arch='x86_64'>", "<type arch='x86_64' machine='q35'>")).message,
    "unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support virt type 'hvf'",
  );
  assert.doesNotThrow(() => parseDomainXML(guest("qemu", "x86_64"), { facts }));
});

test("character device sources name what their type needs; libvirt's number, our kind of problem", () => {
  const e = refused(
    domain("    <serial type='unix'>\n      <target type='isa-serial' port='0'/>\n    </serial>\n"),
  );
  assert.equal(e.code, "DOMAIN_CHR_SOURCE_ATTR_MISSING");
  assert.equal(e.virCode, 1);
  assert.equal(e.message, "XML error: Missing source path attribute for char device");
  // virtio channels get a generated socket path
  accepted(
    domain(
      "    <channel type='unix'>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>\n    </channel>\n",
    ),
  );
  const rng =
    "    <rng model='virtio'>\n      <backend model='egd' type='unix'>\n        <source mode='connect' host='1.2.3.4' service='1234'/>\n      </backend>\n    </rng>\n";
  assert.equal(refused(domain(rng)).code, "DOMAIN_CHR_SOURCE_ATTR_MISSING");
  const listen =
    "    <serial type='unix'>\n      <source mode='bind' path='/tmp/s.sock'>\n        <reconnect enabled='yes' timeout='10'/>\n      </source>\n      <target port='0'/>\n    </serial>\n";
  assert.equal(refused(domain(listen)).code, "DOMAIN_CHR_RECONNECT_LISTEN");
});

test("a USB disk on another bus's address is refused", () => {
  const pci = "      <address type='pci' domain='0' bus='0' slot='6' function='0'/>\n";
  assert.equal(refused(domain(disk("sda", "usb", src("/a") + pci))).code, "DOMAIN_DISK_USB_ADDRESS");
});

test("explicit USB addresses are checked when the definition is read", () => {
  const ctl = "    <controller type='usb' index='0' model='piix3-uhci'/>\n";
  const at = (port: string): string => `      <address type='usb' bus='0' port='${port}'/>\n`;
  const hub = (port: string): string => `    <hub type='usb'>\n${at(port)}    </hub>\n`;
  const mouse = (port: string): string => `    <input type='mouse' bus='usb'>\n${at(port)}    </input>\n`;
  assert.equal(
    refused(domain(ctl + hub("1") + mouse("1"), "", "pc")).message,
    "XML error: Duplicate USB address bus 0 port 1",
  );
  assert.equal(refused(domain(ctl + mouse("1.2"), "", "pc")).code, "DOMAIN_USB_ADDRESS_NO_HUB");
  assert.equal(refused(domain(ctl + mouse("3"), "", "pc")).code, "DOMAIN_USB_PORT_MISSING");
  assert.equal(refused(domain(ctl + hub("1") + mouse("1.9"), "", "pc")).code, "DOMAIN_USB_PORT_MISSING");
  accepted(domain(ctl + hub("1") + mouse("1.8"), "", "pc"));
  // a bus without a port is looked up at start
  accepted(
    domain(
      ctl + "    <input type='mouse' bus='usb'>\n      <address type='usb' bus='1'/>\n    </input>\n",
      "",
      "pc",
    ),
  );
});

test("zPCI address extensions are refused off s390", () => {
  const hostdev =
    "    <hostdev mode='subsystem' type='pci' managed='no'>\n      <source>\n        <address domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>\n      </source>\n      <address type='pci' domain='0x0000' bus='0x00' slot='0x08' function='0x0'>\n        <zpci uid='0x0019' fid='0x0000001f'/>\n      </address>\n    </hostdev>\n";
  assert.equal(
    refused(domain(hostdev)).message,
    "unsupported configuration: This QEMU binary doesn't support zPCI",
  );
});

test("vhost-scsi host devices: no rawio/sgio, no boot order", () => {
  const vhost = (attrs: string, inner = ""): string =>
    `    <hostdev mode='subsystem' type='scsi_host'${attrs}>\n      <source protocol='vhost' wwpn='naa.5123456789abcde0'/>\n${inner}    </hostdev>\n`;
  assert.equal(
    refused(domain(vhost(" rawio='yes'"))).message,
    "XML error: rawio is only supported for scsi host device",
  );
  assert.equal(refused(domain(vhost(" sgio='filtered'"))).code, "DOMAIN_HOSTDEV_SCSI_ONLY_ATTR");
  assert.equal(
    refused(domain(vhost("", "      <boot order='1'/>\n"))).code,
    "DOMAIN_HOSTDEV_VHOST_SCSI_BOOT",
  );
});

test("isapc has no PCI bus: a device that needs a PCI slot is refused", () => {
  assert.equal(
    refused(domain("    <controller type='usb' index='0' model='piix3-uhci'/>\n", "", "isapc")).message,
    "XML error: No PCI buses available",
  );
  accepted(domain("    <controller type='usb' index='0' model='none'/>\n", "", "isapc"));
});

test("security labels: one per model, a model on each of several, relabel needs a label on disk sources", () => {
  const dac = "  <seclabel type='dynamic' model='dac' relabel='yes'/>\n";
  const none = "  <seclabel type='none' relabel='no'/>\n";
  const withLabels = (labels: string, devices = ""): string =>
    domain(devices).replace("</domain>", `${labels}</domain>`);
  assert.equal(refused(withLabels(dac + dac)).message, "seclabel for model dac is already provided");
  assert.equal(
    refused(withLabels(none + dac)).message,
    "XML error: missing security model when using multiple labels",
  );
  accepted(withLabels(dac));
  const relabel = (inner: string): string =>
    `    <disk type='file' device='disk'>\n      <source file='/a'>\n        ${inner}\n      </source>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n`;
  assert.equal(
    refused(domain(relabel("<seclabel model='selinux' relabel='yes'/>"))).message,
    "XML error: Cannot specify relabel if label is missing. model=selinux",
  );
  accepted(domain(relabel("<seclabel model='dac' relabel='no'/>")));
});

test("a PCI controller with no slot left: libvirt's number and words, our kind of problem", () => {
  const many = Array.from(
    { length: 260 },
    (_, i) => `    <controller type='pci' index='${i + 1}' model='pcie-root-port'/>\n`,
  ).join("");
  const e = refused(domain(many));
  assert.equal(e.code, "DOMAIN_PCI_CONTROLLER_NO_SLOT");
  assert.equal(e.virCode, 1);
  assert.match(
    e.message,
    /^unsupported configuration: a PCI slot is needed to connect a PCI controller model='pcie-root-port'/,
  );
});

test("a TSEG size without a unit is MiB, as libvirt reads it", () => {
  const { def } = parseDomainXML(
    domain("", "  <features>\n    <smm state='on'>\n      <tseg>48</tseg>\n    </smm>\n  </features>\n"),
  );
  assert.equal(def.features?.smm?.tseg, 48 * 1024);
});

test("firmware features without firmware= are refused for new definitions only", () => {
  const xml = withOs(
    "    <firmware>\n      <feature enabled='no' name='enrolled-keys'/>\n    </firmware>\n    <loader readonly='yes' type='pflash'>/fw/CODE.fd</loader>\n",
  );
  accepted(xml);
  assert.throws(
    () => parseDomainXML(xml, { abiUpdate: true }),
    (e: unknown) => e instanceof VirtError && e.code === "DOMAIN_FW_FEATURES_WITHOUT_AUTOSELECT",
  );
});

test("disks: LUN-only attributes, virtio-only driver settings, tray and removable", () => {
  assert.equal(
    refused(domain(disk("vda", "virtio", src("/a"), "type='file' device='disk' rawio='yes'"))).message,
    "unsupported configuration: rawio can be used only with device='lun'",
  );
  const lun = (drv: string): string =>
    disk("sda", "scsi", `${drv}      <source dev='/dev/sdz'/>\n`, "type='block' device='lun'");
  assert.equal(
    refused(domain(lun("      <driver name='qemu' type='qcow2'/>\n"))).code,
    "DOMAIN_DISK_LUN_FORMAT",
  );
  accepted(domain(lun("      <driver name='qemu' type='raw'/>\n")));
  assert.equal(
    refused(domain(disk("sda", "sata", "      <driver name='qemu' queues='2'/>\n" + src("/a")))).message,
    "unsupported configuration: queues attribute in disk driver element is only supported for virtio bus",
  );
  assert.equal(
    refused(domain(disk("sda", "sata", src("/a"), "type='file' device='disk' model='virtio'"))).code,
    "DOMAIN_DISK_MODEL_BUS",
  );
  const target = (attrs: string, bus: string, device = "disk"): string =>
    `    <disk type='file' device='${device}'>\n      <source file='/a'/>\n      <target dev='sda' bus='${bus}' ${attrs}/>\n    </disk>\n`;
  assert.equal(refused(domain(target("tray='open'", "sata"))).code, "DOMAIN_DISK_TRAY");
  accepted(domain(target("tray='open'", "sata", "cdrom")));
  assert.equal(
    refused(domain(target("removable='on'", "sata"))).message,
    "XML error: removable is only valid for usb or scsi disks",
  );
  accepted(domain(target("removable='on'", "usb")));
});
