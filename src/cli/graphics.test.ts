/**
 * vncdisplay and domdisplay on the test driver (whose XML keeps the ports it is given), compared
 * byte for byte with stock virsh 9.0 running the same commands on its own test driver.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { main } from "./main.ts";
import { BufferIo } from "./output.ts";
import { commandSchemas, validate } from "./schemas.ts";
import { virshOrSkip } from "../testing/rpc/harness.ts";

const DOMAINS = {
  gx: `<domain type='test'><name>gx</name><memory>65536</memory><os><type>hvm</type></os><devices><graphics type='vnc' port='5903' autoport='no' listen='127.0.0.1' passwd='s3cret'/><graphics type='spice' port='5904' tlsPort='5905' autoport='no'/></devices></domain>`,
  gy: `<domain type='test'><name>gy</name><memory>65536</memory><os><type>hvm</type></os><devices><graphics type='vnc' port='5910' autoport='no' listen='0.0.0.0'/></devices></domain>`,
  gz: `<domain type='test'><name>gz</name><memory>65536</memory><os><type>hvm</type></os><devices></devices></domain>`,
};

// every command ends with virsh's newline (a failed one prints only that); a single domdisplay
// URI has none of its own, --all ends each with one
const EXPECTED_OUT = [
  "\n", // vncdisplay gx (inactive)
  "\n", // domdisplay gx (inactive)
  "127.0.0.1:3\n\n",
  "vnc://127.0.0.1:3\n",
  "vnc://127.0.0.1:3\nspice://localhost:5904?tls-port=5905\n\n",
  "spice://localhost:5904?tls-port=5905\n",
  "\n", // --type rdp
  "vnc://:s3cret@127.0.0.1:3\n",
  ":10\n\n",
  "vnc://localhost:10\n",
  "\n\n\n\n", // the four failures
].join("");

const EXPECTED_ERR = [
  "error: Domain is not running\n",
  "error: Domain is not running\n",
  "error: No graphical display with type 'rdp' found\n",
  "error: Failed to get VNC port. Is this domain using VNC?\n",
  "error: No graphical display found\n",
  "error: No graphical display with type 'foo' found\n",
  "error: Options --all and --type are mutually exclusive\n",
].join("");

function script(dir: string): string {
  const files = Object.entries(DOMAINS).map(([name, xml]) => {
    const f = join(dir, `${name}.xml`);
    writeFileSync(f, xml);
    return f;
  });
  return [
    ...files.map((f) => `define ${f}`),
    "vncdisplay gx",
    "domdisplay gx",
    "start gx",
    "start gy",
    "start gz",
    "vncdisplay gx",
    "domdisplay gx",
    "domdisplay --all gx",
    "domdisplay --type spice gx",
    "domdisplay --type rdp gx",
    "domdisplay --include-password gx",
    "vncdisplay gy",
    "domdisplay gy",
    "vncdisplay gz",
    "domdisplay gz",
    "domdisplay --type foo gx",
    "domdisplay --all --type vnc gx",
  ].join("; ");
}

/** Only the lines of our commands (define and start print their own). */
function ours(out: string): string {
  return out.replace(/^Domain '\w+' (defined from \S+|started)\n\n/gm, "");
}

