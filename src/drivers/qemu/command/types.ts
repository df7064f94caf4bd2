/**
 * Inputs and output of the command-line builder. The builder is a pure function: everything it
 * needs from the host (file descriptors it will inherit, mounts, sockets, network lookups) comes
 * in through the context, so tests can reproduce libvirt's test harness and the driver can pass
 * what it really prepared.
 */
import type { CpuFeaturePolicy } from "../../../conf/domain/types.ts";
import type { Accel, QemuCaps } from "../capabilities/types.ts";

export interface QemuCommand {
  /** Environment of the QEMU process, in order. */
  env: [string, string][];
  emulator: string;
  args: string[];
}

/** A mounted hugetlbfs. */
export interface HugetlbfsMount {
  /** Page size in KiB (2048, 1048576). */
  readonly sizeKiB: number;
  /** Mount point, e.g. `/dev/hugepages2M`. */
  readonly path: string;
  /** The mount used for `<hugepages/>` without a size. */
  readonly default?: boolean;
}

/** File descriptors prepared for one tap-based interface (names as QEMU sees them). */
export interface InterfaceFds {
  readonly tap: readonly string[];
  readonly vhost: readonly string[];
}

/** What an `<interface type='network'>` resolves to once its network port is allocated. */
export interface ResolvedNetwork {
  /** Actual type: `bridge` (also for `network` plugs), `direct`, `hostdev`, `user`... */
  readonly type: "bridge" | "network" | "direct" | "hostdev" | "user" | "ethernet";
  readonly bridge?: string;
  /** hostdev: the PCI function (a VF) the network gave the interface */
  readonly hostPci?: { domain: number; bus: number; slot: number; function: number };
}

/** A host-model CPU resolved to a named model plus features (libvirt's expansion of the host CPU). */
export interface HostModelCpu {
  readonly model: string;
  readonly vendorId?: string;
  readonly features: readonly { readonly name: string; readonly policy?: CpuFeaturePolicy }[];
}

/** Per-domain paths (libvirt's priv->libDir and friends). */
export interface DomainPaths {
  /** Per-domain runtime dir, libvirt's `domain-<id>-<name>`; holds the master key, HOME, sockets. */
  readonly domainDir: string;
  /** File-backed guest memory dir for this domain (`<memoryBackingDir>/<id>-<shortname>`). */
  readonly memoryDir: string;
  /** Sub-path below a hugetlbfs mount for this domain (`libvirt/qemu/<id>-<shortname>`). */
  readonly hugepageSubdir: string;
  /** Directory for automatic unix channel sockets (`.../channel/target/domain-<id>-<name>`). */
  readonly channelDir: string;
  /** Master key file (`<domainDir>/master-key.aes`). */
  readonly masterKeyFile: string;
}

