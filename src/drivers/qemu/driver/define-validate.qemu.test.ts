/**
 * VIR_DOMAIN_DEFINE_VALIDATE / VIR_DOMAIN_START_VALIDATE in the QEMU driver: the XML is checked
 * against libvirt's domain schema before it is parsed; a failure is libvirt's
 * VIR_ERR_XML_INVALID_SCHEMA and leaves nothing defined (no config file). Without the flag the
 * same XML is accepted (the unknown element is dropped). Probes the real QEMU's capabilities.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DomainCreateFlags, DomainDefineFlags } from "../../enums.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { driverPaths } from "../paths.ts";
import { makeTestRoot } from "../../../testing/qemu/driver.ts";

const xml = (name: string, extra = ""): string => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='KiB'>131072</memory>${extra}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
</domain>
`;

test("QEMU driver: define and create with the VALIDATE flag check the schema", async () => {
  const root = makeTestRoot("tvirt-validate-");
  const conn = await root.open();
  try {
    const config = (name: string): string =>
      join(driverPaths({ kind: "embed", root: root.root }).configDir, `${name}.xml`);
    const bad = xml("v1", "\n  <frobnicate/>");
    await assert.rejects(conn.domainDefineXMLFlags(bad, DomainDefineFlags.VALIDATE), (e) => {
      assert.ok(e instanceof VirtError);
      assert.equal(e.code, "SCHEMA_VALIDATION_FAILED");
      assert.equal(e.virCode, 92);
      assert.equal(
        e.message,
        "XML document failed to validate against schema: Unable to validate doc against /usr/share/libvirt/schemas/domain.rng\nElement domain has extra content: frobnicate\n",
      );
      assert.equal(e.details.xpath, "/domain/frobnicate");
      return true;
    });
    assert.equal(existsSync(config("v1")), false);
    await assert.rejects(conn.domainLookupByName("v1"));
    await assert.rejects(
      conn.domainCreateXML(bad, DomainCreateFlags.START_VALIDATE),
      (e) => e instanceof VirtError && e.code === "SCHEMA_VALIDATION_FAILED",
    );
    // Valid XML with the flag, and the invalid one without it, are both defined.
    const ok = await conn.domainDefineXMLFlags(xml("v2"), DomainDefineFlags.VALIDATE);
    assert.equal(ok.name, "v2");
    assert.ok(existsSync(config("v2")));
    const loose = await conn.domainDefineXMLFlags(bad, 0);
    assert.equal(loose.name, "v1");
  } finally {
    await conn.connectClose();
    await root.cleanup();
  }
});