test("vncdisplay and domdisplay print virsh's formats and errors", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-cli-"));
  try {
    const io = new BufferIo();
    await main(["-c", "test:///default", script(dir)], io, {});
    assert.equal(ours(io.stdout), EXPECTED_OUT);
    assert.equal(io.stderr, EXPECTED_ERR);

    for (const [name, line, want] of [
      [
        "domdisplay",
        "domdisplay --all gx --json",
        ["vnc://127.0.0.1:3", "spice://localhost:5904?tls-port=5905"],
      ],
      ["vncdisplay", "vncdisplay gy --json", ":10"],
    ] as const) {
      const json = new BufferIo();
      await main(
        [
          "-q",
          "-c",
          "test:///default",
          `define ${join(dir, "gx.xml")}; define ${join(dir, "gy.xml")}; start gx; start gy; ${line}`,
        ],
        json,
        {},
      );
      const doc = JSON.parse(json.stdout.trim()) as Record<string, unknown>;
      assert.deepEqual(validate(doc, commandSchemas[name]!), []);
      assert.deepEqual(name === "domdisplay" ? doc.uris : doc.display, want);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stock virsh prints the same on its test driver", (t) => {
  const virsh = virshOrSkip(t);
  if (virsh === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-virsh-"));
  try {
    const r = spawnSync(virsh, ["-c", "test:///default", script(dir)], {
      encoding: "utf8",
      env: { ...process.env, LANG: "C", LC_ALL: "C" },
    });
    assert.equal(ours(r.stdout), EXPECTED_OUT);
    assert.equal(r.stderr, EXPECTED_ERR);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** send-key's own checks (before the API call), with virsh's messages. */
const SEND_KEY_ERRORS: [string, string][] = [
  ["send-key test --codeset foo KEY_A", "error: unknown codeset: 'foo'\n"],
  ["send-key test KEY_NOPE", "error: invalid keycode: 'KEY_NOPE'\n"],
  [
    "send-key test --holdtime -5 KEY_A",
    "error: Numeric value '-5' for <holdtime> option is malformed or out of range\n",
  ],
  [
    "send-key test --holdtime abc KEY_A",
    "error: Numeric value 'abc' for <holdtime> option is malformed or out of range\n",
  ],
  ["send-key test 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "error: too many keycodes\n"],
  ["send-key test -- -1", "error: invalid keycode: '-1'\n"],
  ["send-key test", "error: command 'send-key' requires <keycode> option\n"],
];

/** Whether stock virsh is here to compare with (it must be under CI). */
function haveVirsh(): boolean {
  const ok = spawnSync("virsh", ["--version"], { encoding: "utf8" }).status === 0;
  if (!ok && process.env.CI === "true") assert.fail("virsh is required under CI (scripts/setup installs it)");
  return ok;
}

test("send-key refuses bad code sets, key names and hold times as virsh does", async (t) => {
  const virsh = haveVirsh();
  for (const [line, err] of SEND_KEY_ERRORS) {
    const io = new BufferIo();
    assert.equal(await main(["-c", "test:///default", line], io, {}), 1, line);
    assert.equal(io.stderr, err, line);
    if (!virsh) continue;
    const r = spawnSync("virsh", ["-c", "test:///default", line], {
      encoding: "utf8",
      env: { ...process.env, LANG: "C", LC_ALL: "C" },
    });
    assert.equal(r.stderr, err, `virsh ${line}`);
  }
  if (!virsh) t.diagnostic("virsh is not installed: compared with the recorded messages only");
});

test("screenshot and send-key on the test driver print what virsh prints", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-test-drv-"));
  try {
    const line = (who: string): string =>
      [
        `screenshot test ${join(dir, `${who}.png`)}`,
        `screenshot test ${join(dir, `${who}-1.png`)} --screen 1`,
        "send-key test KEY_A KEY_B",
        "send-key test --codeset linux 300",
        "destroy test",
        `screenshot test ${join(dir, `${who}-off.png`)}`,
      ].join("; ");
    const io = new BufferIo();
    await main(["-c", "test:///default", line("t")], io, {});
    const png = readFileSync(join(dir, "t.png"));
    // PNG signature, IHDR 1120 x 832 (the size of libvirt's test image)
    assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1120, 832]);
    const expectedOut = (who: string): string =>
      `Screenshot saved to ${join(dir, `${who}.png`)}, with type of image/png\n` +
      `Screenshot saved to ${join(dir, `${who}-1.png`)}, with type of image/png\n` +
      "\n\nDomain 'test' destroyed\n\n" +
      // libvirt's test driver takes screenshots of inactive domains too
      `Screenshot saved to ${join(dir, `${who}-off.png`)}, with type of image/png\n`;
    const expectedErr = "error: internal error: invalid keycode 300 of linux codeset\n";
    assert.equal(io.stdout, expectedOut("t"));
    assert.equal(io.stderr, expectedErr);
    if (!haveVirsh()) return;
    const r = spawnSync("virsh", ["-c", "test:///default", line("v")], {
      encoding: "utf8",
      env: { ...process.env, LANG: "C", LC_ALL: "C" },
    });
    assert.equal(r.stdout, expectedOut("v"));
    assert.equal(r.stderr, expectedErr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("domdisplay --type web prints the guest's page on the web face (tvirt)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tvirt-graphics-web-"));
  try {
    const f = join(dir, "gy.xml");
    writeFileSync(f, DOMAINS.gy);
    const runLine = async (line: string, env: NodeJS.ProcessEnv = {}) => {
      const io = new BufferIo();
      const code = await main(["-q", "-c", "test:///default", `define ${f}; ${line}`], io, env);
      return { code, out: io.stdout, err: io.stderr };
    };
    const off = await runLine("domdisplay --type web gy --web-url https://h:8443");
    assert.equal(off.err, "error: Domain is not running\n");
    const byOpt = await runLine("start gy; domdisplay --type web gy --web-url https://h.example:8443/");
    assert.equal(byOpt.code, 0, byOpt.err);
    assert.equal(byOpt.out, "https://h.example:8443/#/domain/gy");
    const byEnv = await runLine("start gy; domdisplay --type web gy", {
      TVIRT_WEB_URL: "http://127.0.0.1:8080/x?y#z",
    });
    assert.equal(byEnv.out, "http://127.0.0.1:8080/x/#/domain/gy");
    // virsh's default output does not change with a web face known
    const plain = await runLine("start gy; domdisplay gy", { TVIRT_WEB_URL: "http://127.0.0.1:8080" });
    assert.equal(plain.out, "vnc://localhost:10");
    const none = await runLine("start gy; domdisplay --type web gy");
    assert.equal(none.code, 1);
    assert.match(none.err, /^error: no web face known: give --web-url URL or set TVIRT_WEB_URL/);
    const bad = await runLine("start gy; domdisplay --type web gy --web-url ftp://h");
    assert.match(bad.err, /invalid web face address 'ftp:\/\/h': expected an http:\/\/ or https:\/\/ URL/);
    const json = await runLine("start gy; domdisplay --type web gy --web-url https://h:8443 --json");
    const doc = JSON.parse(json.out.trim()) as Record<string, unknown>;
    assert.deepEqual(validate(doc, commandSchemas.domdisplay!), []);
    assert.deepEqual(doc.uris, ["https://h:8443/#/domain/gy"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
