/**
 * `<cpu mode='host-model'/>` on real QEMU under TCG: the driver resolves the host CPU QEMU
 * reports (`max`) into the closest named model plus features from the CPU map it probed, QEMU
 * accepts that `-cpu`, and the guest boots and runs; the live XML keeps mode='host-model'.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  ConsoleReader,
  guestXML,
  makeTestRoot,
  qemuProcessesOf,
  TEST_CAPS_CACHE,
} from "../../../testing/qemu/driver.ts";
import { getQemuCaps } from "../capabilities/cache.ts";
import { hostModelCpu } from "../capabilities/cpu-host-model.ts";
import { featureToQemu } from "../command/cpu.ts";

test("a TCG guest with <cpu mode='host-model'/> boots with the decoded model and features", async (t) => {
  const base = await guestXML(t, { name: "hm", mode: "counter" });
  if (base === undefined) return;
  const xml = base.replace("<devices>", "<cpu mode='host-model'/>\n  <devices>");
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainCreateXML(xml, 0);
    tr.track(conn);
    const con = await ConsoleReader.open(conn, dom);
    try {
      await con.waitFor(/COUNTER 1\b/, 60_000);
    } finally {
      await con.close();
    }
    const argv = qemuProcessesOf(tr.root)
      .map((p) => readFileSync(`/proc/${String(p)}/cmdline`, "utf8").split("\0"))
      .find((a) => a.some((x) => x.startsWith("guest=hm,")));
    assert.ok(argv, "hm's QEMU is running");
    const cpu = argv[argv.indexOf("-cpu") + 1] ?? "";

    // what the driver derived from the probed capabilities (the same cache the driver uses)
    const caps = await getQemuCaps(argv[0]!, { cacheDir: TEST_CAPS_CACHE });
    const hm = hostModelCpu(caps, "qemu", { migratable: true });
    assert.ok(hm, "the probed capabilities give a host-model CPU under TCG");
    const expected = [
      hm.model,
      ...hm.features.map((f) => `${featureToQemu(f.name)}=${f.policy === "require" ? "on" : "off"}`),
    ].join(",");
    assert.equal(cpu, expected);
    t.diagnostic(`-cpu ${cpu}`);
    assert.match(await conn.domainGetXMLDesc(dom, 0), /<cpu mode='host-model'/);
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
