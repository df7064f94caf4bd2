/**
 * `<pstore backend='acpi-erst'>`: a shared file memory backend and the `acpi-erst` PCI device
 * that exposes it (libvirt's qemuBuildPstoreCommandLine).
 */
import type { Build } from "./build.ts";
import { addAddressProps } from "./address.ts";
import { Props } from "./escape.ts";

export function buildPstore(b: Build): void {
  const p = b.def.devices.pstore;
  if (!p) return;
  const alias = p.alias ?? "pstore0";
  const memdev = `mem${alias}`;
  b.addJson(
    "-object",
    new Props()
      .set("qom-type", "memory-backend-file")
      .set("id", memdev)
      .set("mem-path", p.path)
      .set("size", p.size * 1024)
      .set("share", true),
  );
  const dev = new Props().set("driver", "acpi-erst").set("id", alias).set("memdev", memdev);
  addAddressProps(b, dev, p, "pstore");
  b.addJson("-device", dev);
}
