/**
 * Validation and edit through tvirtd's RPC server (serving test:///default): the VALIDATE flag
 * of virDomainDefineXMLFlags crosses the wire, stock virsh prints the same schema error as it
 * does for its own test:///default, stock `virsh edit` (non-interactive editor) works against
 * tvirtd, and tvirsh's edit over the remote driver gives its report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, startTestServer, virshOrSkip } from "../../testing/rpc/harness.ts";

const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "..", "bin", "tvirsh.js");
const env: NodeJS.ProcessEnv = { ...process.env, LANG: "C", LC_ALL: "C", LIBVIRT_DEFAULT_URI: "" };
// Stock virsh would run an empty $VISUAL; leave it unset.
delete env.VISUAL;

test("define --validate and edit through tvirtd", async (t) => {
  const virsh = virshOrSkip(t);
  if (!virsh) return;
  const server = await startTestServer();
  const dir = mkdtempSync(join(tmpdir(), "tvirt-edit-rpc-"));
  try {
    const dump = await run(virsh, ["-c", "test:///default", "dumpxml", "test", "--inactive"], { env });
    const bad = join(dir, "bad.xml");
    writeFileSync(
      bad,
      dump.stdout.replace("<vcpu", "<frobnicate/>\n  <vcpu").replace("<name>test", "<name>t2"),
    );
    const local = await run(virsh, ["-c", "test:///default", "define", "--validate", bad], { env });
    const remote = await run(virsh, ["-c", server.uri, "define", "--validate", bad], { env });
    assert.equal(remote.stderr, local.stderr);
    assert.equal(remote.code, 1);
    assert.match(remote.stderr, /XML document failed to validate against schema/);
    const ours = await run(process.execPath, [bin, "-c", server.uri, "define", "--validate", bad], { env });
    assert.equal(ours.stderr, local.stderr);

    // Stock virsh edit with a non-interactive editor (it runs "sed" through sh -c, its choice).
    // (Each connection to tvirtd's test:///default starts from the default state, as in libvirt.)
    const edited = await run(virsh, ["-c", server.uri, "edit", "test"], {
      env: { ...env, EDITOR: "sed -i s/8388608/4194304/" },
    });
    assert.equal(edited.stdout, "Domain 'test' XML configuration edited.\n\n", edited.stderr);

    // tvirsh edit over the remote driver: the report compares the live and the new definition.
    const script = join(dir, "ed.mjs");
    writeFileSync(
      script,
      `import { readFileSync, writeFileSync } from "node:fs";\nconst f = process.argv[2];\nwriteFileSync(f, readFileSync(f, "utf8").replace("8388608</memory>", "2097152</memory>"));\n`,
    );
    const r = await run(process.execPath, [bin, "-c", server.uri, "edit", "test"], {
      env: { ...env, EDITOR: `${process.execPath} ${script}` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /Applies at next boot:\n {2}changed <memory>: text: '8388608' → '2097152'\n[\s\S]*Domain 'test' XML configuration edited\.\n/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});
