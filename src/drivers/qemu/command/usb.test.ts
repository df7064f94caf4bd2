import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDomainXML } from "../../../conf/domain/index.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { assignUsbAddresses } from "./usb.ts";

function guest(devices: string): string {
  return `<domain type='qemu'>
  <name>u</name>
  <memory unit='MiB'>256</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <controller type='usb' index='0' model='piix3-uhci'/>
${devices}  </devices>
</domain>
`;
}

const at = (port: string, bus = 0): string => `      <address type='usb' bus='${bus}' port='${port}'/>\n`;
const hub = (addr: string): string => `    <hub type='usb'>\n${addr}    </hub>\n`;
const mouse = (addr: string): string => `    <input type='mouse' bus='usb'>\n${addr}    </input>\n`;

function startError(devices: string): VirtError {
  const { def } = parseDomainXML(guest(devices));
  try {
    assignUsbAddresses(def);
  } catch (e) {
    assert.ok(e instanceof VirtError);
    return e;
  }
  assert.fail("expected the USB addresses to be refused");
}

test("USB addresses at start: libvirt's words for a taken port, a missing hub or port, a missing bus", () => {
  assert.equal(
    startError(hub(at("1")) + mouse(at("1"))).message,
    "XML error: Duplicate USB address bus 0 port 1",
  );
  assert.equal(
    startError(mouse(at("1.2.3"))).message,
    "XML error: there is no hub at port 1 in USB address bus: 0 port: 1.2.3",
  );
  assert.equal(
    startError(hub(at("1")) + hub(at("1.9"))).message,
    "XML error: requested USB port 1.9 not present on USB bus 0",
  );
  assert.equal(
    startError(mouse("      <address type='usb' bus='1'/>\n")).message,
    "XML error: USB bus 1 requested but no controller with that index is present",
  );
});

test("USB addresses at start: ports behind a hub are given and kept", () => {
  const { def } = parseDomainXML(guest(hub(at("1")) + mouse(at("1.3")) + mouse("")));
  assignUsbAddresses(def);
  const ports = def.devices.inputs
    .filter((i) => i.bus === "usb")
    .map((i) => (i.address?.type === "usb" ? i.address.port : ""));
  assert.equal(ports[0], "1.3");
  assert.match(ports[1] ?? "", /^[0-9.]+$/);
  assert.notEqual(ports[1], "1.3");
});
