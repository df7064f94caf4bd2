/**
 * The web page in Debian's headless Chromium against a tvirtd serving a real TCG guest (issue
 * 16, "done when"). The test spawns tvirtd (`--uri qemu:///embed?root=DIR`, its RPC on a test
 * socket) with its web face configured (`web_listen_tcp` on loopback, `web_token_file`, the
 * built page as `TVIRT_WEB_ASSETS`); the guest is defined, started and screenshotted over an
 * RPC connection to that daemon (`qemu+unix:///system?socket=SOCK`), and Chromium opens the
 * page the daemon serves. The list shows the guest running; the serial console (xterm.js over a
 * ticketed WebSocket) shows the guest's counter and a typed command's output; a read-only
 * token's console and VNC take no input; the VNC canvas (noVNC) draws, and QMP's screendump
 * (over RPC) is the VGA text mode at noVNC's framebuffer size; shutdown from the page stops the
 * guest and the list follows within a second, without a reload; the web audit lines are in the
 * daemon's log.
 *
 * `TVIRT_WEB_SCREENSHOT=1` writes the page's picture to docs/web-page.png (the README's).
 */
import assert from "node:assert/strict";
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { DomainEventType, connect } from "../api/index.ts";
import "../rpc/register.ts";
import { guestDomainXML, testGuestOrSkip } from "../testing/guest/index.ts";
import { decodePng, decodeScreenshot, type RgbImage } from "../testing/graphics/image.ts";
import { launchChromium, pageUntil, terminalText, textOf } from "../testing/browser.ts";
import { makeTestRoot } from "../testing/qemu/driver.ts";
import type { DaemonProcess } from "../testing/rpc/harness.ts";
import { spawnWebDaemon } from "../testing/web.ts";
import { buildWebAssets } from "../../scripts/build-web.js";
import { createToken } from "./tokens.ts";

// The functions given to page.evaluate run in Chromium; these are the parts of its globals they use.
declare const document: { querySelector(sel: string): { textContent: string | null } | null };
declare const location: { hash: string };
declare const window: unknown;

interface Hooks {
  tvirt: { vncConnected: boolean; listRenders: number };
  noReload?: number;
}

/** How many distinct colours an image has (capped): a blank canvas has one. */
function colours(img: RgbImage, cap = 64): number {
  const seen = new Set<number>();
  for (let i = 0; i + 2 < img.rgb.length && seen.size < cap; i += 3)
    seen.add(((img.rgb[i] ?? 0) << 16) | ((img.rgb[i + 1] ?? 0) << 8) | (img.rgb[i + 2] ?? 0));
  return seen.size;
}

