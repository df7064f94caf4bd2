/**
 * Serial console latency, keystroke to echo, on one TCG guest (shell mode) served by a tvirtd
 * (qemu:///session in a private directory), three ways:
 *
 * - `tvirsh console` in a pty (python3's pty.spawn, no shell): a byte written to the terminal
 *   until its echo comes back out of it;
 * - the library's console stream (`dom.openConsole()` over the daemon's RPC), what tvirsh uses;
 * - the web page in headless Chromium, served by the same tvirtd's web face (`web_listen_tcp`
 *   on loopback, as src/web/page.qemu.test.ts): xterm.js's input (as a key typed) through the
 *   ticketed WebSocket, the daemon's web face (over its own drivers, no RPC hop), to the echo
 *   parsed and drawn by xterm.js — measured in the page with performance.now().
 *
 * `npm run bench:web-console -- --rounds 60`
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import "../src/rpc/register.ts";
import { connect, type Connection } from "../src/api/index.ts";
import { launchChromium, terminalText } from "../src/testing/browser.ts";
import { repoRoot } from "../src/testing/corpus.ts";
import { ensureTestGuest, guestDomainXML } from "../src/testing/guest/index.ts";
import { privateSession } from "../src/testing/rpc/harness.ts";
import { spawnWebDaemon } from "../src/testing/web.ts";
import { buildWebAssets } from "../scripts/build-web.js";
import { createToken } from "../src/web/tokens.ts";
import { median } from "./stats.ts";

declare const window: unknown;

const { values } = parseArgs({ options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 40);
// eslint-disable-next-line no-control-regex
const PROMPT = /# (\x1b\[6n)?$/;
/** Letters to type: none that ends an escape sequence the shell sends (ESC [ 6 n). */
const LETTERS = "abcdefghijklmopqrstuvwxyz";
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function p90(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.9))] ?? NaN;
}

