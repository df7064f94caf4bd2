/**
 * `npx tsx src/testing/guest/cli.ts [--refresh] [--cache-dir DIR] [--verbose]`
 *
 * Builds the tiny test guest if needed and prints `{"kernel":…,"initrd":…,"version":…}` on
 * stdout. Progress goes to stderr with --verbose. Exit status 1 on failure, with the reason.
 */
import { parseArgs } from "node:util";
import { ensureTestGuest } from "./build.ts";
import { guestDomainXML } from "./domain-xml.ts";
import { GUEST_MODES, type GuestMode } from "./init-script.ts";

const usage = `usage: tsx src/testing/guest/cli.ts [--refresh] [--cache-dir DIR] [--verbose] [--xml MODE [--name NAME]]
  prints {"kernel": PATH, "initrd": PATH, "version": KERNEL-RELEASE} as JSON;
  with --xml, prints libvirt domain XML booting the guest in MODE (${GUEST_MODES.join(", ")}) instead`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        refresh: { type: "boolean" },
        "cache-dir": { type: "string" },
        verbose: { type: "boolean", short: "v" },
        xml: { type: "string" },
        name: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${usage}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const mode = values.xml;
  if (mode !== undefined && !(GUEST_MODES as readonly string[]).includes(mode)) {
    process.stderr.write(`unknown mode ${JSON.stringify(mode)}: expected one of ${GUEST_MODES.join(", ")}\n`);
    return 2;
  }
  const started = performance.now();
  const guest = await ensureTestGuest({
    ...(values["cache-dir"] === undefined ? {} : { cacheDir: values["cache-dir"] }),
    refresh: values.refresh === true,
    ...(values.verbose === true ? { log: (l: string) => process.stderr.write(`tvirt-guest: ${l}\n`) } : {}),
  });
  if (values.verbose === true)
    process.stderr.write(`tvirt-guest: ready in ${Math.round(performance.now() - started)} ms\n`);
  if (mode !== undefined) {
    process.stdout.write(
      guestDomainXML({
        name: values.name ?? `tvirt-tiny-${mode}`,
        mode: mode as GuestMode,
        kernel: guest.kernel,
        initrd: guest.initrd,
      }),
    );
  } else {
    process.stdout.write(`${JSON.stringify(guest)}\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tvirt-guest: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