export interface CommandContext {
  readonly caps: QemuCaps;
  /**
   * The domain's master key (32 bytes, the content of `paths.masterKeyFile`): secrets on the
   * command line are encrypted with it. Absent: a disk that needs a secret is refused.
   */
  readonly masterKey?: Uint8Array;
  /** Initialisation vector for each secret (default: 16 random bytes; tests fix it). */
  readonly secretIV?: () => Uint8Array;
  /**
   * A secret's value by UUID or usage ID (`usageType`: `volume`, `iscsi`, `ceph`); throws the
   * secret driver's error when there is no such secret or it has no value.
   */
  readonly secretValue?: (ref: { uuid?: string; usage?: string }, usageType: string) => Uint8Array;
  /** Accelerator; defaults to the domain type (`kvm` → kvm, else tcg). */
  readonly accel?: Accel;
  /** Domain id (-1 in libvirt's tests). */
  readonly domainId: number;
  readonly paths: DomainPaths;
  /** QMP monitor: an inherited listening fd, or a socket path QEMU creates. */
  readonly monitor: { readonly fd: number } | { readonly path: string };
  /** Mounted hugetlbfs file systems; empty when none is mounted. */
  readonly hugetlbfs: readonly HugetlbfsMount[];
  /**
   * Environment passed through to QEMU, in libvirt's order (`LC_ALL`, `PATH`, `HOME`, `USER`,
   * `LOGNAME`...). For a privileged (system) instance HOME and XDG_* are pointed at the domain dir.
   */
  readonly baseEnv: readonly (readonly [string, string])[];
  /** System instance (root): HOME and XDG_DATA/CACHE/CONFIG_HOME go to the domain dir. */
  readonly privileged: boolean;
  /** Tap/vhost descriptors for a tap-based interface (bridge, network, ethernet, direct). */
  readonly interfaceFds?: (
    alias: string,
    actualType: string,
    isVirtio: boolean,
    /** tap queues wanted: one descriptor (and one vhost descriptor) each */
    queues: number,
  ) => InterfaceFds | undefined;
  /**
   * A tap QEMU opens by name (`ifname=`, `script=no,downscript=no`) instead of an inherited fd:
   * the driver's plugs of network and bridge interfaces (by alias); undefined = fds.
   */
  readonly interfaceTapName?: (alias: string) => string | undefined;
  /**
   * An interface QEMU puts on a bridge through qemu-bridge-helper (`-netdev bridge,br=,helper=`):
   * the unprivileged driver's bridge interfaces (by alias); undefined = a tap.
   */
  readonly interfaceBridgeHelper?: (alias: string) => { bridge: string; helper: string } | undefined;
  /** Resolves `<source network='...'/>`. */
  readonly resolveNetwork?: (network: string, portgroup?: string) => ResolvedNetwork | undefined;
  /**
   * The address a graphics `<listen type='network'>` binds to: the network's first IP address
   * (libvirt's networkGetNetworkAddress); undefined when unknown.
   */
  readonly networkListenAddress?: (network: string) => string | undefined;
  /**
   * The socket to the vhost-user GPU process started for a `<video>` with `<driver
   * name='vhostuser'>` (by device alias); undefined when none was started.
   */
  readonly vhostUserGpuFd?: (videoAlias: string) => number | undefined;
  /** The D-Bus address of the domain's own bus daemon, for dbus graphics without p2p/address. */
  readonly dbusDaemonAddress?: string;
  /** A listening unix socket libvirt opened for a chardev (fd passing), or undefined. */
  readonly chardevListenFd?: (charAlias: string, path: string) => number | undefined;
  /**
   * A file libvirt opened for a chardev (`purpose` source: the output file; log: the log file),
   * passed with `-add-fd`; undefined lets QEMU open the path itself.
   */
  readonly chardevFileFd?: (
    devAlias: string,
    purpose: "source" | "log",
    path: string,
  ) => number | string | undefined;
  /** Socket of the passt process for a `<backend type='passt'/>` interface (by alias). */
  readonly passtSocket?: (netAlias: string) => string;
  /**
   * Port for graphics with autoport whose definition carries none (`vnc`, `websocket`, `spice`,
   * `spice-tls`). The QEMU driver reserves ports before the build and writes them into the live
   * definition instead (`driver/graphics.ts`).
   */
  readonly allocatePort?: (kind: "vnc" | "websocket" | "spice" | "spice-tls") => number;
  /**
   * The host's DRM render node (`/dev/dri/renderD128`) for egl-headless and SPICE `gl` without
   * a `rendernode` of their own (libvirt's virHostGetDRMRenderNode at start).
   */
  readonly drmRenderNode?: string;
  /** qemu.conf graphics settings. */
  readonly graphics?: {
    readonly vncListen?: string;
    readonly spiceListen?: string;
    /** qemu.conf vnc_password / spice_password is set */
    readonly vncPassword?: boolean;
    readonly spicePassword?: boolean;
    /** qemu.conf spice_tls and spice_tls_x509_cert_dir */
    readonly spiceTLS?: boolean;
    readonly spiceTLSx509certdir?: string;
    /** qemu.conf spice_sasl and spice_sasl_dir (`SASL_CONF_PATH` of QEMU) */
    readonly spiceSASL?: boolean;
    readonly spiceSASLdir?: string;
    /** qemu.conf spice_auto_unix_socket: an address listen without address becomes a socket */
    readonly spiceAutoUnixSocket?: boolean;
    /** qemu.conf vnc_tls, vnc_tls_x509_cert_dir, vnc_tls_x509_verify, vnc_tls_x509_secret_uuid */
    readonly vncTLS?: boolean;
    readonly vncTLSx509certdir?: string;
    readonly vncTLSx509verify?: boolean;
    /** The secret holding the password of the server's private key (looked up as usage `tls`). */
    readonly vncTLSx509secretUUID?: string;
    /** qemu.conf vnc_auto_unix_socket: an address listen without address becomes a socket */
    readonly vncAutoUnixSocket?: boolean;
    /** qemu.conf vnc_sasl and vnc_sasl_dir */
    readonly vncSASL?: boolean;
    readonly vncSASLdir?: string;
  };
  /**
   * The unix socket of the swtpm the driver started for an emulator TPM (by device alias);
   * QEMU connects to it as a client.
   */
  readonly tpmEmulatorSocket?: (tpmAlias: string) => string | undefined;
  /**
   * A passthrough TPM: the host device and its cancel file as descriptors libvirt opened
   * (passed with `-add-fd`), or the cancel file's path for QEMU to open both itself.
   */
  readonly tpmPassthrough?: (
    tpmAlias: string,
    devicePath: string,
  ) => { fds: { tpm: number | string; cancel: number | string } } | { cancelPath: string } | undefined;
  /**
   * qemu.conf `chardev_tls` (TLS for TCP chardevs without `tls=` of their own),
   * `chardev_tls_x509_cert_dir` (default /etc/pki/qemu), `chardev_tls_x509_verify`,
   * `chardev_tls_x509_secret_uuid`.
   */
  readonly chardevTLS?: {
    readonly enabled: boolean;
    readonly x509certdir?: string;
    readonly x509verify?: boolean;
    readonly secretUUID?: string;
  };
  /**
   * qemu.conf `nbd_tls` (TLS for nbd disks without `tls=` of their own), `nbd_tls_x509_cert_dir`
   * (default /etc/pki/qemu), `nbd_tls_x509_verify` (default on), `nbd_tls_x509_secret_uuid`.
   */
  readonly nbdTLS?: {
    readonly enabled: boolean;
    readonly x509certdir?: string;
    readonly x509verify?: boolean;
    readonly secretUUID?: string;
  };
  /**
   * qemu.conf `storage_use_nbdkit` with the plugins of the host's nbdkit (`curl`, `ssh`):
   * network disks of those protocols are served by an nbdkit process and QEMU connects to its
   * socket `<domainDir>/nbdkit-<node>.socket`.
   */
  readonly nbdkit?: { readonly plugins: readonly string[] };
  /** A user or group name's numeric id on the host (nfs `<identity>`); `+N` needs no lookup. */
  readonly hostIdOf?: (name: string, kind: "user" | "group") => number | undefined;
  /**
   * The host's SCSI generic device (`/dev/sg0`) of `<hostdev type='scsi'>`'s adapter
   * (`scsi_host0`) and bus:target:unit.
   */
  readonly scsiGenericDevice?: (
    adapter: string,
    bus: number,
    target: number,
    unit: number,
  ) => string | undefined;
  /** Descriptor of /dev/vhost-scsi opened for a `<hostdev type='scsi_host'>` (by alias, WWPN). */
  readonly vhostScsiFd?: (hostdevAlias: string, wwpn: string) => number | undefined;
  /** `<interface type='vdpa'>`: its vhost-vdpa character device opened for QEMU (by alias). */
  readonly vdpaNetFd?: (netAlias: string, device: string) => number | undefined;
  /** Descriptor of /dev/vhost-vsock opened for `<vsock>`. */
  readonly vsockFd?: number;
  /** The CID chosen at start for `<vsock><cid auto='yes'/>`. */
  readonly vsockAutoCid?: number;
  /** Current time (for `<clock offset='variable'>`), ms since the epoch. */
  readonly now?: number;
  /** The host's local time offset from UTC in seconds (`<clock basis='localtime'>`). */
  readonly localOffsetFromUtc?: number;
  /** Socket of the virtiofsd libvirt starts for a `<filesystem>` (by device alias). */
  readonly virtiofsSocket?: (fsAlias: string) => string;
  /** Whether a block device path is a host CD-ROM drive (`host_cdrom` driver). */
  readonly isHostCdrom?: (path: string) => boolean;
  /** `<cpu mode='host-model'>` resolved for this host and accelerator. */
  readonly hostModelCpu?: HostModelCpu;
  /** Host nodes chosen by numad for `placement='auto'` numatune. */
  readonly autoNodeset?: readonly number[];
  /** Host NUMA node of a host CPU (for emulator pinning); undefined when NUMA is not available. */
  readonly hostCpuNode?: (cpu: number) => number | undefined;
  /** Host NUMA nodes that exist (for `host-nodes` checks); undefined skips the check. */
  readonly hostNumaNodes?: readonly number[];
  /** `-incoming` URI for restore and incoming migration. */
  readonly incoming?: string;
  /** seccomp sandbox (qemu.conf `seccomp_sandbox`), default on. */
  readonly seccompSandbox?: boolean;
  /** `-msg timestamp=on` (qemu.conf `log_timestamp`), default on. */
  readonly logTimestamp?: boolean;
  /** qemu.conf `dump_guest_core`, default off. */
  readonly dumpGuestCore?: boolean;
  /** qemu.conf `set_process_name`, default off. */
  readonly setProcessName?: boolean;
  /**
   * The daemon's `PIPEWIRE_RUNTIME_DIR`, passed on to QEMU for a pipewire `<audio>` without a
   * `runtimeDir` of its own (libvirt passes it through from its environment).
   */
  readonly pipewireRuntimeDir?: string;
  /** Host system page size in KiB (4 on x86). */
  readonly systemPageSizeKiB?: number;
}
