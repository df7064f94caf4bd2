/**
 * The first five minutes: build the tiny guest, write its domain XML, turn it into QEMU's
 * command line with tvirt (what `tvirsh domxml-to-native` prints), boot it under QEMU with that
 * argv, show it running over QMP and print its serial console, then power it off.
 *
 *   npm run demo
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { domainXMLToNative } from "../drivers/qemu/native.ts";
import { connectQmp } from "../drivers/qemu/monitor/qmp.ts";
import { ensureTestGuest, guestDomainXML } from "../testing/guest/index.ts";
import { shellJoin, shellQuote } from "../util/shell-quote.ts";
import { toVirtError } from "../util/errors/index.ts";

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "tvirt-demo-"));
  let pid: number | undefined;
  try {
    console.log("== building the tiny test guest (cached after the first run)");
    const guest = await ensureTestGuest();
    console.log(`kernel ${guest.kernel}\ninitrd ${guest.initrd}\n`);

    const consoleLog = join(root, "console.log");
    const xml = guestDomainXML({ name: "demo", mode: "counter", kernel: guest.kernel, initrd: guest.initrd, serialLogPath: consoleLog });
    const xmlFile = join(root, "demo.xml");
    writeFileSync(xmlFile, xml);
    console.log(`== domain XML (${xmlFile})\n${xml}`);

    const { command, context, warnings } = await domainXMLToNative(xml, { root: { kind: "embed", root }, document: xmlFile });
    for (const w of warnings) console.log(`warning: ${w.message}`);
    const env = command.env.map(([k, v]) => `${k}=${shellQuote(v)}`);
    console.log(`== QEMU command line built by tvirt (tvirsh domxml-to-native qemu-argv ${xmlFile})\n${[...env, shellJoin([command.emulator, ...command.args])].join(" ")}\n`);

    // Prepare what the command line refers to, as the driver will: per-domain dir, log.
    mkdirSync(context.paths.domainDir, { recursive: true, mode: 0o700 });
    writeFileSync(context.paths.masterKeyFile, randomBytes(32), { mode: 0o600 });
    if (!("path" in context.monitor)) throw new Error("the demo needs a monitor socket path");
    const monitorPath = context.monitor.path;
    const logFd = openSync(join(root, "qemu.log"), "a");
    const child = spawn(command.emulator, command.args, {
      env: Object.fromEntries(command.env),
      stdio: ["ignore", logFd, logFd],
      detached: true,
    });
    closeSync(logFd);
    pid = child.pid;
    child.unref();
    console.log(`== started QEMU, pid ${pid} (paused with -S)`);

    const exited = new AbortController();
    child.on("exit", () => { exited.abort(); });
    const qmp = await connectQmp({ path: monitorPath, name: "domain 'demo'", timeoutMs: 15_000, signal: exited.signal }).catch((e: unknown) => {
      const log = readFileSync(join(root, "qemu.log"), "utf8").trim();
      throw new Error(`${toVirtError(e).message}\nQEMU log:\n${log}`);
    });
    try {
      await qmp.execute("cont");
      const status = (await qmp.execute("query-status")) as { status: string };
      console.log(`== QMP query-status: ${status.status}\n`);
      console.log("== serial console (ttyS0):");
      let shown = 0;
      const until = Date.now() + 20_000;
      while (Date.now() < until) {
        await sleep(250);
        const text = existsSync(consoleLog) ? readFileSync(consoleLog, "utf8") : "";
        const lines = text.split("\n").filter((l) => /GUEST-BOOTED|TVIRT-GUEST-READY|COUNTER/.test(l));
        for (const l of lines.slice(shown)) console.log(`  ${l.trim()}`);
        shown = Math.max(shown, lines.length);
        if (lines.some((l) => l.includes("COUNTER 3"))) break;
      }
      if (shown === 0) throw new Error(`the guest printed nothing; see ${consoleLog} and ${join(root, "qemu.log")}`);
      await qmp.execute("quit").catch(() => undefined);
      console.log("\n== powered off (QMP quit)");
    } finally {
      await qmp.close();
    }
  } finally {
    if (pid !== undefined) {
      try {
        process.kill(pid, 0);
        await sleep(500);
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`error: ${toVirtError(e).message}`);
  process.exitCode = 1;
});
