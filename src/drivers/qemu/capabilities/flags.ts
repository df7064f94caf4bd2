/**
 * How tvirt derives libvirt's capability flag names from what QEMU reports. The names are
 * libvirt's (`<flag name=.../>` in its capability files); the rules follow the questions libvirt
 * asks in `qemu_capabilities.c` (QMP schema paths, QOM types, device and object properties,
 * command-line options), written down here as data. Rules marked "tvirt" are ours: flags libvirt
 * has retired (it assumes them for every QEMU it still supports) but that our command-line
 * builder can still ask about, so that probed and loaded capabilities answer alike.
 */
import type { QapiSchema } from "./schema.ts";

/** A QMP command whose presence in the schema sets a flag. */
export const COMMAND_FLAGS: readonly (readonly [command: string, flag: string])[] = [
  ["query-vnc", "vnc"],
  ["rtc-reset-reinjection", "rtc-reset-reinjection"],
  ["query-cpu-model-expansion", "query-cpu-model-expansion"],
  ["query-cpu-definitions", "query-cpu-definitions"],
  ["query-cpu-model-baseline", "query-cpu-model-baseline"],
  ["query-cpu-model-comparison", "query-cpu-model-comparison"],
  ["block-export-add", "block-export-add"],
  ["blockdev-reopen", "blockdev-reopen"],
  ["set-action", "set-action"],
  ["query-dirty-rate", "query-dirty-rate"],
  ["sev-inject-launch-secret", "sev-inject-launch-secret"],
  ["calc-dirty-rate", "calc-dirty-rate"],
  ["query-stats", "query-stats"],
  ["query-stats-schemas", "query-stats-schemas"],
  ["display-reload", "display-reload"],
  ["blockdev-set-active", "blockdev-set-active"],
  // tvirt (retired in libvirt): `-display` options are described in the schema.
  ["query-display-options", "query-display-options"],
];

