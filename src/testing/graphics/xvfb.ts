/**
 * Test helper: a private X server (`Xvfb :N -displayfd`, which writes the display number on the
 * given fd once it accepts clients) for graphical clients such as
 * remote-viewer and virt-viewer, and grabs of its screen (`xwd -root`, decoded to RGB).
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import type { TestContext } from "node:test";
import { runArgv, startArgv, type ChildProcess } from "../../util/spawn.ts";
import { decodeXwd, type RgbImage } from "./image.ts";

export interface Xvfb {
  /** `:N` */
  readonly display: string;
  /** The environment for a client of this server (`DISPLAY`, no session bus or accessibility). */
  readonly env: Record<string, string>;
  /** The whole screen now (`file`: where the XWD dump is written; removed after reading). */
  grab(file: string): Promise<RgbImage>;
  stop(): Promise<void>;
}

const TOOLS = ["/usr/bin/Xvfb", "/usr/bin/xwd"];

/** The missing tools (Debian packages xvfb and x11-apps), or undefined when all are there. */
export function xvfbMissing(): string | undefined {
  const missing = TOOLS.filter((t) => !existsSync(t));
  return missing.length > 0 ? missing.join(", ") : undefined;
}

/** Under CI=true a missing tool fails the test, else the test says so and skips. */
export function xvfbOrSkip(t: TestContext): boolean {
  const missing = xvfbMissing();
  if (missing === undefined) return true;
  if (process.env.CI === "true") throw new Error(`missing ${missing} (scripts/setup installs them)`);
  t.skip(`missing ${missing}`);
  return false;
}

/**
 * Starts Xvfb with one screen of `width`x`height`x24, on a display number of its own: several
 * test processes (and other people's X servers) share the machine, so the number comes from
 * this process's pid (low numbers are the usual ones), the next one tried when it is taken.
 */
export async function startXvfb(width = 1280, height = 1024): Promise<Xvfb> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const number = 100 + ((process.pid * 7 + attempt * 131) % 800);
    try {
      return await startOn(number, width, height);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}

async function startOn(wanted: number, width: number, height: number): Promise<Xvfb> {
  const child: ChildProcess = startArgv(
    [
      "/usr/bin/Xvfb",
      `:${wanted}`,
      "-displayfd",
      "3",
      "-screen",
      "0",
      `${width}x${height}x24`,
      "-nolisten",
      "tcp",
      "-noreset",
    ],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const fd3 = child.stdio[3] as NodeJS.ReadableStream;
  const number = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`Xvfb gave no display number in 20 s: ${stderr}`));
    }, 20_000);
    fd3.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(out.trim());
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}): ${stderr}`));
    });
  });
  const display = `:${number}`;
  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
    DISPLAY: display,
    NO_AT_BRIDGE: "1",
    GTK_A11Y: "none",
    DBUS_SESSION_BUS_ADDRESS: "disabled:",
    XDG_SESSION_TYPE: "x11",
    GDK_BACKEND: "x11",
  };
  return {
    display,
    env,
    async grab(file: string): Promise<RgbImage> {
      const r = await runArgv(["/usr/bin/xwd", "-root", "-silent", "-display", display, "-out", file], {
        env,
      });
      if (r.code !== 0) throw new Error(`xwd failed (${r.code}): ${r.stderr}`);
      try {
        return decodeXwd(await readFile(file));
      } finally {
        await rm(file, { force: true });
      }
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) =>
        child.once("exit", () => {
          r();
        }),
      );
      child.kill("SIGTERM");
      await gone;
    },
  };
}