/** What a console printed; `changed` wakes a waiter (no polling: the guest needs the CPU). */
class Output {
  text = "";
  private waiter: (() => void) | undefined;
  push(s: string): void {
    this.text += s;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
  /** Resolves when `check` holds, checking on each arrival; rejects after `ms`. */
  async until(check: () => boolean, ms: number, what: string): Promise<void> {
    const deadline = performance.now() + ms;
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${what}: ${JSON.stringify(this.text.slice(-200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/** Keystroke → echo over a byte pipe: `send` a letter, wait for it in `output`, then erase it. */
async function echoLatency(send: (s: string) => void, output: Output, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ch = LETTERS[i % LETTERS.length]!;
    const from = output.text.length;
    const t0 = performance.now();
    send(ch);
    await output.until(() => output.text.slice(from).includes(ch), 5000, `no echo of ${ch}`);
    out.push(performance.now() - t0);
    const mark = output.text.length;
    send("\x7f"); // erase it again, and let the shell settle
    await output.until(() => output.text.length > mark, 5000, "no echo of DEL");
    await sleep(20);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "tvirt-bench-webcons-"));
const session = privateSession(dir);
const tokenFile = join(dir, "tokens.json");
const { token } = await createToken(tokenFile, "bench", false);
const { daemon: tvirtd, base } = await spawnWebDaemon({
  dir,
  args: ["--session", "--listen", session.sock, "--uri", "qemu:///session"],
  sock: session.sock,
  tokenFile,
  assetsDir: await buildWebAssets(join(dir, "web")),
  env: session.env,
});
let conn: Connection | undefined;
const name = "wcbench";
try {
  const g = await ensureTestGuest();
  conn = await connect(session.uri);
  const dom = await conn.defineXML(
    guestDomainXML({ name, mode: "shell", memoryMiB: 96, kernel: g.kernel, initrd: g.initrd }),
  );
  await dom.create();

  // 1. The library's stream (and waiting for the shell).
  const lib = new Output();
  const stream = await dom.openConsole(null, 1);
  stream.onData((d) => {
    lib.push(Buffer.from(d).toString("utf8"));
  });
  // (busybox's ash asks where the cursor is after its prompt: ESC [ 6 n)
  for (let i = 0; !PROMPT.test(lib.text); i++) {
    if (i > 120) throw new Error(`no shell prompt: ${lib.text.slice(-300)}`);
    stream.write(Buffer.from("\r"));
    await sleep(1000);
  }
  await sleep(500);
  const libTimes = await echoLatency(
    (s) => {
      stream.write(Buffer.from(s));
    },
    lib,
    rounds,
  );
  await stream.close();

  // 2. tvirsh console in a pty (python3's pty module; argv only, no shell).
  const py = "import pty, sys\npty.spawn(sys.argv[1:])";
  const child = spawn(
    "python3",
    [
      "-c",
      py,
      process.execPath,
      join(repoRoot, "bin", "tvirsh.js"),
      "-c",
      session.uri,
      "console",
      name,
      "--force",
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const cli = new Output();
  child.stdout.on("data", (d: Buffer) => {
    cli.push(d.toString("utf8"));
  });
  for (let i = 0; !cli.text.includes("Escape character"); i++) {
    if (i > 400 || child.exitCode !== null) throw new Error(`tvirsh console did not start: ${cli.text}`);
    await sleep(25);
  }
  child.stdin.write("\r");
  await sleep(1000);
  const cliTimes = await echoLatency((s) => child.stdin.write(s), cli, rounds);
  child.stdin.write("\x1d"); // ^] detaches
  await new Promise((r) => child.once("exit", r));

  // 3. The web page in Chromium, from the daemon's web face.
  const browser = (await launchChromium())!;
  let webTimes: number[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/#token=${token}`);
    page.on("pageerror", (e) => {
      console.error(`page error: ${String(e)}`);
    });
    await page.waitForSelector(`tr[data-domain="${name}"] a`);
    await page.click(`tr[data-domain="${name}"] a`);
    await page.waitForSelector("#serial .xterm");
    await sleep(1000);
    await page.evaluate(() => {
      (window as { tvirt: { term: { input(d: string, user: boolean): void } } }).tvirt.term.input("\r", true);
    });
    await sleep(1000);
    if (!/# $/m.test(await terminalText(page)))
      throw new Error(`no prompt in the page: ${await terminalText(page)}`);
    // As a string: tsx would name the inner functions with a helper the page does not have.
    webTimes = (await page.evaluate(`(async (n) => {
      const hooks = window.tvirt;
      let last = "";
      const typeAndWait = (ch) =>
        new Promise((resolve) => {
          const t0 = performance.now();
          // Done when the cursor's line shows the letter (or, after DEL, no longer does).
          hooks.onSerialWritten = () => {
            const b = hooks.term.buffer.active;
            const line = (b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? "").trimEnd();
            if (ch === "\\x7f" ? !line.endsWith(last) : line.endsWith(ch)) {
              hooks.onSerialWritten = undefined;
              resolve(performance.now() - t0);
            }
          };
          last = ch === "\\x7f" ? last : ch;
          hooks.term.input(ch, true);
        });
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push(await typeAndWait(${JSON.stringify(LETTERS)}[i % ${LETTERS.length}]));
        await typeAndWait("\\x7f");
        await new Promise((r) => setTimeout(r, 20));
      }
      return out;
    })(${rounds})`)) as number[];
  } finally {
    await browser.close();
  }

  const base0 = median(cliTimes);
  const rows = [
    ["tvirsh console (pty)", cliTimes],
    ["library openConsole", libTimes],
    ["web page (Chromium + xterm.js)", webTimes],
  ] as const;
  console.log(`\nserial console keystroke → echo, ${rounds} keys each, guest ${name} (TCG) via tvirtd\n`);
  console.log("| path                           | median ms | p90 ms | vs tvirsh console |");
  console.log("| ------------------------------ | --------: | -----: | ----------------: |");
  for (const [label, xs] of rows) {
    console.log(
      `| ${label.padEnd(30)} | ${median(xs).toFixed(2).padStart(9)} | ${p90(xs).toFixed(2).padStart(6)} | ${(median(xs) / base0).toFixed(2).padStart(16)}x |`,
    );
  }
} finally {
  // On a failure too: tvirtd leaves running guests behind when it stops, as libvirtd does.
  const dom = await conn?.lookupDomainByName(name).catch(() => undefined);
  if (dom && (await dom.isActive().catch(() => false))) await dom.destroy().catch(() => undefined);
  await dom?.undefine().catch(() => undefined);
  await conn?.close().catch(() => undefined);
  await tvirtd.stop();
  rmSync(dir, { recursive: true, force: true });
}
