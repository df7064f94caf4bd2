/**
 * Debian's headless Chromium for the web page's tests and bench, driven by puppeteer-core (no
 * browser download: scripts/setup installs the `chromium` package). Missing Chromium skips the
 * test, and fails it under CI=true.
 */
import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const CHROMIUM = process.env.TVIRT_CHROMIUM ?? "/usr/bin/chromium";

/** Starts headless Chromium, or skips `t` (undefined) when it is not installed. */
export async function launchChromium(t?: TestContext): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} is not installed (apt-get install chromium)`;
    if (process.env.CI === "true" || !t) throw new Error(`${why}: it is required under CI`);
    t.skip(why);
    return undefined;
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespaces for the sandbox; the page is our own.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--mute-audio"],
    defaultViewport: { width: 1400, height: 1000 },
  });
}

/** The text the page's xterm.js terminal shows (its whole buffer, lines joined). */
export function terminalText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const term = (globalThis as unknown as { tvirt: { term?: { buffer: { active: TermBuffer } } } }).tvirt
      .term;
    if (!term) return "";
    const b = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  });
}

interface TermBuffer {
  length: number;
  getLine(i: number): { translateToString(trim: boolean): string } | undefined;
}

/** Waits until `fn` (run in the page) returns something truthy. */
export async function pageUntil<T>(page: Page, what: string, fn: () => T, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`page: timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The text of the first element matching `selector` ("" when there is none). */
export function textOf(page: Page, selector: string): Promise<string> {
  return page.evaluate((sel: string) => {
    const doc = (
      globalThis as unknown as {
        document: { querySelector(s: string): { textContent: string | null } | null };
      }
    ).document;
    return doc.querySelector(sel)?.textContent ?? "";
  }, selector);
}
