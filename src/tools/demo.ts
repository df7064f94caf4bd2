/**
 * The first five minutes, as a user would type them: build the tiny test guest, then with
 * tvirsh on an embedded driver (`qemu:///embed?root=DIR`, no daemon) define it, start it, list
 * it running and show its serial console, then destroy and undefine it.
 *
 *   npm run demo
 */
import { runArgvSync } from "../util/spawn.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "../api/index.ts";
import { ensureTestGuest, guestDomainXML } from "../testing/guest/index.ts";
import { repoRoot } from "../testing/corpus.ts";
import { toVirtError } from "../util/errors/index.ts";

const tvirsh = join(repoRoot, "bin", "tvirsh.js");

function run(uri: string, ...args: string[]): void {
  console.log(`$ tvirsh -c '${uri}' ${args.join(" ")}`);
  const r = runArgvSync([process.execPath, tvirsh, "-c", uri, ...args]);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) throw new Error(`tvirsh ${args.join(" ")} failed with status ${String(r.status)}`);
}

async function showConsole(uri: string, name: string, seconds: number): Promise<void> {
  console.log(
    `== serial console of '${name}' (the stream \`tvirsh console ${name}\` attaches to; a terminal is needed for that command)`,
  );
  const conn = await connect(uri);
  try {
    const dom = await conn.lookupDomainByName(name);
    const stream = await dom.openConsole();
    let text = "";
    stream.onData((d) => {
      const s = Buffer.from(d).toString("utf8");
      text += s;
      process.stdout.write(s.replace(/\r/g, ""));
    });
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until && !/COUNTER \d+[\s\S]*COUNTER \d+[\s\S]*COUNTER \d+/.test(text))
      await sleep(100);
    await stream.close();
    if (!text.includes("COUNTER")) throw new Error("the guest's console showed no COUNTER line");
    console.log("");
  } finally {
    await conn.close();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "tvirt-demo-"));
  const uri = `qemu:///embed?root=${root}`;
  let started = false;
  try {
    console.log(
      "== building the tiny test guest (Debian cloud kernel + busybox; cached after the first run)",
    );
    const guest = await ensureTestGuest();
    const xmlFile = join(root, "demo.xml");
    writeFileSync(
      xmlFile,
      guestDomainXML({ name: "demo", mode: "counter", kernel: guest.kernel, initrd: guest.initrd }),
    );
    console.log(`kernel ${guest.kernel}\ninitrd ${guest.initrd}\n`);

    run(uri, "define", xmlFile);
    run(uri, "start", "demo");
    started = true;
    run(uri, "list", "--all");
    run(uri, "dominfo", "demo");
    await sleep(3000); // let it boot: the counter starts after GUEST-BOOTED
    await showConsole(uri, "demo", 15);
    run(uri, "destroy", "demo");
    started = false;
    run(uri, "undefine", "demo");
    run(uri, "list", "--all");
  } finally {
    if (started) runArgvSync([process.execPath, tvirsh, "-c", uri, "destroy", "demo"], { stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`error: ${toVirtError(e).message}`);
  process.exitCode = 1;
});
