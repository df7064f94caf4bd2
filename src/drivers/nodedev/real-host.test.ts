/**
 * Against the real host's /sys: this machine has no IOMMU and no USB bus, so every PCI and USB
 * hostdev and every node device action must fail with a clear error, and nothing under /sys may
 * change (driver links and driver_override of every PCI device compared before and after, and no
 * write reported through the sysfs layer at all). A device that the host would let go of (one
 * with an IOMMU group the host does not use) is never asked for, so the test is safe anywhere.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync, readdirSync } from "node:fs";
import { test } from "node:test";
import type { HostdevDef } from "../../conf/domain/types.ts";
import * as nodedev from "./ops.ts";
import { prepareHostdevs, resolveUsbHostdev } from "../qemu/driver/hostdev-prepare.ts";
import { isVirtError } from "../../util/errors/index.ts";
import { observeSysfsWrites, parsePciAddr, Sysfs } from "../../host/sysfs/sysfs.ts";
import { hostUseOf, readPciDevice } from "../../host/hostdev/pci.ts";

function snapshot(): string {
  const out: string[] = [];
  const base = "/sys/bus/pci/devices";
  for (const a of existsSync(base) ? readdirSync(base).sort() : []) {
    const read = (f: string): string => {
      try {
        return readFileSync(`${base}/${a}/${f}`, "utf8").trim();
      } catch {
        return "-";
      }
    };
    let drv = "-";
    try {
      drv = readlinkSync(`${base}/${a}/driver`);
    } catch {
      // unbound
    }
    out.push(`${a} driver=${drv} override=${read("driver_override")} enable=${read("enable")}`);
  }
  return out.join("\n");
}

test("the real host: clear errors, nothing changed", async () => {
  const sysfs = new Sysfs("/sys");
  const writes: string[] = [];
  const stop = observeSysfsWrites("/sys", (rel, v) => writes.push(`${rel}=${v}`));
  const before = snapshot();
  try {
    const addrs = sysfs.list("bus/pci/devices").filter((a) => parsePciAddr(a) !== undefined);
    assert.ok(addrs.length > 0, "this host lists PCI devices");
    let tried = 0;
    for (const addr of addrs) {
      const info = readPciDevice(sysfs, addr)!;
      // Never ask for a device the host would actually give up.
      if (info.iommuGroup !== undefined && hostUseOf(sysfs, info) === undefined) continue;
      tried++;
      const a = parsePciAddr(addr)!;
      const h: HostdevDef = { mode: "subsystem", type: "pci", managed: true, source: { pciAddress: a } };
      await assert.rejects(prepareHostdevs("/sys", "realhost", [h]), (e: unknown) => {
        assert.ok(isVirtError(e));
        assert.match(
          e.message,
          info.iommuGroup === undefined ? /no IOMMU group for PCI device / : /used by the host/,
        );
        assert.ok(e.message.includes(addr), e.message);
        return true;
      });
      const name = `pci_${addr.replace(/[:.]/g, "_")}`;
      const acts = [
        () => {
          nodedev.nodeDeviceDetach(sysfs, name, null, 0);
        },
      ];
      // re-attach and reset of an unused device would act: ask only for devices the host uses
      if (hostUseOf(sysfs, info) !== undefined)
        acts.push(
          () => {
            nodedev.nodeDeviceReAttach(sysfs, name);
          },
          () => {
            nodedev.nodeDeviceReset(sysfs, name);
          },
        );
      for (const act of acts) {
        assert.throws(act, (e: unknown) => isVirtError(e) && e.message.includes(addr));
      }
    }
    assert.ok(tried > 0, "at least one device was tried");

    if (!existsSync("/sys/bus/usb/devices")) {
      const usb: HostdevDef = { mode: "subsystem", type: "usb", source: { vendor: 0x1234, product: 0x5678 } };
      await assert.rejects(
        prepareHostdevs("/sys", "realhost", [usb]),
        /USB device 1234:5678 not found: this host has no USB bus/,
      );
      assert.throws(
        () => resolveUsbHostdev("/sys", { usbAddress: { bus: 1, device: 5 } }),
        /USB device bus 1 device 5 not found/,
      );
    }
  } finally {
    stop();
  }
  assert.deepEqual(writes, []);
  assert.equal(snapshot(), before);
});
