import assert from "node:assert/strict";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  DIR_SYNC_DELAY_MS,
  flushDirSyncs,
  fsyncDir,
  isAtomicTempName,
  pendingDirSyncs,
  removeFileDurable,
  setInlineSync,
  symlinkAtomic,
  tempName,
  writeFileAtomic,
} from "./atomic-file.ts";
import { isVirtError } from "./errors/index.ts";

const dir = mkdtempSync(join(tmpdir(), "tvirt-atomic-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("writeFileAtomic replaces the file whole and leaves no temp file", async () => {
  const p = join(dir, "a.xml");
  await writeFileAtomic(p, "one\n");
  await writeFileAtomic(p, "two\n");
  assert.equal(readFileSync(p, "utf8"), "two\n");
  assert.equal(statSync(p).mode & 0o777, 0o600);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith(".")),
    [],
  );
});

test("writeFileAtomic creates parents on request and fails with FILE_WRITE_FAILED otherwise", async () => {
  await writeFileAtomic(join(dir, "x", "y", "b.xml"), "b", { mkdirMode: 0o750 });
  assert.equal(readFileSync(join(dir, "x", "y", "b.xml"), "utf8"), "b");
  await assert.rejects(
    writeFileAtomic(join(dir, "missing", "c.xml"), "c"),
    (e: unknown) => isVirtError(e) && e.code === "FILE_WRITE_FAILED" && e.message.includes("missing/c.xml"),
  );
});

test("a failed write keeps the old file and leaves no temp file", async () => {
  const p = join(dir, "keep.xml");
  writeFileSync(p, "old");
  // A directory where the temp file's rename target is: rename fails.
  const target = join(dir, "isdir");
  await writeFileAtomic(join(target, "inner"), "x", { mkdirMode: 0o755 });
  await assert.rejects(writeFileAtomic(target, "new"));
  assert.equal(readFileSync(p, "utf8"), "old");
  assert.deepEqual(readdirSync(dir).filter(isAtomicTempName), []);
});

test("a temp name left by a crashed process with this pid is skipped, not removed", async () => {
  const sub = join(dir, "leftovers");
  await writeFileAtomic(join(sub, "d.xml"), "0", { mkdirMode: 0o700 });
  // The next names this process would use for d.xml and for link.xml.
  const seen = tempName(join(sub, "d.xml"));
  const serial = Number.parseInt(seen.slice(-8), 16);
  const names = [1, 2, 3].map((k) =>
    seen.replace(/[0-9a-f]{8}$/, (serial + k).toString(16).padStart(8, "0")),
  );
  for (const n of names) writeFileSync(n, "a leftover");
  await writeFileAtomic(join(sub, "d.xml"), "1");
  assert.equal(readFileSync(join(sub, "d.xml"), "utf8"), "1");
  for (const n of names) assert.equal(readFileSync(n, "utf8"), "a leftover");
  const linkNames = [4, 5].map((k) =>
    join(sub, `.l.xml.tmp-${process.pid}-${(serial + k).toString(16).padStart(8, "0")}`),
  );
  for (const n of linkNames) writeFileSync(n, "a leftover");
  await symlinkAtomic("/etc/hosts", join(sub, "l.xml"));
  assert.equal(readlinkSync(join(sub, "l.xml")), "/etc/hosts");
  for (const n of linkNames) assert.equal(readFileSync(n, "utf8"), "a leftover");
  assert.ok([...names, ...linkNames].every((n) => isAtomicTempName(n.slice(sub.length + 1))));
});

test("with inline sync allowed, a write fsyncs on the calling thread and lands the same", async () => {
  const calls: boolean[] = [];
  const undo = setInlineSync(() => {
    calls.push(true);
    return true;
  });
  try {
    const p = join(dir, "inline.xml");
    await writeFileAtomic(p, "inline\n");
    assert.equal(readFileSync(p, "utf8"), "inline\n");
    assert.equal(calls.length, 1);
  } finally {
    undo();
  }
  // Undone: the policy is no longer asked.
  await writeFileAtomic(join(dir, "inline.xml"), "again\n");
  assert.equal(calls.length, 1);
  // An undo that comes after someone else's policy leaves that one in place.
  const first = setInlineSync(() => false);
  const later: boolean[] = [];
  const second = setInlineSync(() => {
    later.push(true);
    return false;
  });
  first();
  await writeFileAtomic(join(dir, "inline.xml"), "third\n");
  assert.equal(later.length, 1);
  second();
});

test("removeFileDurable and symlinkAtomic", async () => {
  const p = join(dir, "gone.xml");
  writeFileSync(p, "x");
  assert.equal(await removeFileDurable(p), true);
  assert.equal(await removeFileDurable(p), false);
  const link = join(dir, "link.xml");
  await symlinkAtomic("/etc/hostname", link);
  await symlinkAtomic("/etc/hosts", link);
  assert.equal(readlinkSync(link), "/etc/hosts");
  assert.ok(!existsSync(p));
  assert.equal(isAtomicTempName(".a.xml.tmp-123-deadbeef"), true);
  assert.equal(isAtomicTempName("a.xml"), false);
});

test("concurrent writes in one directory share directory fsyncs and all land", async () => {
  const sub = join(dir, "many");
  await writeFileAtomic(join(sub, "0.xml"), "0", { mkdirMode: 0o700 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => writeFileAtomic(join(sub, `${i}.xml`), `${i}`)));
  for (let i = 0; i < 50; i++) assert.equal(readFileSync(join(sub, `${i}.xml`), "utf8"), `${i}`);
  // A failing fsync is reported to the callers that waited for it, and the next call starts over.
  const gone = join(dir, "gone");
  const results = await Promise.allSettled([fsyncDir(gone), fsyncDir(gone), fsyncDir(gone)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["rejected", "rejected", "rejected"],
  );
  await fsyncDir(sub);
});

test("the directory's fsync follows within DIR_SYNC_DELAY_MS, one per directory, or at once on flush", async () => {
  await flushDirSyncs();
  const a = join(dir, "soon-a");
  const b = join(dir, "soon-b");
  await writeFileAtomic(join(a, "1.xml"), "1", { mkdirMode: 0o700 });
  await writeFileAtomic(join(a, "2.xml"), "2");
  await writeFileAtomic(join(b, "1.xml"), "1", { mkdirMode: 0o700 });
  await removeFileDurable(join(a, "2.xml"));
  // Done when the calls return: the files are there; the directories' fsyncs are to come.
  assert.equal(readFileSync(join(a, "1.xml"), "utf8"), "1");
  assert.deepEqual(pendingDirSyncs().sort(), [a, b]);
  await new Promise((r) => setTimeout(r, DIR_SYNC_DELAY_MS * 3));
  assert.deepEqual(pendingDirSyncs(), []);
  await symlinkAtomic("/etc/hostname", join(b, "link.xml"));
  assert.deepEqual(pendingDirSyncs(), [b]);
  await flushDirSyncs();
  assert.deepEqual(pendingDirSyncs(), []);
});
