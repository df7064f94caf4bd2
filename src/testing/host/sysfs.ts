/**
 * A fake sysfs tree for tests, laid out like the kernel's (devices under `devices/pci0000:00`,
 * links from `bus/pci/devices`, `class/net`, `class/block`, `kernel/iommu_groups/N/devices`,
 * `driver` and `iommu_group` links, `bus/pci/drivers/<drv>/{bind,unbind,new_id}`,
 * `bus/pci/drivers_probe`, `driver_override`), plus a small model of the kernel's answers to
 * writes (unbind removes the `driver` link, bind and `drivers_probe` create it, honouring
 * `driver_override`), and a record of every write in order.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { observeSysfsWrites } from "../../host/sysfs/sysfs.ts";

export interface FakePci {
  readonly addr: string;
  readonly vendor?: string;
  readonly device?: string;
  readonly class?: string;
  /** The driver bound now (also what `drivers_probe` binds without an override). */
  readonly driver?: string;
  /** IOMMU group number; none = no `iommu_group` link. */
  readonly group?: number;
  /** A network interface below the device. */
  readonly net?: { readonly name: string; readonly up: boolean; readonly mac?: string };
  /** A disk below the device; `holders` makes it in use. */
  readonly block?: { readonly name: string; readonly holders?: readonly string[] };
  /** Has a `reset` attribute. */
  readonly reset?: boolean;
  /** The kernel refuses to bind it to vfio-pci (a bind failure in the middle of a sequence). */
  readonly refusesVfio?: boolean;
}

export interface FakeUsb {
  readonly sysname: string;
  readonly bus: number;
  readonly device: number;
  readonly vendor: string;
  readonly product: string;
  readonly productName?: string;
}

export interface FakeSysfsOptions {
  readonly pci?: readonly FakePci[];
  readonly usb?: readonly FakeUsb[];
  /** Drivers present under `bus/pci/drivers` (default: every driver named plus vfio-pci). */
  readonly drivers?: readonly string[];
  /** Without `bus/pci/drivers_probe` (binding then goes through `drivers/<drv>/bind`). */
  readonly noDriversProbe?: boolean;
}

export interface FakeSysfs {
  readonly root: string;
  /** Every write, in order, as `path=value` with the path relative to the root. */
  readonly writes: string[];
  /** The driver a device is bound to now (undefined: none). */
  driverOf(addr: string): string | undefined;
  overrideOf(addr: string): string;
  dispose(): void;
}