/** Schema path questions (see schema.ts) whose positive answer sets a flag. */
export const SCHEMA_FLAGS: readonly (readonly [path: string, flag: string])[] = [
  ["blockdev-add/arg-type/+vxhs", "vxhs"],
  ["blockdev-add/arg-type/+file/drop-cache", "migration-file-drop-cache"],
  ["blockdev-add/arg-type/+nvme", "drive-nvme"],
  ["blockdev-add/arg-type/+file/aio/^io_uring", "aio.io_uring"],
  ["blockdev-add/arg-type/+rbd/encrypt", "rbd-encryption"],
  ["blockdev-add/arg-type/+rbd/encrypt/parent", "rbd-encryption-layering"],
  ["blockdev-add/arg-type/+rbd/encrypt/format/^luks-any", "rbd-encryption-luks-any"],
  ["blockdev-add/arg-type/+nbd/tls-hostname", "blockdev.nbd.tls-hostname"],
  ["blockdev-add/arg-type/+qcow2/discard-no-unref", "qcow2-discard-no-unref"],
  ["blockdev-add/arg-type/+virtio-blk-vhost-vdpa/$fdset", "virtio-blk-vhost-vdpa"],
  ["blockdev-snapshot/$allow-write-only-overlay", "blockdev-snapshot.allow-write-only-overlay"],
  ["block-stream/arg-type/backing-mask-protocol", "blockjob.backing-mask-protocol"],
  ["chardev-add/arg-type/backend/+socket/data/reconnect", "chardev-reconnect"],
  ["chardev-add/arg-type/backend/+socket/data/reconnect-ms", "chardev-reconnect-miliseconds"],
  ["chardev-add/arg-type/backend/+qemu-vdagent", "chardev.qemu-vdagent"],
  ["device_add/$json-cli-hotplug", "device.json+hotplug"],
  [
    "migrate-set-parameters/arg-type/block-bitmap-mapping/bitmaps/transform",
    "migration-param.block-bitmap-mapping",
  ],
  ["migrate-incoming/arg-type/exit-on-error", "migrate-incoming.exit-on-error"],
  ["nbd-server-start/arg-type/tls-creds", "nbd-tls"],
  ["nbd-server-add/arg-type/bitmap", "nbd-bitmap"],
  ["netdev_add/arg-type/+stream", "netdev.stream"],
  ["netdev_add/arg-type/+stream/reconnect", "netdev.stream.reconnect"],
  ["netdev_add/arg-type/+stream/reconnect-ms", "netdev-stream-reconnect-miliseconds"],
  ["netdev_add/arg-type/+vhost-vdpa", "netdev.vhost-vdpa"],
  ["netdev_add/arg-type/+user", "netdev.user"],
  // JSON syntax of -netdev arrived together with the 'dgram' backend.
  ["netdev_add/arg-type/type/^dgram", "netdev.json"],
  ["object-add/arg-type/qom-type/^secret", "object.qapified"],
  ["object-add/arg-type/+sev-guest/kernel-hashes", "sev-guest-kernel-hashes"],
  ["object-add/arg-type/+iothread/thread-pool-max", "iothread.thread-pool-max"],
  ["query-display-options/ret-type/+egl-headless/rendernode", "egl-headless.rendernode"],
  ["query-display-options/ret-type/+sdl", "sdl"],
  ["query-display-options/ret-type/+egl-headless", "egl-headless"],
  ["query-display-options/ret-type/+dbus", "display-dbus"],
  ["query-hotpluggable-cpus/ret-type/props/die-id", "smp-dies"],
  ["query-hotpluggable-cpus/ret-type/props/cluster-id", "smp-clusters"],
  ["query-named-block-nodes/arg-type/flat", "query-named-block-nodes.flat"],
  ["query-migrate/ret-type/blocked-reasons", "migration.blocked-reasons"],
  ["screendump/arg-type/device", "screendump_device"],
  ["screendump/arg-type/format/^png", "screenshot-format-png"],
  ["set-numa-node/arg-type/+hmat-lb", "numa.hmat"],
  ["calc-dirty-rate/arg-type/mode", "dirtyrate-param.mode"],
  // tvirt (retired in libvirt): JSON syntax of -device, and the -blockdev witnesses.
  ["device_add/$json-cli", "device.json"],
  ["blockdev-add/arg-type/+file/$dynamic-auto-read-only", "blockdev-file-dynamic-auto-read-only"],
];

