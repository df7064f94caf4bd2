/**
 * Shared file systems: 9p (`-fsdev` + virtio-9p) and virtiofs (vhost-user-fs on a chardev socket
 * served by virtiofsd).
 */
import type { FilesystemDef } from "../../../conf/domain/types.ts";
import { addAddressProps } from "./address.ts";
import type { Build } from "./build.ts";
import { fail, requireFlag } from "./build.ts";
import { escapeComma, Props } from "./escape.ts";
import { virtioProps } from "./virtio.ts";

function fsXpath(b: Build, fs: FilesystemDef): string {
  return `/domain/devices/filesystem[${b.def.devices.filesystems.indexOf(fs) + 1}]`;
}

function fsdevString(fs: FilesystemDef): string {
  const driver = fs.driver?.type;
  let s: string;
  if (driver === undefined || driver === "path") {
    s = "local";
    switch (fs.accessmode ?? "passthrough") {
      case "mapped":
        s += ",security_model=mapped";
        break;
      case "passthrough":
        s += ",security_model=passthrough";
        break;
      case "squash":
        s += ",security_model=none";
        break;
    }
    if (fs.multidevs !== undefined && fs.multidevs !== "default") s += `,multidevs=${fs.multidevs}`;
    if (fs.fmode !== undefined) s += `,fmode=${fs.fmode.toString(8).padStart(4, "0")}`;
    if (fs.dmode !== undefined) s += `,dmode=${fs.dmode.toString(8).padStart(4, "0")}`;
  } else {
    s = "handle";
  }
  if (fs.driver?.wrpolicy !== undefined) s += `,writeout=${fs.driver.wrpolicy}`;
  s += `,id=fsdev-${fs.alias ?? ""},path=${escapeComma(fs.source?.dir ?? "")}`;
  if (fs.readonly === true) s += ",readonly";
  return s;
}

export function virtiofsSocket(b: Build, fs: FilesystemDef): string {
  if (fs.source?.socket !== undefined) return fs.source.socket;
  const alias = fs.alias ?? "";
  return b.ctx.virtiofsSocket?.(alias) ?? `${b.ctx.paths.domainDir}/${alias}-fs.sock`;
}

/** The chardev a virtiofs device talks to virtiofsd through. */
export function virtiofsChardevId(fs: FilesystemDef): string {
  return `chr-vu-${fs.alias ?? ""}`;
}

/** `-device vhost-user-fs-…` of a virtiofs filesystem (also the QMP `device_add` of a hotplug). */
export function virtiofsDeviceProps(b: Build, fs: FilesystemDef): Props {
  const alias = fs.alias ?? "";
  const element = `filesystem ${alias}`;
  const p = virtioProps(b, "vhost-user-fs", fs.address, fs.model, element, true, fs.virtio)
    .set("id", alias)
    .set("chardev", virtiofsChardevId(fs))
    .pos("queue-size", fs.driver?.queue)
    .set("tag", fs.target.dir)
    .pos("bootindex", fs.boot?.order);
  addAddressProps(b, p, fs, element);
  return p;
}

export function buildFilesystems(b: Build): void {
  for (const fs of b.def.devices.filesystems) {
    const alias = fs.alias ?? "";
    const driver = fs.driver?.type;
    const element = `filesystem ${alias}`;
    if (fs.type !== "mount") {
      fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: `filesystem type '${fs.type}' (only 'mount')` },
        { xpath: fsXpath(b, fs) },
      );
    }
    if (driver === undefined || driver === "path" || driver === "handle") {
      b.add("-fsdev", fsdevString(fs));
      const p = virtioProps(b, "virtio-9p", fs.address, fs.model, element, true, fs.virtio)
        .set("id", alias)
        .set("fsdev", `fsdev-${alias}`)
        .set("mount_tag", fs.target.dir);
      addAddressProps(b, p, fs, element);
      b.addJson("-device", p);
    } else if (driver === "mtp") {
      // a USB MTP device exporting the directory (no fsdev behind it)
      requireFlag(b, "usb-mtp", element, fsXpath(b, fs));
      const p = new Props()
        .set("driver", "usb-mtp")
        .set("id", alias)
        .set("rootdir", fs.source?.dir ?? "")
        .set("desc", fs.target.dir)
        .set("readonly", fs.readonly === true);
      addAddressProps(b, p, fs, element);
      b.addJson("-device", p);
    } else if (driver === "virtiofs") {
      requireFlag(b, "vhost-user-fs", element, fsXpath(b, fs));
      b.add("-chardev", `socket,id=${virtiofsChardevId(fs)},path=${escapeComma(virtiofsSocket(b, fs))}`);
      b.addJson("-device", virtiofsDeviceProps(b, fs));
    } else {
      fail(
        "QEMU_CMD_UNSUPPORTED",
        { element, reason: `filesystem driver '${driver}' is not supported by QEMU` },
        { xpath: fsXpath(b, fs) },
      );
    }
  }
}
