/**
 * The man pages (src/tools/man.ts): each renders with `man -l` (groff) without a warning, and
 * holds what the programs know: every command of tvirsh's table with its options, every option
 * of each program's --help.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { allCommands } from "../cli/commands/index.ts";
import { runArgv } from "../util/spawn.ts";
import { helpOptions, manPages, roffText, type ManPage } from "./man.ts";

const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C.UTF-8", MANWIDTH: "200" };

async function tools(t: TestContext): Promise<boolean> {
  for (const tool of ["man", "groff"]) {
    const r = await runArgv(["sh", "-c", 'command -v "$0"', tool], { env: ENV });
    if (r.code !== 0) {
      const why = `${tool} is not installed (apt-get install man-db groff-base)`;
      if (process.env.CI === "true") assert.fail(why);
      t.skip(why);
      return false;
    }
  }
  return true;
}

/** `man -l` of the page as plain text (no overstriking), and groff's warnings. */
async function render(page: ManPage): Promise<{ text: string; warnings: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-man-"));
  try {
    const file = join(dir, `${page.name}.${String(page.section)}`);
    writeFileSync(file, page.roff);
    const man = await runArgv(["man", "-l", "-P", "cat", file], { env: ENV });
    assert.equal(man.code, 0, man.stderr);
    // eslint-disable-next-line no-control-regex -- man overstrikes bold as "c\bc"
    const text = man.stdout.replace(/.\x08/g, "");
    const groff = await runArgv(["groff", "-man", "-Tutf8", "-ww", "-z", file], { env: ENV });
    return { text, warnings: groff.stderr + (groff.code === 0 ? "" : `exit ${String(groff.code)}`) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("roffText escapes what roff would read as requests or escapes", () => {
  assert.equal(roffText(".start\n'quote\nback\\slash --opt"), "\\&.start\n\\&'quote\nback\\eslash \\-\\-opt");
});

test("helpOptions reads option lines, with descriptions after one space or continued below", () => {
  assert.deepEqual(
    helpOptions(
      "  -p | --pid-file <file> Change name of PID file.\n    -k | --keepalive-interval=NUM\n                            keepalive interval\n   --json         JSON\n",
    ),
    [
      ["-p | --pid-file <file>", "Change name of PID file."],
      ["-k | --keepalive-interval=NUM", "keepalive interval"],
      ["--json", "JSON"],
    ],
  );
});

test("man -l renders tvirsh(1), tvirtd(8) and tvirt-host-validate(1) with all they should say", async (t) => {
  if (!(await tools(t))) return;
  const pages = await manPages();
  assert.deepEqual(
    pages.map((p) => `${p.name}(${String(p.section)})`),
    ["tvirsh(1)", "tvirtd(8)", "tvirt-host-validate(1)"],
  );
  const byName = new Map(pages.map((p) => [p.name, p]));

  const tvirsh = await render(byName.get("tvirsh")!);
  assert.equal(tvirsh.warnings, "", "groff warns about tvirsh.1");
  assert.match(tvirsh.text, /^TVIRSH\(1\)/);
  // Every command of the table (the one `tvirsh help` lists), with each of its options.
  // An entry: its "NAME - help" line at the list's indent, up to the next line at that indent.
  const lines = tvirsh.text.split("\n");
  const missing: string[] = [];
  for (const c of allCommands) {
    const at = lines.findIndex((l) => l.startsWith(`       ${c.name} - `));
    if (at < 0) {
      missing.push(c.name);
      continue;
    }
    const end = lines.findIndex((l, i) => i > at && /^ {0,7}\S/.test(l));
    const entry = lines
      .slice(at, end < 0 ? undefined : end)
      .join(" ")
      .replace(/\s+/g, " ");
    if (!entry.includes(c.help.replace(/\s+/g, " "))) missing.push(`${c.name}: ${c.help}`);
    // An option is "--name" in the list, or "<name>" when it is a trailing argument list.
    for (const o of c.opts)
      if (!entry.includes(`--${o.name}`) && !entry.includes(`<${o.name}>`))
        missing.push(`${c.name} --${o.name}`);
  }
  assert.deepEqual(missing, [], "commands or options missing from tvirsh(1)");
  assert.ok(allCommands.length > 100, `only ${String(allCommands.length)} commands?`);
  for (const opt of ["--connect=URI", "--readonly", "--quiet", "--version[=TYPE]"])
    assert.ok(tvirsh.text.includes(opt), `tvirsh(1) lacks ${opt}`);
  assert.ok(tvirsh.text.includes("Storage Volume (help keyword 'volume')"));

  const tvirtd = await render(byName.get("tvirtd")!);
  assert.equal(tvirtd.warnings, "", "groff warns about tvirtd.8");
  assert.match(tvirtd.text, /^TVIRTD\(8\)/);
  for (const opt of ["--timeout <secs>", "--pid-file <file>", "--listen-ro <path>", "--system", "--session"])
    assert.ok(tvirtd.text.includes(opt), `tvirtd(8) lacks ${opt}`);
  for (const f of ["/etc/tvirt/tvirtd.conf", "/var/log/tvirt/qemu/NAME.log", "SIGHUP"])
    assert.ok(tvirtd.text.includes(f), `tvirtd(8) lacks ${f}`);

  const hv = await render(byName.get("tvirt-host-validate")!);
  assert.equal(hv.warnings, "", "groff warns about tvirt-host-validate.1");
  assert.match(hv.text, /^TVIRT-HOST-VALIDATE\(1\)/);
  for (const opt of ["-q, --quiet", "--json", "-v, --version"])
    assert.ok(hv.text.includes(opt), `tvirt-host-validate(1) lacks ${opt}`);
});
