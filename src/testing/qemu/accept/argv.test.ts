import assert from "node:assert/strict";
import { test } from "node:test";
import {
  deviceDrivers,
  foreignPaths,
  hugepageUse,
  pathsIn,
  rewriteOptionValues,
  splitKeyval,
} from "./argv.ts";
import { parseDeviceHelp } from "./host-facts.ts";

test("splitKeyval honours escaped commas", () => {
  assert.deepEqual(splitKeyval("socket,id=c0,path=/a,,b,server=on"), [
    "socket",
    "id=c0",
    "path=/a,b",
    "server=on",
  ]);
});

test("deviceDrivers reads JSON and keyval -device values", () => {
  const args = [
    "-device",
    '{"driver":"spapr-vscsi","id":"scsi3"}',
    "-device",
    "virtio-net-pci,netdev=n0",
    "-device",
    "driver=lsi,id=s0",
    "-m",
    "1G",
  ];
  assert.deepEqual(deviceDrivers(args), ["spapr-vscsi", "virtio-net-pci", "lsi"]);
});

test("hugepageUse sums backends per page size", () => {
  const mounts = [
    { sizeKiB: 2048, path: "/t/hp2M" },
    { sizeKiB: 1048576, path: "/t/hp1G" },
  ];
  const args = [
    "-object",
    '{"qom-type":"memory-backend-file","id":"ram-node0","mem-path":"/t/hp2M/sub","prealloc":true,"size":1073741824}',
    "-object",
    '{"qom-type":"memory-backend-file","id":"ram-node1","mem-path":"/t/hp1G/sub","size":2147483648}',
    "-object",
    '{"qom-type":"memory-backend-memfd","id":"m2","hugetlb":true,"hugetlbsize":2097152,"size":4194304}',
    "-object",
    '{"qom-type":"memory-backend-file","id":"plain","mem-path":"/t/ram/x","size":4096}',
    "-object",
    '{"qom-type":"memory-backend-ram","id":"pc.ram","size":4096}',
  ];
  assert.deepEqual(hugepageUse(args, mounts, 2048), [
    { sizeKiB: 2048, bytes: 1073741824 + 4194304, ids: ["ram-node0", "m2"] },
    { sizeKiB: 1048576, bytes: 2147483648, ids: ["ram-node1"] },
  ]);
});

test("pathsIn finds JSON, keyval, unix: and bare paths but not mount tags", () => {
  const args = [
    "-blockdev",
    '{"driver":"file","filename":"/var/lib/x.img","node-name":"n"}',
    "-device",
    '{"driver":"virtio-9p-pci","mount_tag":"/import/from/host","fsdev":"f0"}',
    "-chardev",
    "socket,id=c,path=/run/a.sock,server=on",
    "-vnc",
    "vnc=unix:/tmp/vnc.sock,audiodev=a",
    "-kernel",
    "/vmlinuz",
  ];
  assert.deepEqual(pathsIn(args), ["/var/lib/x.img", "/run/a.sock", "/tmp/vnc.sock", "/vmlinuz"]);
  assert.deepEqual(
    foreignPaths([...args, "-object", '{"qom-type":"rng-random","filename":"/dev/urandom"}'], ["/run"]),
    ["/var/lib/x.img", "/tmp/vnc.sock", "/vmlinuz"],
  );
});

test("rewriteOptionValues changes exact option values only", () => {
  const args = ["-incoming", "exec:cat", "-name", "exec:cat"];
  assert.equal(rewriteOptionValues(args, [{ option: "-incoming", from: "exec:cat", to: "defer" }]), 1);
  assert.deepEqual(args, ["-incoming", "defer", "-name", "exec:cat"]);
});

test("parseDeviceHelp keeps names and aliases", () => {
  const text =
    'Storage devices:\nname "lsi53c895a", bus PCI, alias "lsi"\nname "virtio-blk-pci", bus PCI, alias "virtio-blk"\nname "usb-host", bus usb-bus\n';
  assert.deepEqual([...parseDeviceHelp(text)].sort(), [
    "lsi",
    "lsi53c895a",
    "usb-host",
    "virtio-blk",
    "virtio-blk-pci",
  ]);
});