/** QOM types (`qom-list-types`) whose presence sets a flag; several types may set one flag. */
export const OBJECT_TYPE_FLAGS: readonly (readonly [type: string, flag: string])[] = [
  ["hda-duplex", "hda-duplex"],
  ["hda-micro", "hda-micro"],
  ["hda-output", "hda-output"],
  ["ccid-card-emulated", "ccid-emulated"],
  ["ccid-card-passthru", "ccid-passthru"],
  ["piix3-usb-uhci", "piix3-usb-uhci"],
  ["piix4-usb-uhci", "piix4-usb-uhci"],
  ["usb-ehci", "usb-ehci"],
  ["ich9-usb-ehci1", "ich9-usb-ehci1"],
  ["vt82c686b-usb-uhci", "vt82c686b-usb-uhci"],
  ["pci-ohci", "pci-ohci"],
  ["nec-usb-xhci", "nec-usb-xhci"],
  ["qemu-xhci", "qemu-xhci"],
  ["usb-redir", "usb-redir"],
  ["usb-hub", "usb-hub"],
  ["usb-storage", "usb-storage"],
  ["usb-kbd", "usb-kbd"],
  ["usb-audio", "usb-audio"],
  ["usb-serial", "usb-serial"],
  ["usb-mtp", "usb-mtp"],
  ["ich9-ahci", "ich9-ahci"],
  ["virtio-blk-ccw", "virtio-ccw"],
  ["sclpconsole", "s390-sclp"],
  ["sclplmconsole", "sclplmconsole"],
  ["lsi53c895a", "lsi"],
  ["virtio-scsi-pci", "virtio-scsi-pci"],
  ["virtio-scsi-ccw", "virtio-scsi-pci"],
  ["virtio-scsi-device", "virtio-scsi-pci"],
  ["megasas", "megasas"],
  ["mptsas1068", "mptsas1068"],
  ["pvscsi", "pvscsi"],
  ["dc390", "dc390"],
  ["am53c974", "am53c974"],
  ["scsi-block", "scsi-block"],
  ["qxl", "qxl"],
  ["VGA", "VGA"],
  ["cirrus-vga", "cirrus-vga"],
  ["vmware-svga", "vmware-svga"],
  ["bochs-display", "bochs-display"],
  ["ramfb", "ramfb"],
  ["virtio-gpu-pci", "virtio-gpu"],
  ["virtio-gpu-device", "virtio-gpu"],
  ["virtio-gpu-ccw", "virtio-gpu-ccw"],
  ["virtio-vga", "virtio-vga"],
  ["virtio-gpu-gl-pci", "virtio-gpu-gl-pci"],
  ["virtio-vga-gl", "virtio-vga-gl"],
  ["vhost-user-gpu", "vhost-user-gpu"],
  ["vhost-user-vga", "vhost-user-vga"],
  ["virtio-rng-pci", "virtio-rng"],
  ["virtio-rng-ccw", "virtio-rng"],
  ["virtio-rng-device", "virtio-rng"],
  ["rng-random", "rng-random"],
  ["rng-egd", "rng-egd"],
  ["rng-builtin", "rng-builtin"],
  ["spapr-nvram", "nvram"],
  ["spapr-vty", "spapr-vty"],
  ["spapr-pci-host-bridge", "spapr-pci-host-bridge"],
  ["spapr-tpm-proxy", "spapr-tpm-proxy"],
  ["pci-bridge", "pci-bridge"],
  ["i82801b11-bridge", "dmi-to-pci-bridge"],
  ["pcie-root-port", "pcie-root-port"],
  ["pcie-pci-bridge", "pcie-pci-bridge"],
  ["ioh3420", "ioh3420"],
  ["x3130-upstream", "x3130-upstream"],
  ["xio3130-downstream", "xio3130-downstream"],
  ["pxb", "pxb"],
  ["pxb-pcie", "pxb-pcie"],
  ["gpex-pcihost", "gpex-pcihost"],
  ["vfio-pci", "vfio-pci"],
  ["vfio-ccw", "vfio-ccw"],
  ["vfio-ap", "vfio-ap"],
  ["zpci", "zpci"],
  ["virtio-mmio", "virtio-mmio"],
  ["ich9-intel-hda", "ich9-intel-hda"],
  ["pvpanic", "pvpanic"],
  ["pvpanic-pci", "pvpanic-pci"],
  ["pc-dimm", "pc-dimm"],
  ["nvdimm", "nvdimm"],
  ["virtio-pmem-pci", "virtio-pmem-pci"],
  ["virtio-mem-pci", "virtio-mem-pci"],
  ["pci-serial", "pci-serial"],
  ["isa-serial", "isa-serial"],
  ["pl011", "pl011"],
  ["rtl8139", "rtl8139"],
  ["e1000", "e1000"],
  ["virtio-net-pci", "virtio-net"],
  ["virtio-net-ccw", "virtio-net"],
  ["virtio-net-device", "virtio-net"],
  ["virtio-keyboard-device", "virtio-keyboard"],
  ["virtio-keyboard-pci", "virtio-keyboard"],
  ["virtio-mouse-device", "virtio-mouse"],
  ["virtio-mouse-pci", "virtio-mouse"],
  ["virtio-tablet-device", "virtio-tablet"],
  ["virtio-tablet-pci", "virtio-tablet"],
  ["virtio-input-host-device", "virtio-input-host"],
  ["virtio-input-host-pci", "virtio-input-host"],
  ["virtio-keyboard-ccw", "virtio-keyboard-ccw"],
  ["virtio-mouse-ccw", "virtio-mouse-ccw"],
  ["virtio-tablet-ccw", "virtio-tablet-ccw"],
  ["input-linux", "input-linux"],
  ["intel-iommu", "intel-iommu"],
  ["virtio-iommu-pci", "virtio-iommu-pci"],
  ["ivshmem-plain", "ivshmem-plain"],
  ["ivshmem-doorbell", "ivshmem-doorbell"],
  ["vhost-scsi", "vhost-scsi"],
  ["vhost-vsock-device", "vhost-vsock"],
  ["vhost-user-fs-device", "vhost-user-fs"],
  ["vhost-user-blk", "vhost-user-blk"],
  ["vmcoreinfo", "vmcoreinfo"],
  ["vmgenid", "vmgenid"],
  ["mch", "mch"],
  ["i8042", "i8042"],
  ["vmport", "machine-vmport-opt"],
  ["pr-manager-helper", "pr-manager-helper"],
  ["memory-backend-memfd", "memory-backend-memfd"],
  ["sev-guest", "sev-guest"],
  ["sev-snp-guest", "sev-snp-guest"],
  ["s390-pv-guest", "s390-pv-guest"],
  ["sgx-epc", "sgx-epc"],
  ["thread-context", "thread-context"],
  ["dbus-vmstate", "dbus-vmstate"],
  ["max-x86_64-cpu", "x86-max-cpu"],
  ["max-arm-cpu", "arm-max-cpu"],
  ["tcg-accel", "tcg"],
  ["tpm-spapr", "tpm-spapr"],
  ["virtio-crypto-pci", "virtio-crypto"],
  ["virtio-crypto-device", "virtio-crypto"],
  ["cryptodev-backend-lkcf", "cryptodev-backend-lkcf"],
  ["acpi-erst", "acpi-erst"],
  ["virtio-sound-pci", "virtio-sound"],
  ...[
    "virtio-blk-pci",
    "virtio-net-pci",
    "vhost-scsi-pci",
    "virtio-rng-pci",
    "virtio-9p-pci",
    "virtio-balloon-pci",
    "vhost-vsock-pci",
    "virtio-scsi-pci",
    "virtio-serial-pci",
  ].flatMap((t): [string, string][] => [
    [`${t}-transitional`, "virtio-pci-non-transitional"],
    [`${t}-non-transitional`, "virtio-pci-non-transitional"],
  ]),
  // tvirt (retired in libvirt): backends the command line uses for every guest.
  ["memory-backend-ram", "memory-backend-ram"],
  ["memory-backend-file", "memory-backend-file"],
  ["iothread", "iothread"],
  ["secret", "secret"],
  ["tls-creds-x509", "tls-creds-x509"],
];