test(
  "the web page drives a real guest: list, serial and VNC consoles, shutdown",
  { timeout: 150_000 },
  async (t) => {
    const g = await testGuestOrSkip(t);
    if (!g) return;
    const browser = await launchChromium(t);
    if (!browser) return;
    const tr = makeTestRoot("tvirt-webpage-");
    const name = "page1";
    const tokenFile = join(tr.root, "tokens.json");
    const sock = join(tr.root, "sock");
    let daemon: DaemonProcess | undefined;
    let conn: Awaited<ReturnType<typeof connect>> | undefined;
    try {
      const { token } = await createToken(tokenFile, "admin", false);
      const { token: viewer } = await createToken(tokenFile, "viewer", true);
      const assetsDir = await buildWebAssets(join(tr.root, "web"));
      const served = await spawnWebDaemon({
        dir: tr.root,
        args: ["--listen", sock, "--uri", tr.uri],
        sock,
        tokenFile,
        assetsDir,
        env: { ...process.env, LANG: "C", LC_ALL: "C" },
      });
      daemon = served.daemon;
      const base = served.base;
      const d = daemon;
      /** The daemon's log messages (without the timestamp, pid and priority). */
      const audit = (): string[] =>
        d
          .stderr()
          .split("\n")
          .map((l) => l.replace(/^.*?: \d+: \w+ : /, ""));
      conn = await connect(`qemu+unix:///system?socket=${sock}`);
      const disk = join(tr.root, "data.img");
      writeFileSync(disk, "");
      truncateSync(disk, 8 << 20);
      const xml = guestDomainXML({
        name,
        mode: "shell",
        extraCmdline: "tvirt.counter=1",
        memoryMiB: 96,
        kernel: g.kernel,
        initrd: g.initrd,
        // A disk for the guest page's table (the guest does not need it).
        extraDevicesXML:
          `    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>\n` +
          "    <graphics type='vnc' autoport='yes'/>",
      });
      const dom = await conn.defineXML(xml);
      let stoppedAt = 0;
      await conn.onLifecycle((d, event) => {
        if (d.name === name && event === DomainEventType.STOPPED) stoppedAt = performance.now();
      });
      await dom.create();
      tr.track();

      // The page is public, the data is not; a WebSocket without a ticket is refused before the upgrade.
      const index = await fetch(`${base}/`);
      assert.equal(index.status, 200);
      assert.match(index.headers.get("content-security-policy") ?? "", /default-src 'self'/);
      assert.equal((await fetch(`${base}/api/domains`)).status, 401);
      assert.equal((await fetch(`${base}/ws/domains/${name}/serial?ticket=nope`)).status, 401);

      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      await page.goto(`${base}/#token=${token}`);

      // 1. The list shows the guest running.
      await pageUntil(
        page,
        "the guest running in the list",
        () =>
          document.querySelector('tr[data-domain="page1"] [data-field="state"]')?.textContent === "running",
      );
      const row = await textOf(page, 'tr[data-domain="page1"]');
      assert.match(row, /page1running196 MiB/);
      // The token left the URL for sessionStorage.
      assert.equal(await page.evaluate(() => location.hash), "#/");

      /** Waits for `re` in the terminal's text (from offset `from`). */
      const waitTerm = async (re: RegExp, from = 0, timeoutMs = 20_000): Promise<void> => {
        const end = Date.now() + timeoutMs;
        while (!re.test((await terminalText(page)).slice(from))) {
          if (Date.now() > end) assert.fail(`no ${String(re)} in the terminal: ${await terminalText(page)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };

      // 2. The guest page: serial console.
      await page.click('tr[data-domain="page1"] a');
      await pageUntil(page, "the terminal", () => document.querySelector("#serial .xterm") !== null);
      // The guest's own counter (tvirt.counter=1) runs beside its shell from boot: it shows
      // in the terminal without any typing.
      const deadline = Date.now() + 90_000;
      let counters: number[] = [];
      while (Date.now() < deadline) {
        // (a line may start after the shell's prompt on the same line)
        counters = [...(await terminalText(page)).matchAll(/COUNTER (\d+)$/gm)].map((m) => Number(m[1]));
        if (counters.length >= 3) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(counters.length >= 3, `counter lines in the terminal: ${await terminalText(page)}`);
      // the counter counts on, one by one
      const last3 = counters.slice(-3);
      assert.deepEqual(last3, [last3[0]!, last3[0]! + 1, last3[0]! + 2], `counters ${counters.join(",")}`);
      // A typed command: the shell expands $((6*7)), so TYPED-42 is its output, not the echo of
      // the keys (the shell may need a moment after boot: typed again until it answers).
      await page.click("#serial .xterm");
      const t0 = Date.now();
      for (;;) {
        await page.keyboard.type("echo TYPED-$((6*7))\n");
        await new Promise((r) => setTimeout(r, 1500));
        if (/^TYPED-42$/m.test(await terminalText(page))) break;
        assert.ok(Date.now() - t0 < 60_000, `the shell never answered: ${await terminalText(page)}`);
      }

      // The guest page lists the disk from the persistent XML.
      await pageUntil(page, "the disks table", () => document.querySelector("#disks") !== null);
      assert.match(await textOf(page, "#disks"), /vdadiskvirtioraw.*data\.img/);

      // A read-only token's serial console shows output but drops what it types.
      const ro = (await (
        await fetch(`${base}/api/tickets`, {
          method: "POST",
          headers: { authorization: `Bearer ${viewer}`, "content-type": "application/json" },
          body: JSON.stringify({ domain: name, kind: "serial" }),
        })
      ).json()) as { url: string; readOnly: boolean };
      assert.equal(ro.readOnly, true);
      const roText = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}${ro.url}`);
        let text = "";
        ws.on("message", (d: Buffer) => (text += d.toString("utf8")));
        ws.on("error", reject);
        ws.on("open", () => {
          ws.send("echo VIEWER-$((2*3))\n");
          setTimeout(() => {
            ws.close();
            resolve(text);
          }, 2500);
        });
      });
      assert.match(roText, /COUNTER \d+/, "the viewer sees the console");
      assert.doesNotMatch(roText, /VIEWER/, "the viewer's keys never reach the guest");
      // The page's console still runs beside the viewer's (one console stream, shared).
      const before = (await terminalText(page)).length;
      await page.keyboard.type("echo AFTER-$((5*5))\n");
      await waitTerm(/^AFTER-25$/m, Math.max(0, before - 200));

      // 3. The VNC canvas draws, and QMP's screendump of the text mode is not blank.
      await pageUntil(page, "noVNC connected", () => (window as Hooks).tvirt.vncConnected);
      const canvas = await page.$("#vnc canvas");
      assert.ok(canvas);
      let drawn = 0;
      for (let i = 0; i < 40 && drawn < 2; i++) {
        drawn = colours(decodePng(Buffer.from(await canvas.screenshot({ type: "png" }))));
        if (drawn < 2) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(drawn >= 2, `the VNC canvas has ${drawn} colour(s): blank`);
      const shot = await dom.screenshot(0);
      const chunks: Buffer[] = [];
      for await (const c of shot.stream) chunks.push(Buffer.from(c));
      const screen = decodeScreenshot(shot.mime, Buffer.concat(chunks));
      assert.ok(colours(screen) >= 2, `the screendump (${shot.mime}) is blank`);
      // The screendump and the page's VNC picture are the same screen: VGA text mode (80x25
      // characters of 9x16 pixels), at the framebuffer size noVNC draws.
      assert.deepEqual([screen.width, screen.height], [720, 400], "the guest's VGA text mode");
      const fb = await page.$eval("#vnc canvas", (c) => [
        (c as { width: number }).width,
        (c as { height: number }).height,
      ]);
      assert.deepEqual(fb, [screen.width, screen.height], "noVNC's framebuffer is the screendump's size");

      // A read-only token's VNC: the picture (RFB handshake to ServerInit) but no input; a
      // message the filter cannot parse closes the connection.
      const roVnc = (await (
        await fetch(`${base}/api/tickets`, {
          method: "POST",
          headers: { authorization: `Bearer ${viewer}`, "content-type": "application/json" },
          body: JSON.stringify({ domain: name, kind: "vnc" }),
        })
      ).json()) as { url: string };
      const rfb = await new Promise<{ width: number; height: number; closeCode: number }>(
        (resolve, reject) => {
          const ws = new WebSocket(`${base.replace("http", "ws")}${roVnc.url}`);
          let buf = Buffer.alloc(0);
          let step = 0;
          let size = { width: 0, height: 0 };
          ws.on("error", reject);
          ws.on("close", (code) => {
            resolve({ ...size, closeCode: code });
          });
          ws.on("message", (d: Buffer) => {
            buf = Buffer.concat([buf, d]);
            if (step === 0 && buf.length >= 12) {
              ws.send(Buffer.from("RFB 003.008\n"));
              buf = buf.subarray(12);
              step = 1;
            }
            if (step === 1 && buf.length >= 1 && buf.length >= 1 + (buf[0] ?? 0)) {
              assert.ok([...buf.subarray(1, 1 + (buf[0] ?? 0))].includes(1), "security type None offered");
              buf = buf.subarray(1 + (buf[0] ?? 0));
              ws.send(Buffer.from([1]));
              step = 2;
            }
            if (step === 2 && buf.length >= 4) {
              assert.equal(buf.readUInt32BE(0), 0, "security result OK");
              buf = buf.subarray(4);
              ws.send(Buffer.from([1])); // ClientInit, shared
              step = 3;
            }
            if (step === 3 && buf.length >= 24) {
              size = { width: buf.readUInt16BE(0), height: buf.readUInt16BE(2) };
              step = 4;
              // A key press (dropped: the connection stays), then garbage (closed by the filter).
              ws.send(Buffer.from([4, 1, 0, 0, 0, 0, 0, 0x61]));
              setTimeout(() => {
                ws.send(Buffer.from([77, 0, 0, 0]));
              }, 300);
            }
          });
        },
      );
      assert.ok(rfb.width > 0 && rfb.height > 0, `ServerInit through the proxy: ${JSON.stringify(rfb)}`);
      assert.equal(rfb.closeCode, 4003, "the view-only filter closes on what it cannot parse");

      if (process.env.TVIRT_WEB_SCREENSHOT === "1") {
        const docs = fileURLToPath(new URL("../../docs/", import.meta.url));
        mkdirSync(docs, { recursive: true });
        writeFileSync(join(docs, "web-page.png"), await page.screenshot({ type: "png", fullPage: false }));
      }

      // 4. Shutdown from the list; the row follows within a second of the guest stopping, no reload.
      await page.click('a[href="#/"]');
      await pageUntil(page, "the list", () => document.querySelector('tr[data-domain="page1"]') !== null);
      await page.evaluate(() => ((window as Hooks).noReload = 1));
      await page.click('tr[data-domain="page1"] button[data-action="shutdown"]');
      const tShut = performance.now();
      while (stoppedAt === 0) {
        assert.ok(performance.now() - tShut < 60_000, "the guest did not power off after ACPI shutdown");
        await new Promise((r) => setTimeout(r, 20));
      }
      await pageUntil(
        page,
        "shutoff in the list",
        () =>
          document.querySelector('tr[data-domain="page1"] [data-field="state"]')?.textContent === "shutoff",
        5000,
      );
      const lag = performance.now() - stoppedAt;
      assert.ok(lag < 1000, `the list showed shutoff ${lag.toFixed(0)} ms after the guest stopped`);
      assert.equal(await page.evaluate(() => (window as Hooks).noReload), 1, "the page was not reloaded");
      assert.equal(await dom.isActive(), false);
      assert.deepEqual(pageErrors, []);
      // The audit is the daemon's log (log_level 2: info).
      assert.ok(
        audit().some((l) => l === `web: token=admin POST /api/domains/${name}/shutdown -> 200`),
        d.stderr(),
      );
      assert.ok(
        audit().some((l) => l === `web: token=viewer console serial ${name} (view only)`),
        d.stderr(),
      );
      t.diagnostic(`list updated ${lag.toFixed(0)} ms after the guest stopped; canvas colours ${drawn}`);
    } finally {
      await browser.close();
      await conn?.close().catch(() => undefined);
      // the guest's pid from its status file, before the daemon goes (cleanup kills what is left)
      tr.track();
      await daemon?.stop();
      await tr.cleanup();
    }
  },
);
