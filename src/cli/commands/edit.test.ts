/**
 * `tvirsh edit` driven by a scripted editor: the real launcher (bin/tvirsh.js) in a child
 * process, `$EDITOR` = node running a small script that applies the next step of edits to the
 * file, and the answers to "Failed. Try again?" fed on stdin. Also `validate FILE`,
 * `define --validate` (same text as stock virsh) and the editor command splitting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { editorArgv, splitEditorCommand } from "../edit-flow.ts";
import { python3OrSkip, virshOrSkip } from "../../testing/rpc/harness.ts";
import { commandSchemas, errorSchema, validate } from "../schemas.ts";
import { VirErrorNumber } from "../../util/errors/index.ts";

const repo = join(fileURLToPath(import.meta.url), "..", "..", "..", "..");
const bin = join(repo, "bin", "tvirsh.js");

/** The scripted editor: each run applies the next list of [search, replace] to the file. */
const EDITOR_SCRIPT = `
import { existsSync, readFileSync, writeFileSync } from "node:fs";
const [stepsFile, file] = process.argv.slice(2);
const steps = JSON.parse(readFileSync(stepsFile, "utf8"));
const countFile = stepsFile + ".runs";
const n = existsSync(countFile) ? Number(readFileSync(countFile, "utf8")) : 0;
writeFileSync(countFile, String(n + 1));
const step = steps[Math.min(n, steps.length - 1)];
if (step === "fail") process.exit(4);
let text = readFileSync(file, "utf8");
for (const [a, b] of step) {
  if (!text.includes(a)) { console.error("editor script: no " + a); process.exit(9); }
  text = text.replace(a, b);
}
writeFileSync(file, text);
`;

interface Run {
  out: string;
  err: string;
  status: number | null;
  /** How often the editor ran. */
  editorRuns: number;
}