export interface PropRule {
  /** Property name as QEMU reports it. */
  readonly prop: string;
  readonly flag: string;
}

export interface DevicePropRules {
  /** Device type given to `device-list-properties`. */
  readonly type: string;
  /** Only asked when this flag is already set (the device exists). */
  readonly when?: string;
  readonly props: readonly PropRule[];
}

const virtioBlkProps: readonly PropRule[] = [
  { prop: "scsi", flag: "virtio-blk-pci.scsi" },
  { prop: "queue-size", flag: "virtio-blk.queue-size" },
  { prop: "acpi-index", flag: "acpi-index" },
  { prop: "iothread-vq-mapping", flag: "virtio-blk.iothread-mapping" },
];
const virtioNetProps: readonly PropRule[] = [
  { prop: "acpi-index", flag: "acpi-index" },
  { prop: "rss", flag: "virtio-net.rss" },
];
const virtioScsiProps: readonly PropRule[] = [
  { prop: "acpi-index", flag: "acpi-index" },
  { prop: "iothread-vq-mapping", flag: "virtio-scsi.iothread-mapping" },
];
const virtioGpuProps: readonly PropRule[] = [
  { prop: "virgl", flag: "virtio-gpu.virgl" },
  { prop: "acpi-index", flag: "acpi-index" },
  { prop: "blob", flag: "virtio-gpu.blob" },
];
const virtioBalloonProps: readonly PropRule[] = [
  { prop: "deflate-on-oom", flag: "virtio-balloon-pci.deflate-on-oom" },
  { prop: "free-page-reporting", flag: "virtio-balloon.free-page-reporting" },
  { prop: "acpi-index", flag: "acpi-index" },
];

