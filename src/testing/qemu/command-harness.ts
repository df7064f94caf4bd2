/**
 * A context reproducing libvirt's test harness (tests/qemuxmlconftest.c) for golden tests
 * against libvirt's corpus: domain id -1, privileged paths under /var/lib/libvirt/qemu, faked
 * file descriptors (monitor and listening sockets 1729, ethernet tap 3, bridge/network tap 102,
 * vhost 44, chardev files 1750 and logs 1751, TPM device 1730 and cancel file 1731, vsock 6789), hugetlbfs mounts of 2 MiB (default) and 1 GiB, a host
 * with NUMA nodes 0-3, and `<interface type='network'>` resolved from the corpus' aux files.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseXml } from "../../conf/xml.ts";
import { parsePool } from "../../conf/storage/index.ts";
import type { DomainDef } from "../../conf/domain/types.ts";
import type { ResolvedVolume } from "../../drivers/qemu/driver/volumes.ts";
import { VirtError } from "../../util/errors/index.ts";
import type { QemuCaps } from "../../drivers/qemu/capabilities/types.ts";
import type { CommandContext, ResolvedNetwork } from "../../drivers/qemu/command/types.ts";
import { withInstalledCpuMap } from "./cpu-map.ts";

export interface HarnessOptions {
  caps: QemuCaps;
  /** The corpus folder (`libvirt-qemuxml`), for network and port XML under `aux/`. */
  corpusDir?: string;
  /** `-incoming` source (restore/migration cases). */
  incoming?: string;
}

function resolveFromCorpus(corpusDir: string | undefined, name: string): ResolvedNetwork | undefined {
  if (!corpusDir) return undefined;
  const [network, port] = name.split(";");
  if (network === undefined || port === undefined) return undefined;
  const netFile = join(corpusDir, "aux", "networkxml2xmlin", `${network}.xml`);
  const portFile = join(corpusDir, "aux", "virnetworkportxml2xmldata", `${port}.xml`);
  if (!existsSync(netFile) || !existsSync(portFile)) return undefined;
  const portXml = parseXml(readFileSync(portFile, "utf8"), portFile);
  const plug = portXml.child("plug");
  const type = plug?.attr("type");
  switch (type) {
    case "bridge":
    case "network":
      return { type: "bridge", bridge: plug?.attr("bridge") };
    case "direct":
      return { type: "direct" };
    case "hostdev-pci": {
      const a = plug?.child("address");
      const num = (k: string): number => parseInt(a?.attr(k) ?? "0", 16);
      return {
        type: "hostdev",
        hostPci: { domain: num("domain"), bus: num("bus"), slot: num("slot"), function: num("function") },
      };
    }
    default: {
      const net = parseXml(readFileSync(netFile, "utf8"), netFile);
      const bridge = net.child("bridge")?.attr("name");
      return { type: "bridge", bridge };
    }
  }
}

/**
 * The first IP address of a network of the corpus (`networkxml2xmlin/NAME.xml`, NAME the part
 * before ';'), as libvirt's fake network driver serves it to a graphics listen.
 */
function networkAddressFromCorpus(corpusDir: string | undefined, name: string): string | undefined {
  if (!corpusDir) return undefined;
  const network = name.split(";")[0] ?? "";
  const file = [join(corpusDir, "aux", "networkxml2xmlin"), join(corpusDir, "networkxml2xmlin")]
    .map((d) => join(d, `${network}.xml`))
    .find((f) => existsSync(f));
  if (file === undefined) return undefined;
  return parseXml(readFileSync(file, "utf8"), file).child("ip")?.attr("address");
}

/**
 * libvirt's fake storage driver (qemuxmlconftest.c, fakeStorage*): the pool `inactive` exists but
 * is not active; any other pool is the file `aux/storagepoolxml2xmlout/<pool>.xml` of the corpus (its
 * type is the pool's type), and no file means no pool. A volume `TYPE+NAME` is a volume of that
 * type (`file`, `block`, `dir`) at `/some/TYPE/device/NAME`, a name without '+' a block device,
 * and `nonexistent` no volume. No format is probed: images are raw.
 */
export function fakeStorageVolume(
  corpusDir: string | undefined,
  pool: string,
  volume: string,
): ResolvedVolume {
  if (pool === "inactive") throw new VirtError("QEMU_VOLUME_POOL_INACTIVE", { pool, volume });
  const file =
    corpusDir === undefined ? undefined : join(corpusDir, "aux", "storagepoolxml2xmlout", `${pool}.xml`);
  if (file === undefined || pool.includes("/") || !existsSync(file))
    throw new VirtError("QEMU_VOLUME_NO_POOL", { pool });
  const { def: poolDef } = parsePool(readFileSync(file, "utf8"));
  const poolType = poolDef.type;
  const iscsi =
    poolType === "iscsi" && poolDef.source.devices[0] !== undefined
      ? {
          hosts: poolDef.source.hosts,
          target: poolDef.source.devices[0].path,
          ...(poolDef.source.initiatorIqn !== undefined ? { initiatorIqn: poolDef.source.initiatorIqn } : {}),
          ...(poolDef.source.auth !== undefined
            ? { auth: { username: poolDef.source.auth.username, secret: poolDef.source.auth.secret } }
            : {}),
        }
      : undefined;
  if (volume === "nonexistent") throw new VirtError("QEMU_VOLUME_NO_VOLUME", { pool, volume });
  const plus = volume.indexOf("+");
  const key = plus < 0 ? "block" : volume.slice(0, plus);
  const name = plus < 0 ? volume : volume.slice(plus + 1);
  if (key !== "file" && key !== "block" && key !== "dir")
    throw new Error(`fake storage: volume type '${key}' of '${volume}' is not one the harness serves`);
  return {
    path: `/some/${key}/device/${name}`,
    type: key,
    format: key === "dir" ? "dir" : "raw",
    poolType,
    ...(iscsi !== undefined ? { iscsi } : {}),
  };
}

