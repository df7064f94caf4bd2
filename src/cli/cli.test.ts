/**
 * tvirsh: grammar, tables, `--json` documents (validated against `schemas.ts`), read-only
 * refusal, the launcher's exit status, the interactive shell and tab completion.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { parseCommands, tokenizeArgv, tokenizeString, SyntaxError_ } from "./grammar.ts";
import { findCommand } from "./commands/index.ts";
import { formatTable } from "./table.ts";
import { commandSchemas, errorSchema, validate } from "./schemas.ts";
import { Ctx } from "./context.ts";
import { complete } from "./shell.ts";

const repo = join(fileURLToPath(import.meta.url), "..", "..", "..");

async function tvirsh(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const io = new BufferIo();
  const status = await main(["-c", "test:///default", ...args], io, {});
  return { out: io.stdout, err: io.stderr, status };
}

test("tokenizer: quotes, escapes, ';', comments", () => {
  assert.deepEqual(tokenizeString(`a "b c" 'd e' f\\ g; h # x\ni`), [
    "a",
    "b c",
    "d e",
    "f g",
    null,
    "h",
    null,
    "i",
    null,
  ]);
  assert.deepEqual(tokenizeString(`"te"st 'te'st te\\st`), ["test", "test", "test", null]);
  assert.deepEqual(tokenizeString(`'it''s'`), ["its", null]);
  assert.throws(
    () => tokenizeString("a\\"),
    (e: unknown) => e instanceof SyntaxError_ && e.message === "dangling \\",
  );
  assert.throws(
    () => tokenizeString('a "b'),
    (e: unknown) => e instanceof SyntaxError_ && e.message === 'missing "',
  );
  assert.deepEqual(tokenizeArgv(["a", ";", "b"]), ["a", ";", "b", null]);
});

test("parser: positional words fill options in order; named options; errors", () => {
  const parse = (line: string): Map<string, string | true> => {
    const [cmd] = parseCommands(tokenizeString(line), findCommand);
    assert.ok(cmd);
    return new Map(cmd.values);
  };
  assert.deepEqual(
    parse("save vm /x.img"),
    new Map([
      ["domain", "vm"],
      ["file", "/x.img"],
    ]),
  );
  assert.deepEqual(
    parse("save --file=/x.img vm"),
    new Map([
      ["file", "/x.img"],
      ["domain", "vm"],
    ]),
  );
  assert.deepEqual(
    parse("shutdown vm acpi"),
    new Map([
      ["domain", "vm"],
      ["mode", "acpi"],
    ]),
  );
  assert.deepEqual(
    parse("dumpxml --inactive vm"),
    new Map<string, string | true>([
      ["inactive", true],
      ["domain", "vm"],
    ]),
  );
  assert.deepEqual(parse("dominfo -- --weird"), new Map([["domain", "--weird"]]));
  assert.deepEqual(
    parse("list --all --json"),
    new Map<string, string | true>([
      ["all", true],
      ["json", true],
    ]),
  );
  const bad: [string, string][] = [
    ["dominfo", "command 'dominfo' requires <domain> option"],
    ["dominfo a b", "unexpected data 'b'"],
    ["dumpxml vm //name", "unexpected data '//name'"],
    ["dominfo --domain", "expected syntax: --domain <string>"],
    ["event --timeout", "expected syntax: --timeout <number>"],
    ["dominfo --domain a --domain b", "option --domain already seen"],
    ["dominfo --bogus a", "command 'dominfo' doesn't support option --bogus"],
    ["list --all=yes", "invalid '=' after option --all"],
    ["bogus", "unknown command: 'bogus'"],
  ];
  for (const [line, message] of bad) {
    assert.throws(
      () => parseCommands(tokenizeString(line), findCommand),
      (e: unknown) => e instanceof SyntaxError_ && e.message === message,
      line,
    );
  }
});

test("tables: virsh's widths and separators; -q drops the header", () => {
  assert.equal(
    formatTable(["Id", "Name", "State"], [["1", "test", "running"]], false),
    " Id   Name   State\n----------------------\n 1    test   running\n",
  );
  assert.equal(
    formatTable(["Id", "Name", "State", "Title"], [["1", "test", "running", ""]], true),
    " 1   test   running   \n",
  );
  assert.equal(formatTable(["A"], [["a\tb"]], true), " a\\x09b\n");
});

test("every command's --json document matches its schema", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-json-"));
  try {
    const xml = join(dir, "vm1.xml");
    writeFileSync(
      xml,
      "<domain type='test'><name>vm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid><title>T</title><memory>65536</memory><os><type>hvm</type></os><devices><interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface></devices></domain>",
    );
    const img = join(dir, "img");
    const lines: [string, string][] = [
      ["uri", "uri --json"],
      ["hostname", "hostname --json"],
      ["version", "version --daemon --json"],
      ["nodeinfo", "nodeinfo --json"],
      ["capabilities", "capabilities --json"],
      ["list", "list --all --title --json"],
      ["dominfo", "dominfo test --json"],
      ["domstate", "domstate test --reason --json"],
      ["domid", "domid test --json"],
      ["domname", "domname 1 --json"],
      ["domuuid", "domuuid test --json"],
      ["domblklist", "domblklist test --json"],
      ["domiflist", "domiflist test --json"],
      ["dumpxml", "dumpxml test --json"],
      ["dumpxml", "dumpxml test --xpath //name --json"],
      ["define", `define ${xml} --json`],
      ["create", `define ${xml}; create ${xml} --json`],
      ["suspend", "suspend test --json"],
      ["resume", "suspend test; resume test --json"],
      ["reboot", "reboot test --json"],
      ["reset", "reset test --json"],
      ["shutdown", "shutdown test --json"],
      ["destroy", "destroy test --json"],
      ["start", "destroy test; start test --json"],
      ["save", `save test ${img} --json`],
      ["restore", `save test ${img}; restore ${img} --json`],
      ["managedsave", "managedsave test --json"],
      ["managedsave-remove", "managedsave test; managedsave-remove test --json"],
      ["autostart", "autostart test --json"],
      ["autostart", "autostart --disable test --json"],
      ["undefine", "undefine test --json"],
      ["hugepages", "hugepages --json"],
      ["memtune", "memtune test --json"],
      ["memtune", "memtune test --hard-limit 1G --json"],
      ["schedinfo", "schedinfo test --json"],
      ["blkiotune", "blkiotune test --json"],
      ["blkiotune", "blkiotune test --weight 500 --json"],
      ["event", "event --list --json"],
      ["help", "help --json"],
      ["help", "help dominfo --json"],
      ["help", "help monitor --json"],
      ["connect", "connect test:///default --json"],
      ["pwd", "pwd --json"],
    ];
    for (const [name, line] of lines) {
      rmSync(img, { force: true });
      const r = await tvirsh("-q", line);
      assert.equal(r.status, 0, `${line}: ${r.err}${r.out}`);
      const docs = r.out
        .trim()
        .split(/\n(?=\{)/)
        .filter((d) => d.trim() !== "");
      const last = docs[docs.length - 1]!;
      const value: unknown = JSON.parse(last);
      assert.deepEqual(validate(value, commandSchemas[name]!), [], `${line}: ${last}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("define names the XML it drops (stderr, and `dropped` in --json); stdout stays virsh's", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirsh-drop-"));
  try {
    const xml = join(dir, "d.xml");
    writeFileSync(
      xml,
      "<domain type='test'><name>drop1</name><memory>102400</memory><os><type>hvm</type></os>\n" +
        "<frobnicate/><devices><disk type='file' bogus='1' device='disk'>" +
        "<source file='/tmp/x.img'/><target dev='vda'/></disk></devices></domain>\n",
    );
    const r = await tvirsh("-c", "test:///default", "define", xml);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.out, `Domain 'drop1' defined from ${xml}\n\n`);
    assert.equal(
      r.err,
      "warning: unknown element <frobnicate> at /domain/frobnicate (line 2) was ignored\n" +
        "warning: unknown attribute 'bogus' of <disk> at /domain/devices/disk/@bogus (line 2) was ignored\n",
    );
    const j = await tvirsh("-c", "test:///default", "define", xml, "--json");
    const doc = JSON.parse(j.out) as { dropped: { xpath: string }[] };
    assert.deepEqual(validate(doc, commandSchemas.define!), []);
    assert.deepEqual(
      doc.dropped.map((d) => d.xpath),
      ["/domain/frobnicate", "/domain/devices/disk/@bogus"],
    );
    assert.equal(j.err, "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--json failures are one {error} document with the catalogue code and libvirt's numbers", async () => {
  const cases: [string, string, number][] = [
    ["dominfo nosuch --json", "CLI_DOMAIN_NOT_FOUND", 42],
    ["suspend test; suspend test --json", "TEST_DOMAIN_NOT_RUNNING", 1],
    ["destroy test; destroy test --json", "DOMAIN_NOT_RUNNING", 55],
    ["start test --json", "CLI_FAILED", 9],
    ["domcapabilities --json", "API_NO_SUPPORT", 3],
    ["dominfo --json", "CLI_USAGE", 8],
  ];
  for (const [line, code, virCode] of cases) {
    const r = await tvirsh("-q", line);
    assert.equal(r.status, 1, line);
    const docs = r.out.trim().split(/\n(?=\{)/);
    const value = JSON.parse(docs[docs.length - 1]!) as { error: { code: string; virCode: number } };
    assert.deepEqual(validate(value, errorSchema), [], line);
    assert.equal(value.error.code, code, line);
    assert.equal(value.error.virCode, virCode, line);
  }
  const ro = await main(["-r", "-c", "test:///default", "destroy test --json"], new BufferIo(), {});
  assert.equal(ro, 1);
});

test("read-only: changes are refused with libvirt's two error lines", async () => {
  const io = new BufferIo();
  const status = await main(["-r", "-c", "test:///default", "destroy test; list"], io, {});
  assert.equal(status, 0, "the line's status is its last command's");
  assert.equal(
    io.stderr,
    "error: Failed to destroy domain 'test'\nerror: operation forbidden: read only access prevents virDomainDestroy\n",
  );
  assert.match(io.stdout, / 1 {4}test {3}running/);
});

test("the launcher: exit status, stdout and stderr of a real process", () => {
  const r = spawnSync(
    process.execPath,
    [join(repo, "bin", "tvirsh.js"), "-c", "test:///default", "domstate test; suspend nosuch"],
    {
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "running\n\n\n");
  assert.equal(r.stderr, "error: failed to get domain 'nosuch'\n");
  const env = { ...process.env, LIBVIRT_DEFAULT_URI: "test:///default" };
  const d = spawnSync(process.execPath, [join(repo, "bin", "tvirsh.js"), "uri"], { encoding: "utf8", env });
  assert.equal(d.stdout, "test:///default\n\n", "LIBVIRT_DEFAULT_URI");
});

test("the interactive shell reads commands from stdin", () => {
  const r = spawnSync(process.execPath, [join(repo, "bin", "tvirsh.js"), "-c", "test:///default"], {
    encoding: "utf8",
    input: "domstate test\nsuspend test\ndomstate test --reason\nquit\n",
    env: { ...process.env, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "tvirsh-hist-")) },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Welcome to tvirsh/);
  assert.match(r.stdout, /running\n/);
  assert.match(r.stdout, /paused \(user\)\n/);
});

test("tab completion: commands, options, domain names, values", async () => {
  const ctx = new Ctx(new BufferIo(), {
    uri: "test:///default",
    readonly: false,
    quiet: true,
    timing: false,
    escape: "^]",
    debug: 4,
  });
  await ctx.open("test:///default", false);
  try {
    assert.deepEqual((await complete(ctx, "domst"))[0], ["domstate", "domstats"]);
    assert.deepEqual((await complete(ctx, "dominfo "))[0], ["test"]);
    assert.deepEqual((await complete(ctx, "list --al"))[0], ["--all"]);
    assert.deepEqual((await complete(ctx, "shutdown test --mode a"))[0], ["acpi", "agent"]);
    assert.deepEqual((await complete(ctx, "event --event life"))[0], ["lifecycle"]);
    assert.deepEqual((await complete(ctx, "uri; dom"))[0].slice(0, 3), [
      "domblklist",
      "domblkstat",
      "domcapabilities",
    ]);
  } finally {
    await ctx.close();
  }
});
