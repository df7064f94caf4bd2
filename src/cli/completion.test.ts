/**
 * Shell completion of tvirsh, played in a pseudo-terminal: an interactive bash (and zsh) with
 * packaging/completion's script loaded gets a partial command line and a TAB, and the line
 * bash leaves is read back. Commands and options complete from the command table; domain,
 * network and pool names are asked of a running tvirtd (a private one serving the test driver),
 * through `tvirsh complete`. `tvirsh complete` itself is checked directly as well.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test, type TestContext } from "node:test";
import { python3OrSkip, run, spawnDaemon, type DaemonProcess } from "../testing/rpc/harness.ts";
import { allCommands } from "./commands/index.ts";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const tvirshBin = join(repo, "bin", "tvirsh.js");
const bashScript = join(repo, "packaging", "completion", "tvirsh.bash");
const zshDir = join(repo, "packaging", "completion");

/**
 * Runs an interactive shell in a pty: the setup lines, then for each case the text and a TAB,
 * then Ctrl-A, `echo $((6*7))RES:` and Ctrl-E `:END` Enter, so that the shell prints the line
 * as completion left it ("42RES:" never appears in what is typed). Prints a JSON list.
 */
const PTY_DRIVER = String.raw`
import json, os, pty, re, select, sys, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
buf = b""
def pump(t):
    global buf
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            buf += os.read(fd, 65536)
        except OSError:
            pass
def settle(quiet, limit):
    end = time.time() + limit
    n = -1
    while time.time() < end:
        n = len(buf)
        pump(quiet)
        if len(buf) == n:
            return
for line in spec["setup"]:
    os.write(fd, (line + "\n").encode())
settle(0.5, 10)
results = []
for i, text in enumerate(spec["cases"]):
    buf = b""
    os.write(fd, (text + "\t").encode())
    settle(1.5, 60)
    os.write(fd, b"\x01echo $((6*7))RES:\x05:END\n")
    end = time.time() + 60
    m = None
    while time.time() < end and m is None:
        pump(0.2)
        m = re.search(rb"42RES:(.*?):END", buf)
    results.append(m.group(1).decode() if m else "NO RESULT: " + buf.decode(errors="replace"))
os.write(fd, b"exit\n")
settle(0.3, 3)
print(json.dumps(results))
`;

function ptyRun(python: string, spec: object): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ["-c", PTY_DRIVER, JSON.stringify(spec)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) reject(new Error(`pty driver exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as string[]);
    });
  });
}

function shellOrSkip(t: TestContext, name: string): string | undefined {
  const p = [`/usr/bin/${name}`, `/bin/${name}`].find((x) => existsSync(x));
  if (p) return p;
  if (process.env.CI === "true") assert.fail(`${name} is missing (apt-get install ${name})`);
  t.skip(`${name} is missing (apt-get install ${name})`);
  return undefined;
}

let daemon: DaemonProcess | undefined;
let dir = "";
let uri = "";
let binDir = "";

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tvirt-completion-"));
  const sock = join(dir, "sock");
  daemon = await spawnDaemon(["--listen", sock, "--uri", "test:///default"], [sock]);
  uri = `test+unix:///default?socket=${sock}`;
  binDir = join(dir, "bin");
  mkdirSync(binDir);
  symlinkSync(tvirshBin, join(binDir, "tvirsh"));
});

test.after(async () => {
  await daemon?.stop("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

const complete = async (...words: string[]): Promise<string[]> => {
  const r = await run(process.execPath, [tvirshBin, "complete", "--", ...words]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").filter((l) => l !== "");
};

test("tvirsh complete: commands and options from the command table, names from the daemon", async () => {
  assert.deepEqual(
    await complete("net-st"),
    allCommands
      .map((c) => c.name)
      .filter((n) => n.startsWith("net-st"))
      .sort(),
  );
  assert.deepEqual(await complete("list", "--ina"), ["--inactive"]);
  assert.deepEqual(await complete("-c", uri, "dominfo", ""), ["test"]);
  assert.deepEqual(await complete("--connect", uri, "net-info", ""), ["default"]);
  assert.deepEqual(await complete("-c", uri, "pool-info", "--pool", "def"), ["default-pool"]);
  assert.deepEqual(await complete("--conn"), ["--connect"]);
  assert.deepEqual(await complete("-c"), [], "the URI being typed: nothing");
  assert.deepEqual(await complete("nosuchcommand", ""), []);
  // no daemon answering: commands still complete, names do not
  assert.deepEqual(
    await complete("-c", `test+unix:///default?socket=${join(dir, "none")}`, "dominfo", ""),
    [],
  );
});

const CASES = (u: string): [string, string][] => [
  ["tvirsh dominf", "tvirsh dominfo "],
  ["tvirsh list --ina", "tvirsh list --inactive "],
  [`tvirsh -c ${u} dominfo te`, `tvirsh -c ${u} dominfo test `],
  [`tvirsh -c ${u} net-info def`, `tvirsh -c ${u} net-info default `],
  [`tvirsh -c ${u} pool-info default-`, `tvirsh -c ${u} pool-info default-pool `],
];

test(
  "bash: TAB completes a command, an option and names asked of the daemon",
  { timeout: 300_000 },
  async (t) => {
    const python = python3OrSkip(t);
    const bash = shellOrSkip(t, "bash");
    if (!python || !bash) return;
    const cases = CASES(uri);
    const got = await ptyRun(python, {
      argv: [bash, "--norc", "--noprofile", "-i"],
      env: {
        PATH: `${binDir}:${dirname(process.execPath)}:/usr/bin:/bin`,
        HOME: dir,
        TERM: "dumb",
        PS1: "$ ",
      },
      setup: ["bind 'set bell-style none'", `source ${bashScript}`],
      cases: cases.map(([typed]) => typed),
    });
    assert.deepEqual(
      got,
      cases.map(([, want]) => want),
    );
  },
);

test(
  "zsh: TAB completes a command, an option and names asked of the daemon",
  { timeout: 300_000 },
  async (t) => {
    const python = python3OrSkip(t);
    const zsh = shellOrSkip(t, "zsh");
    if (!python || !zsh) return;
    const cases = CASES(uri);
    const got = await ptyRun(python, {
      argv: [zsh, "-f", "-i"],
      env: { PATH: `${binDir}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, TERM: "dumb" },
      setup: [
        "PS1='$ '; unsetopt PROMPT_SP; setopt nonomatch; bindkey -e",
        `fpath=(${zshDir} $fpath); autoload -Uz compinit; compinit -u -D`,
      ],
      cases: cases.map(([typed]) => typed),
    });
    // zsh's space after a completed word is a suffix it takes back at the next key (Ctrl-A)
    assert.deepEqual(
      got,
      cases.map(([, want]) => want.trimEnd()),
    );
  },
);