/** `device-list-properties` questions, in the order they are asked. */
export const DEVICE_PROP_RULES: readonly DevicePropRules[] = [
  { type: "virtio-blk-pci", props: virtioBlkProps },
  { type: "virtio-net-pci", when: "virtio-net", props: virtioNetProps },
  { type: "virtio-scsi-pci", when: "virtio-scsi-pci", props: virtioScsiProps },
  { type: "virtio-blk-ccw", when: "virtio-ccw", props: virtioBlkProps },
  { type: "virtio-net-ccw", when: "virtio-net", props: virtioNetProps },
  { type: "virtio-scsi-ccw", when: "virtio-scsi-pci", props: virtioScsiProps },
  { type: "vfio-pci", when: "vfio-pci", props: [] },
  {
    type: "scsi-hd",
    props: [
      { prop: "channel", flag: "scsi-disk.channel" },
      { prop: "rotation_rate", flag: "rotation-rate" },
    ],
  },
  { type: "ide-hd", props: [] },
  { type: "PIIX4_PM", props: [{ prop: "acpi-root-pci-hotplug", flag: "piix4.acpi-root-pci-hotplug" }] },
  { type: "usb-redir", when: "usb-redir", props: [{ prop: "filter", flag: "usb-redir.filter" }] },
  { type: "usb-storage", when: "usb-storage", props: [] },
  { type: "kvm-pit", props: [{ prop: "lost_tick_policy", flag: "kvm-pit-lost-tick-policy" }] },
  { type: "VGA", when: "VGA", props: [{ prop: "vgamem_mb", flag: "VGA.vgamem_mb" }] },
  { type: "vmware-svga", when: "vmware-svga", props: [{ prop: "vgamem_mb", flag: "vmware-svga.vgamem_mb" }] },
  {
    type: "qxl",
    when: "qxl",
    props: [
      { prop: "vgamem_mb", flag: "qxl.vgamem_mb" },
      { prop: "vram64_size_mb", flag: "qxl.vram64_size_mb" },
    ],
  },
  { type: "virtio-gpu-pci", when: "virtio-gpu", props: virtioGpuProps },
  { type: "virtio-gpu-device", when: "virtio-gpu", props: virtioGpuProps },
  { type: "ICH9-LPC", props: [] },
  { type: "virtio-balloon-pci", props: virtioBalloonProps },
  { type: "virtio-balloon-ccw", props: virtioBalloonProps },
  { type: "virtio-balloon-device", props: virtioBalloonProps },
  {
    type: "intel-iommu",
    when: "intel-iommu",
    props: [
      { prop: "intremap", flag: "intel-iommu.intremap" },
      { prop: "caching-mode", flag: "intel-iommu.caching-mode" },
      { prop: "eim", flag: "intel-iommu.eim" },
      { prop: "device-iotlb", flag: "intel-iommu.device-iotlb" },
      { prop: "aw-bits", flag: "intel-iommu.aw-bits" },
      { prop: "dma-translation", flag: "intel-iommu.dma-translation" },
    ],
  },
  {
    type: "spapr-pci-host-bridge",
    when: "spapr-pci-host-bridge",
    props: [{ prop: "numa_node", flag: "spapr-pci-host-bridge.numa_node" }],
  },
  { type: "virtio-gpu-ccw", when: "virtio-gpu-ccw", props: virtioGpuProps },
  { type: "mch", when: "mch", props: [{ prop: "extended-tseg-mbytes", flag: "mch.extended-tseg-mbytes" }] },
  { type: "nvdimm", when: "nvdimm", props: [{ prop: "unarmed", flag: "nvdimm.unarmed" }] },
  {
    type: "pcie-root-port",
    when: "pcie-root-port",
    props: [{ prop: "hotplug", flag: "pcie-root-port.hotplug" }],
  },
  {
    type: "usb-host",
    props: [
      { prop: "hostdevice", flag: "usb-host.hostdevice" },
      { prop: "guest-resets-all", flag: "usb-host.guest-resets-all" },
    ],
  },
  {
    type: "vhost-user-fs-device",
    when: "vhost-user-fs",
    props: [{ prop: "bootindex", flag: "vhost-user-fs.bootindex" }],
  },
  {
    type: "virtio-mem-pci",
    when: "virtio-mem-pci",
    props: [
      { prop: "prealloc", flag: "virtio-mem-pci.prealloc" },
      { prop: "dynamic-memslots", flag: "virtio-mem-pci.dynamic-memslots" },
    ],
  },
  {
    type: "virtio-iommu-pci",
    when: "virtio-iommu-pci",
    props: [{ prop: "boot-bypass", flag: "virtio-iommu.boot-bypass" }],
  },
];

