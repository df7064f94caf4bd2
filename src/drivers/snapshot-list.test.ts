/** The snapshot list: tree rules, filters, delete re-parenting, and metadata across a reload. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotList } from "./snapshot-list.ts";
import { DomainSnapshotListFlags as L } from "./enums.ts";
import { formatSnapshotXML, parseSnapshotXML } from "../conf/snapshot/xml.ts";

const snap = (name: string, parent?: string): Parameters<SnapshotList["add"]>[0] => ({
  name,
  state: "running",
  creationTime: 1700000000,
  ...(parent !== undefined && { parent }),
  memory: { snapshot: "internal" },
  disks: [{ name: "vda", snapshot: "internal" }],
  domainXML: "<domain type='qemu'>\n  <name>vm</name>\n</domain>",
});

test("snapshot XML round-trips in libvirt's element order", () => {
  const xml = formatSnapshotXML(snap("s2", "s1"));
  assert.equal(
    xml,
    "<domainsnapshot>\n  <name>s2</name>\n  <state>running</state>\n  <parent>\n    <name>s1</name>\n  </parent>\n" +
      "  <creationTime>1700000000</creationTime>\n  <memory snapshot='internal'/>\n  <disks>\n" +
      "    <disk name='vda' snapshot='internal'/>\n  </disks>\n  <domain type='qemu'>\n    <name>vm</name>\n  </domain>\n" +
      "</domainsnapshot>\n",
  );
  assert.deepEqual(parseSnapshotXML(xml, { redefine: true }), snap("s2", "s1"));
  // a create request: only name, description, memory and disks count
  const req = parseSnapshotXML("<domainsnapshot><name>x</name><state>paused</state></domainsnapshot>");
  assert.deepEqual(req, { name: "x" });
  assert.throws(
    () => parseSnapshotXML("<domainsnapshot><memory snapshot='bogus'/></domainsnapshot>"),
    /bogus/,
  );
  assert.throws(() => parseSnapshotXML("<domain/>"), /expected root element <domainsnapshot>/);
});

test("tree, filters and deletion follow libvirt; metadata survives a reload", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-snap-"));
  try {
    const l = new SnapshotList(join(dir, "vm"));
    await l.add(snap("a"), true);
    await l.add(snap("b", "a"), true);
    await l.add(snap("c", "b"), true);
    await l.add(snap("d", "a"), true);
    assert.deepEqual(
      l.list(0).map((s) => s.name),
      ["a", "b", "c", "d"],
    );
    assert.deepEqual(
      l.list(L.LEAVES).map((s) => s.name),
      ["c", "d"],
    );
    assert.deepEqual(
      l.list(L.DESCENDANTS, "a").map((s) => s.name),
      ["b", "c", "d"],
    );
    assert.deepEqual(
      l.list(0, "a").map((s) => s.name),
      ["b", "d"],
    );
    assert.equal(l.current?.name, "d");
    assert.deepEqual(readdirSync(join(dir, "vm")).sort(), ["a.xml", "b.xml", "c.xml", "d.xml"]);
    assert.match(readFileSync(join(dir, "vm", "d.xml"), "utf8"), /<active>1<\/active>/);
    assert.doesNotMatch(readFileSync(join(dir, "vm", "a.xml"), "utf8"), /<active>/);

    // deleting b moves c up to a
    await l.remove(l.plannedDeletion("b", false, false));
    assert.equal(l.get("c").parent, "a");

    const again = new SnapshotList(join(dir, "vm"));
    await again.load();
    assert.deepEqual(
      again.list(L.TOPOLOGICAL).map((s) => [s.name, s.parent ?? null]),
      [
        ["a", null],
        ["c", "a"],
        ["d", "a"],
      ],
    );
    assert.equal(again.current?.name, "d");
    // deleting the current one makes its parent current
    await again.remove(again.plannedDeletion("d", false, false));
    assert.ok(again.isCurrent("a"));
    await again.remove(again.plannedDeletion("a", false, true));
    assert.deepEqual(
      again.list(0).map((s) => s.name),
      ["a"],
    );
    assert.throws(() => again.get("c"), /no domain snapshot with matching name 'c'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
