/**
 * Hot-pluggable vCPUs enabled at start (libvirt's qemuProcessSetupHotpluggableVcpus) on a real
 * TCG guest through tvirsh on qemu:///embed: `-smp` has only the boot vCPU, the enabled
 * hotpluggable ones are `device_add`ed in their `order` before the guest runs (its kernel boots
 * with 3 CPUs online), vcpucount and dumpxml agree with QEMU's `query-cpus-fast`, setvcpus plugs
 * the last one, the migratable XML
 * keeps `<vcpus>`, and a restore (an incoming start) plugs them again; duplicate or too large
 * orders are refused at start as libvirt does.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { ConsoleReader, guestXML, makeTestRoot, qemuProcessesOf, until } from "../testing/qemu/driver.ts";

const VCPUS = [
  "  <vcpu placement='static' current='3'>4</vcpu>",
  "  <vcpus>",
  "    <vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>",
  "    <vcpu id='1' enabled='yes' hotpluggable='yes' order='3'/>",
  "    <vcpu id='2' enabled='yes' hotpluggable='yes' order='2'/>",
  "    <vcpu id='3' enabled='no' hotpluggable='yes'/>",
  "  </vcpus>",
].join("\n");

interface CpuFast {
  "cpu-index": number;
  "qom-path": string;
  "thread-id": number;
  props: Record<string, number>;
}

test(
  "enabled hotpluggable vCPUs are plugged at start and after a restore",
  { timeout: 120_000 },
  async (t) => {
    const base = await guestXML(t, { name: "hp", mode: "shell", memoryMiB: 96 });
    if (base === undefined) return;
    const tr = makeTestRoot("tvirt-vcpuhp-");
    const name = "hp";
    const xml = base.replace(/ {2}<vcpu placement='static'>1<\/vcpu>/, VCPUS);
    assert.ok(xml.includes("<vcpus>"), "the guest XML has the <vcpus> list");
    const xmlPath = join(tr.root, "dom.xml");
    writeFileSync(xmlPath, xml);

    const sh = async (...args: string[]): Promise<{ out: string; err: string; status: number }> => {
      const io = new BufferIo();
      const status = await main(["-c", tr.uri, ...args], io, {});
      return { out: io.stdout, err: io.stderr, status };
    };
    const ok = async (...args: string[]): Promise<string> => {
      const r = await sh(...args);
      assert.equal(r.status, 0, `tvirsh ${args.join(" ")}: ${r.err}`);
      return r.out;
    };
    const cpus = async (): Promise<CpuFast[]> =>
      (
        JSON.parse(await ok("qemu-monitor-command", name, '{"execute":"query-cpus-fast"}')) as {
          return: CpuFast[];
        }
      ).return;
    const argvOf = (): string[] => {
      const argv = qemuProcessesOf(tr.root)
        .map((p) => readFileSync(`/proc/${String(p)}/cmdline`, "utf8").split("\0"))
        .find((a) => a.some((x) => x.startsWith(`guest=${name},`)));
      assert.ok(argv, "the guest's QEMU runs");
      return argv;
    };

    const keep = await tr.open();
    try {
      // qemuProcessValidateHotpluggableVcpus: orders are unique and within the vCPU count
      const bad = (order: string): string => {
        const p = join(tr.root, `bad${order}.xml`);
        writeFileSync(
          p,
          xml
            .replace("<name>hp</name>", "<name>hpbad</name>")
            .replace(
              "id='1' enabled='yes' hotpluggable='yes' order='3'",
              `id='1' enabled='yes' hotpluggable='yes' order='${order}'`,
            ),
        );
        return p;
      };
      const dup = await sh("create", bad("2"));
      assert.equal(
        dup.err,
        `error: Failed to create domain from ${bad("2")}\nerror: unsupported configuration: duplicate vcpu order '2'\n`,
      );
      const range = await sh("create", bad("5"));
      assert.equal(
        range.err,
        `error: Failed to create domain from ${bad("5")}\nerror: unsupported configuration: vcpu order '5' exceeds vcpu count\n`,
      );
      assert.equal(qemuProcessesOf(tr.root).length, 0, "the failed starts left no QEMU");

      await ok("define", xmlPath);
      await ok("start", name);
      tr.track(keep);
      // what the guest kernel sees, typed into its shell on the serial console
      const guestCpus = async (what: "online" | "present"): Promise<string> => {
        const con = await ConsoleReader.open(keep, await keep.domainLookupByName(name));
        try {
          const from = con.text.length;
          con.write(`echo CPUS-$(cat /sys/devices/system/cpu/${what})-END\n`);
          return (await con.waitFor(/CPUS-([0-9,-]+)-END/, 30_000, from))[1] ?? "";
        } finally {
          await con.close();
        }
      };
      const boot = await ConsoleReader.open(keep, await keep.domainLookupByName(name));
      await boot.waitFor(/TVIRT-GUEST-READY mode=shell/, 90_000);
      await boot.close();
      // the guest booted with 3 CPUs: the plugged ones were there before it ran
      assert.equal(await guestCpus("online"), "0-2");

      // libvirt's argv: only vcpu 0 at boot
      const argv = argvOf();
      assert.equal(argv[argv.indexOf("-smp") + 1], "1,maxcpus=4,sockets=4,cores=1,threads=1");
      // QEMU has 3 CPUs: the boot one, and vcpu2 (order 2) plugged before vcpu1 (order 3)
      let list = await cpus();
      assert.equal(list.length, 3, JSON.stringify(list));
      const byPath = (p: string): CpuFast | undefined => list.find((c) => c["qom-path"] === p);
      assert.equal(byPath("/machine/peripheral/vcpu1")?.props["socket-id"], 1);
      assert.equal(byPath("/machine/peripheral/vcpu2")?.props["socket-id"], 2);
      assert.equal(byPath("/machine/peripheral/vcpu3"), undefined);
      // the plug order: each device_add makes the vCPU's thread, so vcpu2's is the older one
      const tid = (p: string): number => byPath(p)?.["thread-id"] ?? 0;
      assert.ok(
        tid("/machine/peripheral/vcpu2") < tid("/machine/peripheral/vcpu1"),
        `vcpu2 (order 2) was plugged before vcpu1 (order 3): ${JSON.stringify(list)}`,
      );

      assert.equal(
        await ok("vcpucount", name),
        "maximum      config         4\nmaximum      live           4\ncurrent      config         3\ncurrent      live           3\n\n",
      );
      const live = await ok("dumpxml", name);
      assert.match(live, /<vcpu placement='static' current='3'>4<\/vcpu>/);
      assert.match(
        live,
        /<vcpus>\n {4}<vcpu id='0' enabled='yes' hotpluggable='no' order='1'\/>\n {4}<vcpu id='1' enabled='yes' hotpluggable='yes' order='3'\/>\n {4}<vcpu id='2' enabled='yes' hotpluggable='yes' order='2'\/>\n {4}<vcpu id='3' enabled='no' hotpluggable='yes'\/>\n {2}<\/vcpus>/,
      );

      // setvcpus 4 plugs vcpu3, ordered after the others
      assert.equal(await ok("setvcpus", name, "4", "--live"), "\n");
      await until(async () => (await guestCpus("present")) === "0-3", 30_000, "the guest sees vcpu 3");
      list = await cpus();
      assert.equal(list.length, 4);
      assert.equal(
        list.find((c) => c["qom-path"] === "/machine/peripheral/vcpu3")?.props["socket-id"],
        3,
        JSON.stringify(list),
      );
      assert.equal(await ok("vcpucount", name, "--live"), "4\n\n");
      const after = await ok("dumpxml", name);
      assert.match(after, /<vcpu placement='static'>4<\/vcpu>/);
      assert.match(after, /<vcpu id='3' enabled='yes' hotpluggable='yes' order='4'\/>/);
      // the migratable XML keeps <vcpus>: a destination starts with vcpu 0 and plugs the rest
      const mig = await ok("dumpxml", name, "--migratable");
      assert.match(
        mig,
        /<vcpus>\n {4}<vcpu id='0' enabled='yes' hotpluggable='no' order='1'\/>\n {4}<vcpu id='1' enabled='yes' hotpluggable='yes' order='3'\/>\n {4}<vcpu id='2' enabled='yes' hotpluggable='yes' order='2'\/>\n {4}<vcpu id='3' enabled='yes' hotpluggable='yes' order='4'\/>\n {2}<\/vcpus>/,
      );
      // the persistent definition is untouched by a live change
      assert.match(
        await ok("dumpxml", name, "--inactive"),
        /<vcpu id='3' enabled='no' hotpluggable='yes'\/>/,
      );

      // save + restore: the restored QEMU (-incoming) gets the same 4 vCPUs before the state loads
      const saved = join(tr.root, "hp.save");
      await ok("save", name, saved);
      await ok("restore", saved);
      tr.track(keep);
      // the restored guest goes on with its 4 CPUs
      assert.equal(await guestCpus("present"), "0-3");
      const argv2 = argvOf();
      assert.equal(argv2[argv2.indexOf("-smp") + 1], "1,maxcpus=4,sockets=4,cores=1,threads=1");
      list = await cpus();
      assert.deepEqual(
        list.map((c) => c["qom-path"]).sort(),
        [
          "/machine/peripheral/vcpu1",
          "/machine/peripheral/vcpu2",
          "/machine/peripheral/vcpu3",
          "/machine/unattached/device[0]",
        ].sort(),
      );
      assert.equal(await ok("vcpucount", name, "--live"), "4\n\n");
      assert.match(await ok("domstate", name), /^running/);
    } finally {
      await keep.connectClose().catch(() => undefined);
      await tr.cleanup();
    }
  },
);
