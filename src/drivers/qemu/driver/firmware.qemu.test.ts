/**
 * `<os firmware='efi'>` on real QEMU with the host's firmware descriptors (Debian's `ovmf`):
 * define fills in the chosen OVMF build and a variable store path under the driver's root,
 * start creates the store from the descriptor's template, and the tiny guest boots through
 * OVMF (the kernel's EFI stub speaks on the serial console before the kernel does). OVMF needs
 * more than the tiny guest's usual 128 MiB.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { firmwareDirs, firmwareMatches, loadFirmwareDescriptors } from "../firmware.ts";
import { ConsoleReader, guestXML, makeTestRoot } from "../../../testing/qemu/driver.ts";

/** The host's UEFI flash builds for i440fx, or undefined after skipping the test. */
function hostOvmf(t: { skip(msg: string): void }): string | undefined {
  const uefi = loadFirmwareDescriptors(firmwareDirs(false)).find(
    (d) =>
      d.interfaces.includes("uefi") &&
      d.device === "flash" &&
      !d.features.includes("requires-smm") &&
      firmwareMatches(d, "x86_64", "pc-i440fx-9.0"),
  );
  if (uefi?.executable !== undefined) return uefi.executable;
  const msg = "no UEFI firmware descriptor for x86_64 i440fx (apt-get install ovmf)";
  if (process.env.CI === "true") assert.fail(msg);
  t.skip(msg);
  return undefined;
}

test("firmware='efi': OVMF chosen from the descriptors, NVRAM made from its template, the guest boots", async (t) => {
  const code = hostOvmf(t);
  if (code === undefined) return;
  const base = await guestXML(t, { name: "efi", mode: "counter", memoryMiB: 256 });
  if (base === undefined) return;
  const tr = makeTestRoot();
  const conn = await tr.open();
  try {
    const dom = await conn.domainDefineXML(base.replace("<os>", "<os firmware='efi'>"));
    const xml = await conn.domainGetXMLDesc(dom, 0);
    const loader = /<loader readonly='yes' type='pflash' format='raw'>([^<]+)<\/loader>/.exec(xml);
    assert.ok(loader, `a read-only pflash loader is filled in:\n${xml}`);
    assert.ok(existsSync(loader[1]!), `the chosen code image ${loader[1]!} exists`);
    const nvram = /<nvram template='([^']+)' templateFormat='raw' format='raw'>([^<]+)<\/nvram>/.exec(xml);
    assert.ok(nvram, `an NVRAM store with its template is filled in:\n${xml}`);
    const store = nvram[2]!;
    assert.equal(store, join(tr.root, "lib", "qemu", "nvram", "efi_VARS.fd"));
    assert.match(xml, /<feature enabled='no' name='secure-boot'\/>/);
    assert.equal(existsSync(store), false, "no store before the first start");

    await conn.domainCreate(dom);
    tr.track(conn);
    assert.ok(existsSync(store), "start made the store");
    assert.equal(statSync(store).size, statSync(nvram[1]!).size, "the store is a copy of the template");
    const argv = readFileSync(`/proc/${String(tr.pidsOf("efi"))}/cmdline`, "utf8").split("\0");
    const machine = argv[argv.indexOf("-machine") + 1] ?? "";
    assert.match(machine, /pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-(format|storage)/);
    assert.ok(
      argv.some((a) => a.includes(`"filename":"${loader[1]!}"`)),
      "QEMU maps the chosen code image",
    );

    // the kernel's EFI stub (so OVMF loaded it), then the guest itself, on the serial console
    const con = await ConsoleReader.open(conn, dom);
    await con.waitFor(/EFI stub: /, 60_000);
    await con.waitFor(/COUNTER 1\b/, 30_000);
    await con.close();
    await conn.domainDestroy(dom);
    await conn.domainUndefine(dom).catch(async () => {
      // libvirt refuses to undefine a domain with NVRAM unless told what to do with it
      await conn.domainUndefineFlags(dom, 4 /* VIR_DOMAIN_UNDEFINE_NVRAM */);
    });
  } finally {
    await conn.connectClose();
    await tr.cleanup();
  }
});