export interface ObjectPropRules {
  /** QOM type given to `qom-list-properties`. */
  readonly type: string;
  readonly when?: string;
  readonly props: readonly PropRule[];
}

const maxCpuProps: readonly PropRule[] = [
  { prop: "unavailable-features", flag: "cpu-unavailable-features" },
  { prop: "kvm-no-adjvtime", flag: "cpu.kvm-no-adjvtime" },
  { prop: "migratable", flag: "cpu.migratable" },
];

/** `qom-list-properties` questions about backends and CPU types. */
export const OBJECT_PROP_RULES: readonly ObjectPropRules[] = [
  {
    type: "memory-backend-file",
    props: [
      { prop: "pmem", flag: "memory-backend-file.pmem" },
      {
        prop: "x-use-canonical-path-for-ramblock-id",
        flag: "memory-backend-file.x-use-canonical-path-for-ramblock-id",
      },
      { prop: "reserve", flag: "memory-backend-file.reserve" },
      { prop: "prealloc-threads", flag: "memory-backend-file.prealloc-threads" },
    ],
  },
  {
    type: "memory-backend-memfd",
    when: "memory-backend-memfd",
    props: [{ prop: "hugetlb", flag: "memory-backend-memfd.hugetlb" }],
  },
  { type: "max-x86_64-cpu", when: "x86-max-cpu", props: maxCpuProps },
  { type: "max-arm-cpu", when: "arm-max-cpu", props: maxCpuProps },
];

export interface MachinePropRules {
  /** QOM type of the machine class (`<machine>-machine`, or an abstract parent class). */
  readonly qomType: string;
  /** Asked only when this machine type exists (an alias or versioned name). */
  readonly whenMachine?: string;
  /** Asked only for these target architectures. */
  readonly arches?: readonly string[];
  readonly props: readonly PropRule[];
}

export const MACHINE_PROP_RULES: readonly MachinePropRules[] = [
  { qomType: "virt-machine", whenMachine: "virt", props: [{ prop: "iommu", flag: "machine.virt.iommu" }] },
  {
    qomType: "none-machine",
    props: [{ prop: "confidential-guest-support", flag: "confidential-guest-support" }],
  },
  {
    qomType: "generic-pc-machine",
    arches: ["x86_64", "i686"],
    props: [{ prop: "i8042", flag: "machine-i8042-opt" }],
  },
];

/**
 * `query-command-line-options` questions: an option (`param` undefined) or one of its
 * parameters. Only what is not described anywhere else is asked this way.
 */
export const COMMAND_LINE_FLAGS: readonly (readonly [
  option: string,
  param: string | undefined,
  flag: string,
])[] = [
  ["fsdev", "multidevs", "fsdev.multidevs"],
  ["machine", "hpet", "machine-hpet"],
  ["sandbox", undefined, "seccomp-sandbox"],
  ["spice", undefined, "spice"],
  ["spice", "gl", "spice-gl"],
  ["spice", "rendernode", "spice-rendernode"],
  ["vnc", "power-control", "vnc-power-control"],
  ["run-with", "async-teardown", "run-with.async-teardown"],
];

export const MIGRATION_CAPABILITY_FLAGS: readonly (readonly [capability: string, flag: string])[] = [
  ["rdma-pin-all", "migrate-rdma"],
];

export const TPM_MODEL_FLAGS: readonly (readonly [model: string, flag: string])[] = [
  ["tpm-tis", "tpm-tis"],
  ["tpm-crb", "tpm-crb"],
  ["tpm-spapr", "tpm-spapr"],
];

