/**
 * Physical address bits on real QEMU: `<maxphysaddr mode='emulate' bits='42'/>` reads back as
 * the vCPU's `phys-bits` over QMP; bits QEMU would refuse are refused before it starts, naming
 * the range; Ubuntu's `-hpb` machine names run as their upstream machine with host-phys-bits.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { VirtError } from "../../../util/errors/index.ts";
import { guestXML, makeTestRoot, qemuProcessesOf } from "../../../testing/qemu/driver.ts";
import type { QemuConnection } from "./connection.ts";

async function qom(conn: QemuConnection, name: string, property: string): Promise<unknown> {
  const dom = await conn.domainLookupByName(name);
  const cpus = JSON.parse(await conn.domainQemuMonitorCommand(dom, '{"execute":"query-cpus-fast"}', 0)) as {
    return: { "qom-path": string }[];
  };
  const path = cpus.return[0]?.["qom-path"];
  assert.ok(path, "QEMU lists the vCPU");
  const cmd = JSON.stringify({ execute: "qom-get", arguments: { path, property } });
  return (JSON.parse(await conn.domainQemuMonitorCommand(dom, cmd, 0)) as { return: unknown }).return;
}

test("maxphysaddr bits reach the vCPU, out-of-range bits are refused, -hpb machines run", async (t) => {
  const base = await guestXML(t, { name: "pb", mode: "idle" });
  if (base === undefined) return;
  const named = (name: string, cpu: string, machine = "pc"): string =>
    base
      .replace("<name>pb</name>", `<name>${name}</name>`)
      .replace("machine='pc'", `machine='${machine}'`)
      .replace("<devices>", `${cpu}\n  <devices>`);
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    await conn.domainCreateXML(named("pb42", "<cpu><maxphysaddr mode='emulate' bits='42'/></cpu>"), 0);
    tr.track(conn);
    assert.equal(await qom(conn, "pb42", "phys-bits"), 42);

    const before = qemuProcessesOf(tr.root).length;
    await assert.rejects(
      conn.domainCreateXML(named("pb60", "<cpu><maxphysaddr mode='emulate' bits='60'/></cpu>"), 0),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_PHYS_BITS_RANGE" &&
        e.message.includes("bits='60'") &&
        e.message.includes("32 to 52"),
    );
    assert.equal(qemuProcessesOf(tr.root).length, before, "no QEMU was started for pb60");
    // The definition itself is valid (as for libvirt): only starting it is refused.
    const dom = await conn.domainDefineXML(
      named("pb60", "<cpu><maxphysaddr mode='emulate' bits='60'/></cpu>"),
    );
    await assert.rejects(
      conn.domainCreate(dom),
      (e: unknown) => e instanceof VirtError && e.code === "QEMU_PHYS_BITS_RANGE",
    );
    await conn.domainUndefine(dom);

    await conn.domainCreateXML(named("hpb", "", "pc-i440fx-jammy-hpb"), 0);
    tr.track(conn);
    const hpb = await conn.domainLookupByName("hpb");
    assert.match(await conn.domainGetXMLDesc(hpb, 0), /machine='pc-i440fx-jammy-hpb'/);
    const pids = qemuProcessesOf(tr.root);
    const argv = pids
      .map((p) => readFileSync(`/proc/${String(p)}/cmdline`, "utf8").split("\0"))
      .find((a) => a.some((x) => x.startsWith("guest=hpb,")));
    assert.ok(argv, "hpb's QEMU is running");
    assert.match(argv[argv.indexOf("-machine") + 1] ?? "", /^pc-i440fx-6\.2,/);
    assert.match(argv[argv.indexOf("-cpu") + 1] ?? "", /host-phys-bits=on/);
    assert.equal(await qom(conn, "hpb", "host-phys-bits"), true);

    await assert.rejects(
      conn.domainCreateXML(named("nope", "", "pc-q35-questing-hpb"), 0),
      (e: unknown) =>
        e instanceof VirtError &&
        e.code === "QEMU_HPB_MACHINE_UNSUPPORTED" &&
        e.message.includes("'pc-q35-10.0' with host-phys-bits on"),
    );
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