function withEditor(steps: unknown[], line: string | undefined, input = "", extraArgs: string[] = []): Run {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-edit-test-"));
  try {
    const script = join(dir, "editor.mjs");
    const stepsFile = join(dir, "steps.json");
    writeFileSync(script, EDITOR_SCRIPT);
    writeFileSync(stepsFile, JSON.stringify(steps));
    // An editor with arguments: split into argv by tvirsh, no shell.
    const editor = `'${process.execPath}' ${script} ${stepsFile}`;
    const args = [bin, ...extraArgs, "-c", "test:///default", ...(line === undefined ? [] : [line])];
    const r = spawnSync(process.execPath, args, {
      encoding: "utf8",
      input,
      env: { ...process.env, VISUAL: "", EDITOR: editor, XDG_CACHE_HOME: join(dir, "cache") },
      timeout: 60_000,
    });
    const runsFile = `${stepsFile}.runs`;
    const editorRuns = existsSync(runsFile) ? Number(readFileSync(runsFile, "utf8")) : 0;
    return { out: r.stdout, err: r.stderr, status: r.status, editorRuns };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MEM = "<memory unit='KiB'>8388608</memory>";
/** `edit test` then the inactive XML, in one session of the test driver. */
function editThenDump(
  steps: unknown[],
  input = "",
  options = "",
): Run & { report: string; inactive: string } {
  const r = withEditor(steps, `edit test ${options}; dumpxml test --inactive`, input);
  const at = r.out.search(/^<domain type=/m);
  assert.ok(at >= 0, r.out + r.err);
  return { ...r, report: r.out.slice(0, at), inactive: r.out.slice(at) };
}

function originalInactive(): string {
  const r = spawnSync(process.execPath, [bin, "-c", "test:///default", "dumpxml test --inactive"], {
    encoding: "utf8",
  });
  return r.stdout;
}

test("edit: invalid XML shows the error and the prompt; 'n' leaves the definition untouched", () => {
  const r = editThenDump([[["</domain>", "</domian>"]]], "n\n");
  assert.equal(r.editorRuns, 1);
  assert.match(r.out, /Failed\. Try again\? \[y,n,i,f,\?\]: /);
  // The parser's error, with line and column.
  assert.match(r.err, /error: .*\(domain_definition\):\d+: /);
  assert.match(
    r.err,
    /error: operation aborted: edit of domain 'test' abandoned: the definition was not changed/,
  );
  assert.doesNotMatch(r.out, /XML configuration edited/);
  assert.equal(r.inactive.trim(), originalInactive().trim());
});

test("edit: end of input at the prompt means 'n'", () => {
  const r = editThenDump([[["</domain>", "</domian>"]]], "");
  assert.match(r.err, /abandoned/);
  assert.equal(r.inactive.trim(), originalInactive().trim());
});

test("edit: a valid change is applied, with what applies now and at next boot", () => {
  const r = editThenDump([[[MEM, "<memory unit='KiB'>4194304</memory>"]]]);
  assert.equal(r.status, 0, r.err);
  assert.equal(r.err, "");
  assert.equal(
    r.report,
    [
      "Applies now: nothing (edit changes the persistent definition; the running domain keeps its configuration)",
      "Applies at next boot:",
      "  changed <memory>: text: '8388608' → '4194304'",
      "Domain 'test' XML configuration edited.",
      "",
      "",
    ].join("\n"),
  );
  assert.match(r.inactive, /<memory unit='KiB'>4194304<\/memory>/);
});

test("edit: the running configuration keeps the old value until the next boot", () => {
  const r = withEditor(
    [[[MEM, "<memory unit='KiB'>4194304</memory>"]]],
    "edit test; dumpxml test --xpath //memory; dumpxml test --inactive --xpath //memory",
  );
  assert.equal(r.status, 0, r.err);
  assert.match(r.out, /<memory unit="KiB">8388608<\/memory>\n\n<memory unit="KiB">4194304<\/memory>/);
});

test("edit: a non-canonical value is reported as rewritten before it is applied", () => {
  const r = editThenDump([[[MEM, "<memory unit='MiB'>4096</memory>"]]]);
  assert.equal(r.status, 0, r.err);
  const rewritten = r.out.indexOf(
    "Rewritten to canonical form:\n  changed <memory>: @unit: 'MiB' → 'KiB'; text: '4096' → '4194304'\n",
  );
  assert.ok(rewritten >= 0, r.out);
  assert.ok(rewritten < r.out.indexOf("XML configuration edited"));
});

test("edit: an unknown element is named before applying, and fails schema validation", () => {
  const r = editThenDump([[["<vcpu", "<frobnicate level='3'/>\n  <vcpu"]]], "?\nn\n");
  const named = r.out.indexOf(
    "Unknown to tvirt, dropped by the new definition:\n  unknown element <frobnicate> at /domain/frobnicate (line 6)\n",
  );
  assert.ok(named >= 0, r.out);
  assert.ok(named < r.out.indexOf("Failed. Try again?"));
  // libvirt's schema error, then where: line and XPath.
  assert.match(
    r.err,
    /error: XML document failed to validate against schema: Unable to validate doc against \/usr\/share\/libvirt\/schemas\/domain\.rng\n/,
  );
  assert.match(r.err, /line 6, \/domain\/frobnicate: /);
  // '?' prints the help, with 'i' offered.
  assert.match(
    r.out,
    /y - yes, start editor again\nn - no, throw away my changes\ni - turn off validation and try to redefine again\nf - force, try to redefine again\n\? - print this help\n/,
  );
  assert.equal(r.inactive.trim(), originalInactive().trim());
});

test("edit: 'i' turns validation off and applies; the unknown element is dropped", () => {
  const r = editThenDump(
    [
      [
        ["<vcpu", "<frobnicate/>\n  <vcpu"],
        [MEM, "<memory unit='KiB'>1048576</memory>"],
      ],
    ],
    "i\n",
  );
  assert.equal(r.editorRuns, 1);
  assert.match(r.out, /unknown element <frobnicate> at \/domain\/frobnicate/);
  assert.match(r.out, /Domain 'test' XML configuration edited\./);
  assert.doesNotMatch(r.inactive, /frobnicate/);
  assert.match(r.inactive, /<memory unit='KiB'>1048576<\/memory>/);
});

test("edit --skip-validate: the unknown element is listed, then the change applied", () => {
  const r = editThenDump([[["<vcpu", "<frobnicate/>\n  <vcpu"]]], "", "--skip-validate");
  assert.equal(r.err, "");
  assert.match(r.out, /^Unknown to tvirt, dropped by the new definition:\n {2}unknown element <frobnicate>/);
  assert.match(r.out, /Applies at next boot: nothing/);
  assert.match(r.out, /XML configuration edited/);
});

test("edit: 'y' starts the editor again on the edited file", () => {
  const r = editThenDump(
    [
      [["</domain>", "</domian>"]],
      [
        ["</domian>", "</domain>"],
        [MEM, "<memory unit='KiB'>2097152</memory>"],
      ],
    ],
    "y\n",
  );
  assert.equal(r.editorRuns, 2);
  assert.match(r.out, /Domain 'test' XML configuration edited\./);
  assert.match(r.inactive, /<memory unit='KiB'>2097152<\/memory>/);
});

test("edit: no change is reported as such", () => {
  const r = editThenDump([[]]);
  assert.match(r.out, /^Domain 'test' XML configuration not changed\.\n/);
  assert.equal(r.inactive.trim(), originalInactive().trim());
});

test("edit: a failing editor is a catalogued error and nothing changes", () => {
  const r = editThenDump(["fail"]);
  assert.match(
    r.err,
    /error: operation failed: editor '.*' exited with status 4 while editing .*: nothing was changed/,
  );
  assert.equal(r.inactive.trim(), originalInactive().trim());
});

test("edit --json: one document with the report", () => {
  const r = withEditor([[[MEM, "<memory unit='KiB'>4194304</memory>"]]], "edit test --json");
  assert.equal(r.status, 0, r.err);
  const doc: unknown = JSON.parse(r.out);
  assert.deepEqual(validate(doc, commandSchemas.edit!), []);
  const d = doc as { appliesNow: unknown[]; appliesAtNextBoot: { subject: string }[]; running: boolean };
  assert.equal(d.running, true);
  assert.deepEqual(d.appliesNow, []);
  assert.deepEqual(
    d.appliesAtNextBoot.map((c) => c.subject),
    ["<memory>"],
  );
});

test("edit --json: a failure is the schema error document, no prompt", () => {
  const r = withEditor([[["<vcpu", "<frobnicate/>\n  <vcpu"]]], "edit test --json");
  assert.equal(r.status, 1);
  const doc = JSON.parse(r.out) as { error: { code: string; virCode: number; details: { xpath: string } } };
  assert.deepEqual(validate(doc, errorSchema), []);
  assert.equal(doc.error.code, "SCHEMA_VALIDATION_FAILED");
  assert.equal(doc.error.virCode, VirErrorNumber.XML_INVALID_SCHEMA);
  assert.equal(doc.error.details.xpath, "/domain/frobnicate");
});

test("$EDITOR is split into argv without a shell; shell syntax is refused", () => {
  assert.deepEqual(splitEditorCommand("code --wait", "EDITOR"), ["code", "--wait"]);
  assert.deepEqual(splitEditorCommand(`'/opt/my editor/bin/ed' -x "a b" c\\ d`, "EDITOR"), [
    "/opt/my editor/bin/ed",
    "-x",
    "a b",
    "c d",
  ]);
  assert.deepEqual(editorArgv({ VISUAL: "", EDITOR: "nano -w" }), ["nano", "-w"]);
  assert.deepEqual(editorArgv({ VISUAL: "emacs", EDITOR: "nano" }), ["emacs"]);
  assert.deepEqual(editorArgv({}), ["vi"]);
  for (const bad of ["vi | cat", "vi; rm -rf /", "vi $(x)", "'vi", "ed `x`", "vi >f"]) {
    assert.throws(
      () => splitEditorCommand(bad, "EDITOR"),
      (e: unknown) => (e as { code?: string }).code === "EDIT_EDITOR_SYNTAX",
      bad,
    );
  }
  const r = spawnSync(process.execPath, [bin, "-c", "test:///default", "edit test"], {
    encoding: "utf8",
    env: { ...process.env, VISUAL: "", EDITOR: "vi | cat" },
  });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /error: invalid argument: \$EDITOR value 'vi \| cat' cannot be run without a shell: '\|' would need a shell/,
  );
});

// --- validate FILE, define --validate ---------------------------------------------------------

function tvirsh(args: string[]): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, [bin, "-c", "test:///default", ...args], { encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test("validate FILE: valid and invalid documents; schema by root element", () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-validate-"));
  try {
    const good = join(dir, "good.xml");
    const bad = join(dir, "bad.xml");
    const net = join(dir, "net.xml");
    const odd = join(dir, "odd.xml");
    const xml = originalInactive();
    writeFileSync(good, xml);
    writeFileSync(bad, xml.replace("<vcpu", "<frobnicate/>\n  <vcpu"));
    writeFileSync(net, "<network><name>n</name><frob/></network>\n");
    writeFileSync(odd, "<thing/>\n");
    assert.deepEqual(tvirsh(["validate", good]), { out: `${good} validates\n\n`, err: "", status: 0 });
    const b = tvirsh(["validate", bad]);
    assert.equal(b.status, 1);
    assert.match(b.err, new RegExp(`^${bad}:6: /domain/frobnicate: `));
    assert.match(
      b.err,
      new RegExp(`error: ${bad} fails to validate\nerror: XML document failed to validate against schema`),
    );
    const n = tvirsh(["validate", net]);
    assert.equal(n.status, 1);
    assert.match(n.err, /network\.rng/);
    const o = tvirsh(["validate", odd]);
    assert.equal(o.status, 1);
    assert.match(o.err, /cannot determine schema type for .*odd\.xml: root element <thing> is not one of/);
    const j = tvirsh(["validate", good, "--json"]);
    assert.deepEqual(validate(JSON.parse(j.out), commandSchemas.validate!), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("define --validate: the schema error is stock virsh's, byte for byte", (t) => {
  if (!virshOrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-define-validate-"));
  try {
    const xml = originalInactive();
    const cases = {
      extra: xml.replace("<vcpu", "<frobnicate/>\n  <vcpu"),
      attr: xml.replace("<domain type='test'>", "<domain type='test' foo='1'>"),
      value: xml.replace(MEM, "<memory unit='KiB'>lots</memory>"),
      good: xml.replace("<name>test</name>", "<name>valid1</name>").replace(/<uuid>.*<\/uuid>/, ""),
    };
    for (const [name, text] of Object.entries(cases)) {
      const file = join(dir, `${name}.xml`);
      writeFileSync(file, text);
      const ours = tvirsh(["define", "--validate", file]);
      const theirs = spawnSync("virsh", ["-c", "test:///default", "define", "--validate", file], {
        encoding: "utf8",
      });
      assert.equal(ours.err, theirs.stderr, name);
      assert.equal(ours.out, theirs.stdout, name);
      assert.equal(ours.status, theirs.status, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("edit: defaults the driver fills in are reported (currentMemory follows a smaller memory)", () => {
  const r = editThenDump([[[MEM, "<memory unit='KiB'>1048576</memory>"]]]);
  assert.equal(r.status, 0, r.err);
  assert.match(
    r.report,
    /^Filled in by the driver \(defaults\):\n {2}changed <currentMemory>: text: '2097152' → '1048576'\n/,
  );
  assert.match(
    r.report,
    /Applies at next boot:\n {2}changed <memory>: text: '8388608' → '1048576'\n {2}changed <currentMemory>: text: '2097152' → '1048576'\n/,
  );
});

test("help edit is virsh's", (t) => {
  const path = virshOrSkip(t);
  if (!path) return;
  const virsh = spawnSync(path, ["help", "edit"], { encoding: "utf8" });
  const ours = tvirsh(["help", "edit"]);
  assert.equal(ours.out, virsh.stdout);
});

test("edit in the interactive shell: the answers are the shell's next lines", () => {
  const r = withEditor(
    [
      [["</domain>", "</domian>"]],
      [
        ["</domian>", "</domain>"],
        [MEM, "<memory unit='KiB'>2097152</memory>"],
      ],
    ],
    undefined,
    "edit test\n?\ny\ndumpxml test --inactive --xpath //memory\nquit\n",
  );
  assert.equal(r.status, 0, r.err);
  assert.equal(r.editorRuns, 2);
  assert.match(r.out, /\? - print this help\nFailed\. Try again\? \[y,n,i,f,\?\]: \n/);
  assert.match(r.out, /Domain 'test' XML configuration edited\.\n/);
  // The line after the answer ran as a command.
  assert.match(r.out, /<memory unit="KiB">2097152<\/memory>/);
});

/** Runs tvirsh on a pseudo-terminal (python3's pty), typing `keys` when `waitFor` appears. */
const PTY_DRIVER = `
import os, pty, sys, time, select, json
steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b""
def pump(t):
    global out
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: d = os.read(fd, 4096)
            except OSError: return False
            if not d: return False
            out += d
    return True
for wait_for, keys in steps:
    end = time.time() + 60
    while out.count(wait_for.encode()) == 0 and time.time() < end:
        if not pump(0.3): break
    os.write(fd, keys.encode())
    pump(0.5)
while pump(1): pass
sys.stdout.write(out.decode(errors="replace"))
`;

test("edit on a terminal: the answer is one key, as in virsh", (t) => {
  if (!python3OrSkip(t)) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-edit-pty-"));
  try {
    const script = join(dir, "editor.mjs");
    const stepsFile = join(dir, "steps.json");
    writeFileSync(script, EDITOR_SCRIPT);
    writeFileSync(stepsFile, JSON.stringify([[["</domain>", "</domian>"]]]));
    const r = spawnSync(
      "python3",
      [
        "-c",
        PTY_DRIVER,
        JSON.stringify([
          ["Try again?", "?"],
          ["print this help", "n"],
        ]),
        process.execPath,
        bin,
        "-c",
        "test:///default",
        "edit test; domstate test",
      ],
      {
        encoding: "utf8",
        env: { ...process.env, VISUAL: "", EDITOR: `${process.execPath} ${script} ${stepsFile}` },
        timeout: 120_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    // Raw mode: no Enter needed (the key is not echoed); virsh's \r before the question.
    assert.match(r.stdout, /\rFailed\. Try again\? \[y,n,i,f,\?\]: \r\ny - yes, start editor again\r\n/);
    assert.match(
      r.stdout,
      /\? - print this help\r\n\rFailed\. Try again\? \[y,n,i,f,\?\]: \r\nerror: operation aborted/,
    );
    assert.match(r.stdout, /abandoned: the definition was not changed/);
    assert.match(r.stdout, /running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("edit: under a vague schema error, tvirt's parser names the value, its XPath and what is allowed", () => {
  const r = editThenDump([[["bus='virtio'", "bus='virtiox'"]]], "n\n");
  assert.match(r.err, /Extra element devices in interleave/);
  assert.match(
    r.err,
    / {2}tvirt's parser: XML error: invalid value 'virtiox' for \/domain\/devices\/disk\/target\/@bus \(line \d+\): expected one of ide, fdc, scsi, virtio,[^\n]*\n {4}at line \d+, \/domain\/devices\/disk\/target\/@bus\n {4}allowed: ide, fdc, scsi, virtio, /,
  );
  assert.equal(r.inactive.trim(), originalInactive().trim());
});
