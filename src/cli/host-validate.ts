/**
 * `tvirt-host-validate [OPTIONS] [HV-TYPE]`: virt-host-validate's command line (`-q`, `-v`,
 * `-h`, `qemu`), its lines for its checks, tvirt's own checks after them, a `fix:` line under
 * every check that does not pass, and `--json`. Exits 1 when a check failed, as libvirt's tool.
 */
import { LIBVIRT_COMPAT_VERSION, formatVersion, formatCheck, validateHost } from "../api/index.ts";
import { processIo, toJson, type Io } from "./output.ts";

const USAGE = `
tvirt-host-validate: validate host virtualization setup

 Usage:
   tvirt-host-validate [OPTIONS] [HV-TYPE]

 Options:
   -h, --help     Display command line help
   -v, --version  Display command version
   -q, --quiet    Don't display progress information
   --json         Print the checks as one JSON document

 HV-TYPE: qemu (the only hypervisor tvirt manages)
`;

export async function main(
  argv: readonly string[],
  io: Io = processIo,
  tty = process.stdout.isTTY,
): Promise<number> {
  let quiet = false;
  let json = false;
  let hv: string | undefined;
  for (const a of argv) {
    if (a === "-h" || a === "--help") {
      io.out(USAGE.slice(1));
      return 0;
    } else if (a === "-v" || a === "--version") {
      io.out(`${formatVersion(LIBVIRT_COMPAT_VERSION)}\n`);
      return 0;
    } else if (a === "-q" || a === "--quiet") quiet = true;
    else if (a === "--json") json = true;
    else if (a.startsWith("-")) {
      io.err(`tvirt-host-validate: unknown option '${a}' (allowed: -h, -v, -q, --json)\n`);
      return 1;
    } else if (hv === undefined) hv = a;
    else {
      io.err(`tvirt-host-validate: too many command line arguments: '${a}'\n`);
      return 1;
    }
  }
  if (hv !== undefined && hv.toLowerCase() !== "qemu") {
    io.err(`tvirt-host-validate: unsupported hypervisor name '${hv}': tvirt validates 'qemu' only\n`);
    return 1;
  }
  const v = await validateHost();
  if (json) {
    io.out(toJson({ result: v.result, checks: v.checks }));
  } else {
    for (const c of v.checks) {
      if (quiet && (c.result === "PASS" || c.result === "NOTE")) continue;
      io.out(`${formatCheck(c, tty)}\n`);
      if (c.fix && c.result !== "PASS") io.out(`${" ".repeat(8)}fix: ${c.fix}\n`);
    }
  }
  return v.result === "FAIL" ? 1 : 0;
}
