import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { isVirtError } from "../../../util/errors/index.ts";
import { completeSaveImage, createSaveImage, readSaveImage, SAVE_HEADER_SIZE } from "./save-image.ts";

const dir = mkdtempSync(join(tmpdir(), "tvirt-saveimg-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test("an image is partial until completed, then reads back with its XML and stream offset", async () => {
  const path = join(dir, "vm.save");
  const xml = "<domain type='qemu'>\n  <name>vm</name>\n</domain>\n";
  const { fh, streamOffset } = await createSaveImage(path, xml, true);
  await fh.write(Buffer.from("QEVM-stream"), 0, 11, streamOffset);
  await assert.rejects(
    readSaveImage(path),
    (e: unknown) =>
      isVirtError(e) &&
      e.code === "QEMU_SAVE_IMAGE_INCOMPLETE" &&
      e.message === "operation failed: save image is incomplete",
  );
  await completeSaveImage(fh, streamOffset - SAVE_HEADER_SIZE, true);
  await fh.close();
  const img = await readSaveImage(path);
  assert.equal(img.xml, xml);
  assert.equal(img.header.wasRunning, true);
  assert.equal(img.streamOffset, streamOffset);
  assert.equal(readFileSync(path).subarray(streamOffset).toString(), "QEVM-stream");
  assert.equal(readFileSync(path).subarray(0, 16).toString("latin1"), "LibvirtQemudSave");
});

test("not an image, a missing file, a truncated header", async () => {
  const junk = join(dir, "junk");
  writeFileSync(junk, Buffer.alloc(200, 65));
  await assert.rejects(readSaveImage(junk), /is not a domain save image: image magic is incorrect/);
  await assert.rejects(
    readSaveImage(join(dir, "nope")),
    (e: unknown) =>
      isVirtError(e) && e.code === "QEMU_SAVE_IMAGE_OPEN" && /No such file or directory/.test(e.message),
  );
  const short = join(dir, "short");
  writeFileSync(short, "LibvirtQemudSave");
  await assert.rejects(readSaveImage(short), /failed to read qemu header/);
});
