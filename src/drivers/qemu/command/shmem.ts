/**
 * Shared memory (`<shmem>`: ivshmem-plain over a /dev/shm file, ivshmem-doorbell through an
 * ivshmem-server socket) and virtio-crypto devices (`<crypto>`).
 */
import { VirtError } from "../../../util/errors/index.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { buildChardev } from "./chardev.ts";
import { Props } from "./escape.ts";
import { virtioProps } from "./virtio.ts";

export function buildShmems(b: Build): void {
  for (const sh of b.def.devices.shmems ?? []) {
    const alias = sh.alias ?? "";
    // QEMU's ivshmem devices are PCI devices only
    if (sh.address?.type !== "pci") throw new VirtError("QEMU_SHMEM_ADDRESS", {});
    const p = new Props();
    switch (sh.model ?? "ivshmem-plain") {
      case "ivshmem":
        // the legacy device left QEMU in 4.0
        throw new VirtError("QEMU_SHMEM_LEGACY", {});
      case "ivshmem-plain": {
        // the region is a file under /dev/shm named after the device, shared by every guest using it
        const memdev = `shmmem-${alias}`;
        b.addJson(
          "-object",
          new Props()
            .set("qom-type", "memory-backend-file")
            .set("id", memdev)
            .set("mem-path", `/dev/shm/${sh.name}`)
            .set("size", sh.size ?? 4 * 1024 * 1024)
            .set("share", true),
        );
        p.set("driver", "ivshmem-plain").set("id", alias).set("memdev", memdev);
        if (sh.role !== undefined) p.set("master", sh.role === "master" ? "on" : "off");
        break;
      }
      case "ivshmem-doorbell":
        p.set("driver", "ivshmem-doorbell")
          .set("id", alias)
          .set("chardev", `char${alias}`)
          .pos("vectors", sh.msi?.vectors)
          .opt("ioeventfd", sh.msi?.ioeventfd);
        break;
    }
    addAddressProps(b, p, sh, `shmem ${alias}`);
    b.addJson("-device", p);
    if (sh.server) {
      // without a path, libvirt's default socket of an ivshmem-server named after the device
      const path = sh.server.path ?? `/var/lib/libvirt/shmem-${sh.name}-sock`;
      buildChardev(b, { type: "unix", source: { path, mode: "connect" }, plainSocket: true }, `char${alias}`);
    }
  }
}

export function buildCryptos(b: Build): void {
  for (const c of b.def.devices.cryptos ?? []) {
    const alias = c.alias ?? "";
    const backend = `obj${alias}`;
    b.addJson(
      "-object",
      new Props()
        .set("qom-type", `cryptodev-backend-${c.backend.model}`)
        .set("id", backend)
        .pos("queues", c.backend.queues),
    );
    const p = virtioProps(b, "virtio-crypto", c.address, c.model, `crypto ${alias}`, true, c.virtio)
      .set("cryptodev", backend)
      .set("id", alias);
    addAddressProps(b, p, c, `crypto ${alias}`);
    b.addJson("-device", p);
  }
}
