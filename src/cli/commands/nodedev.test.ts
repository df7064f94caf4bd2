/**
 * tvirsh's nodedev commands through an embedded QEMU driver whose sysfs root is a fake tree:
 * nodedev-list (flat, --cap, --tree as vshTreePrint draws it, --json), nodedev-dumpxml,
 * nodedev-detach / nodedev-reattach, and virsh's error lines.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openQemuConnection } from "../../drivers/qemu/driver/index.ts";
import { TEST_DRIVER_OPTIONS } from "../../testing/qemu/driver.ts";
import { makeFakeSysfs, type FakeSysfs } from "../../testing/host/sysfs.ts";
import { main } from "../main.ts";
import { commandSchemas, validate } from "../schemas.ts";
import { BufferIo } from "../output.ts";
import { treeLines } from "./nodedev.ts";

let fs: FakeSysfs;
before(() => {
  fs = makeFakeSysfs({
    pci: [
      {
        addr: "0000:00:19.0",
        driver: "e1000e",
        group: 6,
        net: { name: "eno1", up: true, mac: "aa:bb:cc:dd:ee:01" },
      },
      { addr: "0000:03:00.0", driver: "e1000e", group: 5 },
      { addr: "0000:03:00.1", group: 5 },
      { addr: "0000:07:00.0", driver: "nvme", group: 10, class: "0x010802", block: { name: "nvme0n1" } },
    ],
    usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678" }],
  });
});
after(() => {
  fs.dispose();
});

describe("tree", () => {
  test("tree drawing follows vshTreePrint", () => {
    const names = ["computer", "pci_a", "net_x", "pci_b"];
    const parents = [null, "computer", "pci_a", "computer"];
    assert.equal(
      treeLines(names, parents, 0),
      "computer\n  |\n  +- pci_a\n  |   |\n  |   +- net_x\n  |     \n  +- pci_b\n    \n",
    );
  });
});

describe("tvirsh nodedev commands", () => {
  test("list, tree, dumpxml, detach and reattach through the QEMU driver", async () => {
    const root = mkdtempSync(join(tmpdir(), "tvirt-nodedev-"));
    const drv = await openQemuConnection({ kind: "embed", root }, `qemu:///embed?root=${root}`, {
      ...TEST_DRIVER_OPTIONS,
      autostart: false,
      sysfsRoot: fs.root,
    });
    // tvirsh opens the same driver instance (one per root), so it sees the fake tree
    const uri = `qemu:///embed?root=${root}`;
    const run = async (line: string): Promise<{ stdout: string; stderr: string }> => {
      const io = new BufferIo();
      await main(["-c", uri, line], io, {});
      return { stdout: io.stdout, stderr: io.stderr };
    };
    try {
      const out = await run("nodedev-list --tree");
      assert.equal(
        out.stdout,
        [
          "computer",
          "  |",
          "  +- pci_0000_00_19_0",
          "  |   |",
          "  |   +- net_eno1_aa_bb_cc_dd_ee_01",
          "  |     ",
          "  +- pci_0000_03_00_0",
          "  +- pci_0000_03_00_1",
          "  +- pci_0000_07_00_0",
          "  |   |",
          "  |   +- block_nvme0n1",
          "  |     ",
          "  +- usb_1_2",
          "    ",
          "",
          "",
        ].join("\n"),
      );
      assert.equal(
        (await run("nodedev-list --cap usb_device,net")).stdout,
        "net_eno1_aa_bb_cc_dd_ee_01\nusb_1_2\n\n",
      );
      const bad = await run("nodedev-list --cap pci --tree");
      assert.match(bad.stderr, /error: Options --tree and --cap are incompatible/);
      assert.match((await run("nodedev-list --cap bogus")).stderr, /error: Invalid capability type/);
      const json = JSON.parse((await run("nodedev-list --tree --json")).stdout) as {
        tree: { name: string; children: { name: string }[] }[];
      };
      assert.deepEqual(validate(json, commandSchemas["nodedev-list"]!), []);
      for (const line of [
        "nodedev-list --json",
        "nodedev-list --cap pci --json",
        "nodedev-dumpxml usb_1_2 --json",
        "nodedev-dumpxml usb_1_2 --xpath //bus --json",
        "nodedev-detach pci_0000_03_00_0 --json",
        "nodedev-reattach pci_0000_03_00_0 --json",
      ]) {
        const doc: unknown = JSON.parse((await run(line)).stdout);
        assert.deepEqual(validate(doc, commandSchemas[line.split(" ")[0]!]!), [], line);
      }
      assert.equal(json.tree[0]!.name, "computer");
      assert.equal(json.tree[0]!.children.length, 5);
      const xml = await run("nodedev-dumpxml pci_0000_03_00_0");
      assert.match(xml.stdout, /^<device>\n {2}<name>pci_0000_03_00_0<\/name>[\s\S]*<\/device>\n\n$/);
      assert.equal(
        (await run("nodedev-detach pci_0000_03_00_0")).stdout,
        "Device pci_0000_03_00_0 detached\n\n",
      );
      assert.equal(fs.driverOf("0000:03:00.0"), "vfio-pci");
      assert.equal(
        (await run("nodedev-reattach pci_0000_03_00_0")).stdout,
        "Device pci_0000_03_00_0 re-attached\n\n",
      );
      assert.equal(fs.driverOf("0000:03:00.0"), "e1000e");
      const nf = await run("nodedev-dumpxml nosuch");
      assert.equal(
        nf.stderr,
        "error: Could not find matching device 'nosuch'\nerror: Node device not found: no node device with matching name 'nosuch'\n",
      );
    } finally {
      await drv.connectClose();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