export function makeFakeSysfs(opts: FakeSysfsOptions): FakeSysfs {
  const root = mkdtempSync(join(tmpdir(), "tvirt-fake-sysfs-"));
  const p = (rel: string): string => join(root, rel);
  const file = (rel: string, text = ""): void => {
    mkdirSync(join(p(rel), ".."), { recursive: true });
    writeFileSync(p(rel), text);
  };
  const link = (rel: string, target: string): void => {
    mkdirSync(join(p(rel), ".."), { recursive: true });
    symlinkSync(relative(join(p(rel), ".."), p(target)), p(rel));
  };
  const pcis = opts.pci ?? [];
  const native = new Map<string, string | undefined>();
  const drivers = new Set(opts.drivers ?? ["vfio-pci", ...pcis.flatMap((d) => (d.driver ? [d.driver] : []))]);
  for (const drv of drivers)
    for (const f of ["bind", "unbind", "new_id"]) file(`bus/pci/drivers/${drv}/${f}`);
  if (!opts.noDriversProbe) file("bus/pci/drivers_probe");
  const devDir = (addr: string): string => `devices/pci0000:00/${addr}`;
  for (const d of pcis) {
    const dir = devDir(d.addr);
    file(`${dir}/vendor`, `${d.vendor ?? "0x8086"}\n`);
    file(`${dir}/device`, `${d.device ?? "0x10d3"}\n`);
    file(`${dir}/class`, `${d.class ?? "0x020000"}\n`);
    file(`${dir}/driver_override`, "(null)\n");
    file(`${dir}/numa_node`, "-1\n");
    if (d.reset) file(`${dir}/reset`);
    link(`bus/pci/devices/${d.addr}`, dir);
    if (d.driver !== undefined) link(`${dir}/driver`, `bus/pci/drivers/${d.driver}`);
    native.set(d.addr, d.driver);
    if (d.group !== undefined) {
      mkdirSync(p(`kernel/iommu_groups/${d.group}/devices`), { recursive: true });
      link(`${dir}/iommu_group`, `kernel/iommu_groups/${d.group}`);
      link(`kernel/iommu_groups/${d.group}/devices/${d.addr}`, dir);
    }
    if (d.net) {
      const n = `${dir}/net/${d.net.name}`;
      file(`${n}/operstate`, d.net.up ? "up\n" : "down\n");
      file(`${n}/flags`, d.net.up ? "0x1003\n" : "0x1002\n");
      file(`${n}/address`, `${d.net.mac ?? "52:54:00:00:00:01"}\n`);
      link(`class/net/${d.net.name}`, n);
    }
    if (d.block) {
      const b = `${dir}/block/${d.block.name}`;
      file(`${b}/size`, "2048\n");
      mkdirSync(p(`${b}/holders`), { recursive: true });
      for (const h of d.block.holders ?? []) file(`${b}/holders/${h}`);
      link(`class/block/${d.block.name}`, b);
    }
  }
  for (const u of opts.usb ?? []) {
    const dir = `devices/pci0000:00/0000:00:1d.0/usb${u.bus}/${u.sysname}`;
    file(`${dir}/busnum`, `${u.bus}\n`);
    file(`${dir}/devnum`, `${u.device}\n`);
    file(`${dir}/idVendor`, `${u.vendor}\n`);
    file(`${dir}/idProduct`, `${u.product}\n`);
    if (u.productName !== undefined) file(`${dir}/product`, `${u.productName}\n`);
    link(`bus/usb/devices/${u.sysname}`, dir);
  }

  const writes: string[] = [];
  const driverLink = (addr: string): string => p(`${devDir(addr)}/driver`);
  const currentDriver = (addr: string): string | undefined => {
    try {
      return basename(readlinkSync(driverLink(addr)));
    } catch {
      return undefined;
    }
  };
  const refuses = new Set(pcis.filter((d) => d.refusesVfio === true).map((d) => d.addr));
  const bind = (addr: string, drv: string): void => {
    if (currentDriver(addr) !== undefined || !drivers.has(drv)) return;
    if (drv === "vfio-pci" && refuses.has(addr)) return;
    link(`${devDir(addr)}/driver`, `bus/pci/drivers/${drv}`);
  };
  const stop = observeSysfsWrites(root, (rel, value) => {
    writes.push(`${rel}=${value}`);
    const addr = value.trim();
    let m = /^bus\/pci\/drivers\/([^/]+)\/unbind$/.exec(rel);
    if (m) {
      if (currentDriver(addr) === m[1]) unlinkSync(driverLink(addr));
      return;
    }
    m = /^bus\/pci\/drivers\/([^/]+)\/bind$/.exec(rel);
    if (m) {
      bind(addr, m[1]!);
      return;
    }
    if (rel === "bus/pci/drivers_probe") {
      const ov = readFileSync(p(`${devDir(addr)}/driver_override`), "utf8").trim();
      const want = ov !== "" && ov !== "(null)" ? ov : native.get(addr);
      if (want !== undefined) bind(addr, want);
      return;
    }
    m = /^bus\/pci\/devices\/([^/]+)\/driver_override$/.exec(rel);
    if (m && value.trim() === "") writeFileSync(p(`${devDir(m[1]!)}/driver_override`), "(null)\n");
  });
  return {
    root,
    writes,
    driverOf: currentDriver,
    overrideOf: (addr) => readFileSync(p(`${devDir(addr)}/driver_override`), "utf8").trim(),
    dispose() {
      stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
