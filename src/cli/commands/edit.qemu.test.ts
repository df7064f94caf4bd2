/**
 * `tvirsh edit` on a running QEMU guest (tiny TCG guest, embed URI): the report of what applies
 * at the next boot names the edited value only — none of the live XML's runtime parts (domain
 * id, device aliases, pty paths) shows up as a change — and the running guest keeps its memory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { guestDomainXML, testGuestOrSkip } from "../../testing/guest/index.ts";
import { makeTestRoot } from "../../testing/qemu/driver.ts";

const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "..", "bin", "tvirsh.js");

test("edit a running QEMU guest: applies at next boot, the live configuration unchanged", async (t) => {
  const guest = await testGuestOrSkip(t);
  if (!guest) return;
  const root = makeTestRoot("tvirt-edit-qemu-");
  try {
    const name = `editvm${process.pid}`;
    const xmlFile = join(root.root, "vm.xml");
    writeFileSync(
      xmlFile,
      guestDomainXML({ name, mode: "idle", kernel: guest.kernel, initrd: guest.initrd }),
    );
    const editor = join(root.root, "editor.mjs");
    writeFileSync(
      editor,
      `import { readFileSync, writeFileSync } from "node:fs";\nconst f = process.argv[2];\nconst t = readFileSync(f, "utf8");\nif (!t.includes("<memory unit='KiB'>131072</memory>")) process.exit(3);\nwriteFileSync(f, t.replace("<memory unit='KiB'>131072</memory>", "<memory unit='KiB'>98304</memory>"));\n`,
    );
    const r = spawnSync(
      process.execPath,
      [
        bin,
        "-c",
        root.uri,
        `define ${xmlFile}; start ${name}; edit ${name}; dumpxml ${name} --xpath //memory; dumpxml ${name} --inactive --xpath //memory; destroy ${name}`,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, VISUAL: "", EDITOR: `${process.execPath} ${editor}` },
        timeout: 240_000,
      },
    );
    root.track();
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `Domain '${name}' started\\n\\n` +
          "Filled in by the driver \\(defaults\\):\\n  changed <currentMemory>: text: '131072' → '98304'\\n" +
          "Applies now: nothing \\(edit changes the persistent definition; the running domain keeps its configuration\\)\\n" +
          "Applies at next boot:\\n  changed <memory>: text: '131072' → '98304'\\n  changed <currentMemory>: text: '131072' → '98304'\\n" +
          `Domain '${name}' XML configuration edited\\.\\n\\n` +
          '<memory unit="KiB">131072</memory>\\n\\n<memory unit="KiB">98304</memory>\\n',
      ),
    );
  } finally {
    await root.cleanup();
  }
});