export function corpusHarnessContext(def: DomainDef, options: HarnessOptions): CommandContext {
  const short = `-1-${def.name.slice(0, 20)}`;
  const lib = "/var/lib/libvirt/qemu";
  const domainDir = `${lib}/domain-${short}`;
  return {
    // libvirt's capability files lack the CPU map host-model needs: the installed QEMU's, once
    // loadInstalledCpuMap() has run
    caps: withInstalledCpuMap(options.caps),
    domainId: -1,
    paths: {
      domainDir,
      memoryDir: `${lib}/ram/${short}`,
      hugepageSubdir: `libvirt/qemu/${short}`,
      channelDir: `${lib}/channel/target/domain-${short}`,
      masterKeyFile: `${domainDir}/master-key.aes`,
    },
    monitor: { fd: 1729 },
    // libvirt's harness: a mocked random source counting up from 0 (key and IV) and one fake
    // secret value for every lookup
    masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
    secretIV: () => Uint8Array.from({ length: 16 }, (_, i) => i),
    secretValue: (ref, usageType) => {
      const usage = ref.usage;
      if (usage !== undefined) {
        const ok =
          usageType === "volume"
            ? usage.startsWith("/storage/guest_disks/")
            : usage === "mycluster_myname" || usage === "client.admin secret";
        if (!ok) throw new Error(`test provided incorrect usage '${usage}'`);
      }
      return Buffer.from("AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A");
    },
    hugetlbfs: [
      { sizeKiB: 2048, path: "/dev/hugepages2M", default: true },
      { sizeKiB: 1048576, path: "/dev/hugepages1G" },
    ],
    baseEnv: [
      ["LC_ALL", "C"],
      ["PATH", "/bin"],
      ["HOME", "/home/test"],
      ["USER", "test"],
      ["LOGNAME", "test"],
    ],
    privileged: true,
    // its mocks number a multiqueue tap's descriptors on from the first, and the vhost ones on
    // from 44
    interfaceFds: (_alias, type, isVirtio, queues) => {
      const from = (first: number): string[] => Array.from({ length: queues }, (_, i) => String(first + i));
      return { tap: from(type === "ethernet" ? 3 : 102), vhost: isVirtio ? from(44) : [] };
    },
    resolveNetwork: (name) => resolveFromCorpus(options.corpusDir, name),
    networkListenAddress: (name) => networkAddressFromCorpus(options.corpusDir, name),
    chardevListenFd: () => 1729,
    vhostUserGpuFd: () => 1729,
    // libvirt's per-domain dbus-daemon socket in the driver's state dir
    dbusDaemonAddress: `unix:path=/var/run/libvirt/qemu/dbus/${short}-dbus.sock`,
    // libvirt's harness passes a chardev's output file as descriptor 1750, its log as 1751
    chardevFileFd: (_alias, purpose) => (purpose === "source" ? 1750 : 1751),
    isHostCdrom: (path) => path === "/dev/cdrom",
    // testutilsqemu's nbd_tls_x509_cert_dir
    nbdTLS: { enabled: false, x509certdir: "/etc/pki/libvirt-nbd" },
    hostNumaNodes: [0, 1, 2, 3],
    // qemuxmlconftest.c fakes the numad advice for placement='auto' as host nodes 0-3
    autoNodeset: [0, 1, 2, 3],
    // linux-basic: 16 CPUs, four per node
    hostCpuNode: (cpu) => (cpu >= 0 && cpu < 16 ? Math.floor(cpu / 4) : undefined),
    allocatePort: (kind) =>
      kind === "vnc" ? 5900 : kind === "websocket" ? 5700 : kind === "spice" ? 5901 : 5902,
    graphics: { vncListen: "127.0.0.1", spiceListen: "127.0.0.1", spicePassword: true },
    chardevTLS: { enabled: false, x509certdir: "/etc/pki/libvirt-chardev" },
    // libvirt's harness mocks the host's DRM render node
    drmRenderNode: "/dev/dri/foo",
    // qemuxmlconftest.c points every emulator TPM at /dev/test and its mock opens a passthrough
    // TPM's device and cancel file as descriptors 1730 and 1731
    tpmEmulatorSocket: () => "/dev/test",
    tpmPassthrough: () => ({ fds: { tpm: 1730, cancel: 1731 } }),
    // ... and gives vsock the descriptor 6789 and an automatic CID of 42
    vsockFd: 6789,
    // its mock opens /dev/vhost-scsi as descriptor 3
    vhostScsiFd: () => 3,
    // ... and connects to a vDPA device as descriptor 1732
    vdpaNetFd: () => 1732,
    // ... and finds every SCSI host device at /dev/sg0
    scsiGenericDevice: () => "/dev/sg0",
    vsockAutoCid: 42,
    passtSocket: (alias) => `/var/run/libvirt/qemu/passt/${short}-${alias}.socket`,
    incoming: options.incoming,
    // libvirt's harness mocks time() as 1234567890 and runs in TZ VIR00:30 (UTC-0:30)
    now: 1234567890 * 1000,
    localOffsetFromUtc: -1800,
  };
}
