/**
 * Stock virsh 9.0 against tvirtd for node devices: the daemon serves `qemu:///session` with
 * `sysfs_root` (tvirtd.conf) pointing at a fake sysfs tree; `nodedev-list` (flat, `--cap`,
 * `--tree`), `nodedev-dumpxml`, `nodedev-detach` and the errors of a refused detach and an
 * unknown device must come out of stock virsh exactly as tvirsh prints them through the same
 * daemon, and match the tree and XML the test expects; python3-libvirt lists devices, parents and
 * capabilities, also through the pre-0.10 listing (listDevices, numOfDevices).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { makeFakeSysfs } from "../testing/host/sysfs.ts";
import {
  pythonLibvirtOrSkip,
  run,
  spawnDaemon,
  virshOrSkip,
  privateSession,
} from "../testing/rpc/harness.ts";

const tvirshBin = fileURLToPath(new URL("../../bin/tvirsh.js", import.meta.url));

test(
  "stock virsh nodedev-list --tree / nodedev-dumpxml against tvirtd on a fake sysfs",
  { timeout: 120_000 },
  async (t) => {
    const virsh = virshOrSkip(t);
    if (!virsh) return;
    const fs = makeFakeSysfs({
      pci: [
        {
          addr: "0000:00:19.0",
          driver: "e1000e",
          group: 6,
          net: { name: "eno1", up: true, mac: "aa:bb:cc:dd:ee:01" },
        },
        { addr: "0000:03:00.0", driver: "vfio-pci", group: 5, vendor: "0x8086", device: "0x10d3" },
        { addr: "0000:07:00.0", driver: "nvme", group: 10, class: "0x010802", block: { name: "nvme0n1" } },
      ],
      usb: [{ sysname: "1-2", bus: 1, device: 5, vendor: "1234", product: "5678", productName: "Gadget" }],
    });
    const dir = mkdtempSync(join(tmpdir(), "tvirt-nodedev-interop-"));
    const sock = join(dir, "sock");
    const conf = join(dir, "tvirtd.conf");
    writeFileSync(conf, `sysfs_root = "${fs.root}"\n`);
    const uri = `qemu+unix:///session?socket=${sock}`;
    const daemon = await spawnDaemon(
      ["--session", "--listen", sock, "--uri", "qemu:///session", "-f", conf],
      [sock],
      {
        env: privateSession(dir).env,
      },
    );
    const env = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
    try {
      const both = async (cmd: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
        const v = await run(virsh, ["-c", uri, cmd], { env, timeoutMs: 30_000 });
        const tv = await run(process.execPath, [tvirshBin, "-c", uri, cmd], { env, timeoutMs: 30_000 });
        assert.equal(tv.stdout, v.stdout, `stdout of '${cmd}'`);
        assert.equal(tv.stderr, v.stderr, `stderr of '${cmd}'`);
        assert.equal(tv.code, v.code, `status of '${cmd}'`);
        return v;
      };

      const tree = await both("nodedev-list --tree");
      assert.equal(tree.code, 0, tree.stderr);
      assert.equal(
        tree.stdout,
        [
          "computer",
          "  |",
          "  +- pci_0000_00_19_0",
          "  |   |",
          "  |   +- net_eno1_aa_bb_cc_dd_ee_01",
          "  |     ",
          "  +- pci_0000_03_00_0",
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
      const flat = await both("nodedev-list");
      assert.equal(
        flat.stdout,
        "block_nvme0n1\ncomputer\nnet_eno1_aa_bb_cc_dd_ee_01\npci_0000_00_19_0\npci_0000_03_00_0\npci_0000_07_00_0\nusb_1_2\n\n",
      );
      assert.equal(
        (await both("nodedev-list --cap pci,usb_device")).stdout,
        "pci_0000_00_19_0\npci_0000_03_00_0\npci_0000_07_00_0\nusb_1_2\n\n",
      );
      const xml = await both("nodedev-dumpxml pci_0000_03_00_0");
      assert.match(xml.stdout, /<name>pci_0000_03_00_0<\/name>/);
      assert.match(
        xml.stdout,
        /<iommuGroup number='5'>\n {6}<address domain='0x0000' bus='0x03' slot='0x00' function='0x0'\/>/,
      );
      assert.match(xml.stdout, /<driver>\n {4}<name>vfio-pci<\/name>/);
      assert.match((await both("nodedev-dumpxml usb_1_2")).stdout, /<product id='0x5678'>Gadget<\/product>/);
      // already on vfio-pci: nothing to write, virsh's message
      const det = await both("nodedev-detach pci_0000_03_00_0");
      assert.equal(det.stdout, "Device pci_0000_03_00_0 detached\n\n");
      assert.deepEqual(fs.writes, []);
      // refusals and unknown devices: same error lines from both
      const refused = await both("nodedev-detach pci_0000_00_19_0");
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /error: Failed to detach device pci_0000_00_19_0\nerror: .*used by the host.*'eno1'/,
      );
      const nf = await both("nodedev-dumpxml nosuch");
      assert.match(
        nf.stderr,
        /error: Could not find matching device 'nosuch'\nerror: Node device not found: no node device with matching name 'nosuch'/,
      );
      assert.equal(fs.driverOf("0000:00:19.0"), "e1000e");

      // python3-libvirt: list, parent, capabilities (NUM_OF_CAPS / LIST_CAPS / GET_PARENT)
      const py = pythonLibvirtOrSkip(t);
      if (py) {
        const script = [
          "import json, sys, libvirt",
          "c = libvirt.open(sys.argv[1])",
          "d = c.nodeDeviceLookupByName('net_eno1_aa_bb_cc_dd_ee_01')",
          "print(json.dumps({'all': sorted(x.name() for x in c.listAllDevices(0)),",
          "  'pci': sorted(x.name() for x in c.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)),",
          "  'parent': d.parent(), 'caps': d.listCaps(), 'num': d.numOfCaps(),",
          "  'root': c.nodeDeviceLookupByName('computer').parent(),",
          // the pre-0.10 listing (NODE_NUM_OF_DEVICES, NODE_LIST_DEVICES) virt-manager probes with
          "  'legacy': sorted(c.listDevices(None, 0)), 'legacyPci': sorted(c.listDevices('pci', 0)),",
          "  'legacyNet': c.numOfDevices('net', 0)}))",
        ].join("\n");
        const r = await run(py, ["-c", script, uri], { env, timeoutMs: 30_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), {
          all: [
            "block_nvme0n1",
            "computer",
            "net_eno1_aa_bb_cc_dd_ee_01",
            "pci_0000_00_19_0",
            "pci_0000_03_00_0",
            "pci_0000_07_00_0",
            "usb_1_2",
          ],
          pci: ["pci_0000_00_19_0", "pci_0000_03_00_0", "pci_0000_07_00_0"],
          parent: "pci_0000_00_19_0",
          caps: ["net"],
          num: 1,
          root: null,
          legacy: [
            "block_nvme0n1",
            "computer",
            "net_eno1_aa_bb_cc_dd_ee_01",
            "pci_0000_00_19_0",
            "pci_0000_03_00_0",
            "pci_0000_07_00_0",
            "usb_1_2",
          ],
          legacyPci: ["pci_0000_00_19_0", "pci_0000_03_00_0", "pci_0000_07_00_0"],
          legacyNet: 1,
        });
      }
    } finally {
      const code = await daemon.stop();
      assert.equal(code, 0, `tvirtd exit status; stderr: ${daemon.stderr()}`);
      rmSync(dir, { recursive: true, force: true });
      fs.dispose();
    }
  },
);
