/**
 * Node device XML as libvirt's `virNodeDeviceDefFormat` writes it: `<device>` with name, path,
 * devnode, parent, driver and one `<capability type=...>` element per kind.
 */
import { XmlWriter } from "../../conf/xml.ts";
import type { NodeDevice } from "./enumerate.ts";

const hx = (n: number, w: number): string => `0x${n.toString(16).padStart(w, "0")}`;

function idElem(w: XmlWriter, tag: string, v: { id: string; name?: string }): void {
  if (v.name !== undefined) w.text(tag, v.name, { id: v.id });
  else w.empty(tag, { id: v.id });
}

export function formatNodeDeviceXML(dev: NodeDevice): string {
  const w = new XmlWriter();
  w.elem("device", undefined, () => {
    w.text("name", dev.name);
    if (dev.path !== undefined) w.text("path", dev.path);
    if (dev.devnode !== undefined) w.text("devnode", dev.devnode, { type: "dev" });
    if (dev.parent !== undefined) w.text("parent", dev.parent);
    if (dev.driver !== undefined) w.elem("driver", undefined, () => w.text("name", dev.driver!));
    const c = dev.cap;
    w.elem("capability", { type: c.type }, () => {
      switch (c.type) {
        case "system":
          if (c.product !== undefined) w.text("product", c.product);
          w.elem("hardware", undefined, () => {
            if (c.hardware.vendor !== undefined) w.text("vendor", c.hardware.vendor);
            if (c.hardware.version !== undefined) w.text("version", c.hardware.version);
            if (c.hardware.serial !== undefined) w.text("serial", c.hardware.serial);
            if (c.hardware.uuid !== undefined) w.text("uuid", c.hardware.uuid);
          });
          w.elem("firmware", undefined, () => {
            if (c.firmware.vendor !== undefined) w.text("vendor", c.firmware.vendor);
            if (c.firmware.version !== undefined) w.text("version", c.firmware.version);
            if (c.firmware.releaseDate !== undefined) w.text("release_date", c.firmware.releaseDate);
          });
          break;
        case "pci":
          if (c.class !== undefined) w.text("class", c.class);
          w.text("domain", c.domain);
          w.text("bus", c.bus);
          w.text("slot", c.slot);
          w.text("function", c.function);
          idElem(w, "product", c.product);
          idElem(w, "vendor", c.vendor);
          if (c.iommuGroup) {
            w.elem("iommuGroup", { number: c.iommuGroup.number }, () => {
              for (const m of c.iommuGroup!.members) {
                const p = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(m);
                if (!p) continue;
                w.empty("address", {
                  domain: hx(parseInt(p[1]!, 16), 4),
                  bus: hx(parseInt(p[2]!, 16), 2),
                  slot: hx(parseInt(p[3]!, 16), 2),
                  function: `0x${parseInt(p[4]!, 16).toString(16)}`,
                });
              }
            });
          }
          if (c.numaNode !== undefined) w.empty("numa", { node: c.numaNode });
          break;
        case "usb_device":
          w.text("bus", c.bus);
          w.text("device", c.device);
          idElem(w, "product", c.product);
          idElem(w, "vendor", c.vendor);
          break;
        case "usb":
          w.text("number", c.number);
          w.text("class", c.class);
          w.text("subclass", c.subclass);
          w.text("protocol", c.protocol);
          if (c.description !== undefined) w.text("description", c.description);
          break;
        case "net":
          w.text("interface", c.interface);
          if (c.address !== undefined) w.text("address", c.address);
          if (c.linkState !== undefined)
            w.empty("link", { ...(c.speed !== undefined ? { speed: c.speed } : {}), state: c.linkState });
          w.empty("capability", { type: "80203" });
          break;
        case "storage":
          w.text("block", c.block);
          w.text("drive_type", c.driveType);
          if (c.serial !== undefined) w.text("serial", c.serial);
          if (c.size !== undefined) w.text("size", c.size);
          if (c.logicalBlockSize !== undefined) w.text("logical_block_size", c.logicalBlockSize);
          if (c.numBlocks !== undefined) w.text("num_blocks", c.numBlocks);
          break;
        case "scsi_host":
          w.text("host", c.host);
          if (c.uniqueId !== undefined) w.text("unique_id", c.uniqueId);
          break;
        case "scsi_target":
          w.text("target", c.target);
          break;
        case "scsi":
          w.text("host", c.host);
          w.text("bus", c.bus);
          w.text("target", c.target);
          w.text("lun", c.lun);
          if (c.scsiType !== undefined) w.text("type", c.scsiType);
          break;
      }
    });
  });
  return w.toString();
}