export const TPM_TYPE_FLAGS: readonly (readonly [type: string, flag: string])[] = [
  ["passthrough", "tpm-passthrough"],
  ["emulator", "tpm-emulator"],
];

/**
 * Flags libvirt 11 no longer records, because every QEMU it supports (>= 6.2) has them; tvirt
 * derives them when probing and adds them to libvirt's capability files it loads for a QEMU of
 * at least that version, so both kinds of capabilities answer the same questions the same way.
 */
export const IMPLIED_SINCE_QEMU_6_2: readonly string[] = [
  "blockdev",
  "blockdev-file-dynamic-auto-read-only",
  "blockdev-reopen",
  "blockdev-snapshot.allow-write-only-overlay",
  "block-export-add",
  "compat-deprecated",
  "device.json",
  "gpex-pcihost",
  "incremental-backup",
  "iothread",
  "memory-backend-file",
  "memory-backend-ram",
  "migration-param.block-bitmap-mapping",
  "nbd-bitmap",
  "object.qapified",
  "query-display-options",
  "query-named-block-nodes.flat",
  "secret",
  "tls-creds-x509",
];

/** Oldest QEMU tvirt drives (like libvirt 11): 6.2.0. */
export const MIN_QEMU_VERSION = 6_002_000;

function add(flags: Set<string>, flag: string): void {
  flags.add(flag);
}

/** Flags answered by the QMP schema (commands and path questions). */
export function schemaFlags(schema: QapiSchema, flags: Set<string>): void {
  for (const [cmd, flag] of COMMAND_FLAGS) if (schema.hasCommand(cmd)) add(flags, flag);
  for (const [path, flag] of SCHEMA_FLAGS) if (schema.query(path)) add(flags, flag);
}

/** Flags answered by the list of QOM types. */
export function objectTypeFlags(types: ReadonlySet<string>, flags: Set<string>): void {
  for (const [type, flag] of OBJECT_TYPE_FLAGS) if (types.has(type)) add(flags, flag);
}

/** Applies property rules to the property names a type reported. */
export function propFlags(rules: readonly PropRule[], props: ReadonlySet<string>, flags: Set<string>): void {
  for (const r of rules) if (props.has(r.prop)) add(flags, r.flag);
}

/** Flags answered by `query-command-line-options` (option → parameter names). */
export function commandLineFlags(
  options: ReadonlyMap<string, ReadonlySet<string>>,
  flags: Set<string>,
): void {
  for (const [option, param, flag] of COMMAND_LINE_FLAGS) {
    const params = options.get(option);
    if (!params) continue;
    if (param === undefined || params.has(param)) add(flags, flag);
  }
}

export function listFlags(
  table: readonly (readonly [string, string])[],
  values: readonly string[],
  flags: Set<string>,
): void {
  const have = new Set(values);
  for (const [value, flag] of table) if (have.has(value)) add(flags, flag);
}

/**
 * Flags that follow from other flags, applied after everything was asked (libvirt's
 * "process caps" step plus tvirt's rule for `blockdev`).
 */
export function processFlags(flags: Set<string>, arch: string): void {
  if (flags.has("cpu-unavailable-features")) flags.add("canonical-cpu-features");
  if (arch === "sparc" || arch === "m68k" || arch === "mips") flags.add("ncr53c90");
  if (flags.has("blockdev-reopen") && flags.has("migration-param.block-bitmap-mapping")) {
    flags.add("incremental-backup");
  }
  // -compat has no witness in query-command-line-options; libvirt ties it to object.qapified.
  if (flags.has("object.qapified")) flags.add("compat-deprecated");
  // tvirt: -blockdev is used when QEMU has the features libvirt required when it switched to it
  // (QEMU 4.2: dynamic auto-read-only of file nodes and flat query-named-block-nodes).
  if (flags.has("blockdev-file-dynamic-auto-read-only") && flags.has("query-named-block-nodes.flat")) {
    flags.add("blockdev");
  }
}
