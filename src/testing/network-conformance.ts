/**
 * Conformance against libvirt's network corpus (the sample in ../shared/reference/libvirt-network,
 * or the full suite's `tests/network*` in the cache), read in place: the three harnesses of
 * libvirt's tests, run through tvirt's pure code.
 *
 * - xml2xml (`networkxml2xmltest.c`): `networkxml2xmlin/<n>.xml` parsed and formatted equals
 *   `networkxml2xmlout/<n>.xml`; without an output file the case is a parse error, which libvirt
 *   only checks fails (exact when tvirt refuses it with a user error).
 * - xml2conf (`networkxml2conftest.c`): `networkxml2confdata/<n>.xml` gives `<n>.conf` and, when
 *   the corpus has one, `<n>.hostsfile` (none may be generated otherwise); state dir
 *   `/var/lib/libvirt/dnsmasq`, dnsmasq faked as 2.67.
 * - xml2firewall (`networkxml2firewalltest.c`): `networkxml2firewalldata/<n>.xml` gives
 *   `<n>-linux.iptables` and `<n>-linux.nftables` as libvirt's dry run prints them, and the
 *   global setup gives `base.iptables` / `base.nftables`.
 *
 * A network (an xml2xml case) counts as exact when its round trip is, and so is its xml2conf
 * case of the same name where there is one.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatNetwork, parseNetwork } from "../conf/network/index.ts";
import { dnsmasqConfig, type DnsmasqContext } from "../drivers/network/dnsmasq.ts";
import {
  FIREWALL_BACKENDS,
  firewallSetupCommands,
  networkFirewallCommands,
  type Argv,
} from "../drivers/network/firewall.ts";
import { isVirtError } from "../util/errors/index.ts";

/** libvirt's xml2conf test context. */
export const LIBVIRT_DNSMASQ_TEST_CONTEXT: DnsmasqContext = {
  stateDir: "/var/lib/libvirt/dnsmasq",
  version: [2, 67],
};

/** Shell quoting as libvirt prints arguments: in single quotes when empty or holding a shell metacharacter. */
function quote(arg: string): string {
  if (arg !== "" && !/[\r\t\n !"#$&'()*;<>?[\\\]^`{|}~]/.test(arg)) return arg;
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/**
 * libvirt's dry-run printing: one command after another, continuation ` \` between arguments;
 * an option (`-x`, `--xx`) starts a line and its first value stays on it (as does a `!` that
 * negates the next option), any other positional argument starts its own line.
 */
export function printLikeLibvirt(cmds: readonly Argv[]): string {
  let s = "";
  for (const argv of cmds) {
    argv.forEach((arg, i) => {
      if (i > 0) {
        const sameLine = !arg.startsWith("-") && (argv[i - 1]!.startsWith("-") || arg === "!");
        s += sameLine ? " " : " \\\n";
      }
      s += quote(arg);
    });
    s += "\n";
  }
  return s;
}

/**
 * Differences kept on purpose, with the reason (the list only shrinks): printed beside the
 * verdict instead of the first differing line.
 */
export const NETWORK_DELIBERATE_DIFFERENCES: Readonly<Record<string, string>> = {
  "xml2conf nat-network-name-with-quotes":
    "libvirt XML-escapes the name in the dhcp-hostsfile= and addn-hosts= lines (&quot;) while the " +
    "files it writes carry the plain name; tvirt points dnsmasq at the files it writes",
};

export type NetVerdict = "exact" | "differs" | "error";

export interface NetCaseResult {
  readonly kind: "xml2xml" | "xml2conf" | "xml2firewall";
  /** Case name; firewall cases carry the backend: `nat-default (nftables)`, `base (iptables)`. */
  readonly name: string;
  readonly verdict: NetVerdict;
  /** Why it is not exact (first differing line, or the error). */
  readonly note?: string;
}

export interface NetworkConformance {
  readonly dir: string;
  readonly results: readonly NetCaseResult[];
  /** Networks (xml2xml cases) and how many are exact with their xml2conf case. */
  readonly networks: { readonly exact: number; readonly of: number; readonly notExact: readonly string[] };
}

/** The layout's test dir: the sample's root, or the full suite's `tests/`. */
export function networkDataDir(root: string): string | undefined {
  for (const d of [root, join(root, "tests")]) if (existsSync(join(d, "networkxml2xmlin"))) return d;
  return undefined;
}

function firstDifference(got: string, want: string): string {
  const g = got.split("\n");
  const w = want.split("\n");
  for (let i = 0; i < Math.max(g.length, w.length); i++) {
    if (g[i] !== w[i])
      return `line ${i + 1}: got ${JSON.stringify(g[i] ?? "")}, libvirt ${JSON.stringify(w[i] ?? "")}`;
  }
  return "same lines, different bytes";
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function names(dir: string, ext: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => f.slice(0, -ext.length))
    .sort();
}

function compare(
  kind: NetCaseResult["kind"],
  name: string,
  parts: readonly { label: string; got: string | undefined; want: string | undefined }[],
): NetCaseResult {
  for (const p of parts) {
    if (p.got === p.want) continue;
    const note =
      p.want === undefined
        ? `${p.label}: libvirt writes none, tvirt does`
        : p.got === undefined
          ? `${p.label}: tvirt writes none`
          : `${p.label}: ${firstDifference(p.got, p.want)}`;
    const why = NETWORK_DELIBERATE_DIFFERENCES[`${kind} ${name}`];
    return { kind, name, verdict: "differs", note: why !== undefined ? `deliberate: ${why}` : note };
  }
  return { kind, name, verdict: "exact" };
}

export function runXml2Xml(data: string): NetCaseResult[] {
  return names(join(data, "networkxml2xmlin"), ".xml").map((c): NetCaseResult => {
    const input = readFileSync(join(data, "networkxml2xmlin", `${c}.xml`), "utf8");
    const outFile = join(data, "networkxml2xmlout", `${c}.xml`);
    if (!existsSync(outFile)) {
      try {
        parseNetwork(input);
      } catch (e) {
        if (isVirtError(e) && e.kind === "user") return { kind: "xml2xml", name: c, verdict: "exact" };
        return { kind: "xml2xml", name: c, verdict: "error", note: `not a user error: ${errText(e)}` };
      }
      return {
        kind: "xml2xml",
        name: c,
        verdict: "differs",
        note: "libvirt refuses this definition, tvirt accepts it",
      };
    }
    try {
      const got = formatNetwork(parseNetwork(input, { document: `${c}.xml` }).def);
      return compare("xml2xml", c, [{ label: "xml", got, want: readFileSync(outFile, "utf8") }]);
    } catch (e) {
      return { kind: "xml2xml", name: c, verdict: "error", note: errText(e) };
    }
  });
}

export function runXml2Conf(data: string): NetCaseResult[] {
  const dir = join(data, "networkxml2confdata");
  return names(dir, ".conf").map((c): NetCaseResult => {
    try {
      const { def } = parseNetwork(readFileSync(join(dir, `${c}.xml`), "utf8"));
      const got = dnsmasqConfig(def, LIBVIRT_DNSMASQ_TEST_CONTEXT);
      const hf = join(dir, `${c}.hostsfile`);
      return compare("xml2conf", c, [
        { label: ".conf", got: got.conf, want: readFileSync(join(dir, `${c}.conf`), "utf8") },
        {
          label: ".hostsfile",
          got: got.hostsFile,
          want: existsSync(hf) ? readFileSync(hf, "utf8") : undefined,
        },
      ]);
    } catch (e) {
      return { kind: "xml2conf", name: c, verdict: "error", note: errText(e) };
    }
  });
}

export function runXml2Firewall(data: string): NetCaseResult[] {
  const dir = join(data, "networkxml2firewalldata");
  const out: NetCaseResult[] = [];
  for (const backend of FIREWALL_BACKENDS) {
    const base = join(dir, `base.${backend}`);
    if (existsSync(base)) {
      out.push(
        compare("xml2firewall", `base (${backend})`, [
          {
            label: `base.${backend}`,
            got: printLikeLibvirt(firewallSetupCommands(backend)),
            want: readFileSync(base, "utf8"),
          },
        ]),
      );
    }
    for (const c of names(dir, ".xml")) {
      const want = join(dir, `${c}-linux.${backend}`);
      if (!existsSync(want)) continue;
      const name = `${c} (${backend})`;
      try {
        const { def } = parseNetwork(readFileSync(join(dir, `${c}.xml`), "utf8"));
        const got = printLikeLibvirt(networkFirewallCommands(def, backend));
        out.push(
          compare("xml2firewall", name, [
            { label: `${c}-linux.${backend}`, got, want: readFileSync(want, "utf8") },
          ]),
        );
      } catch (e) {
        out.push({ kind: "xml2firewall", name, verdict: "error", note: errText(e) });
      }
    }
  }
  return out;
}

/** Runs the three harnesses over a corpus (the sample's root or the suite's root). */
export function runNetworkConformance(root: string): NetworkConformance {
  const data = networkDataDir(root);
  if (data === undefined) throw new Error(`no network corpus under ${root}`);
  const xml = runXml2Xml(data);
  const conf = runXml2Conf(data);
  const fw = runXml2Firewall(data);
  const confByName = new Map(conf.map((r) => [r.name, r]));
  const notExact = xml
    .filter((r) => r.verdict !== "exact" || (confByName.get(r.name)?.verdict ?? "exact") !== "exact")
    .map((r) => r.name);
  return {
    dir: data,
    results: [...xml, ...conf, ...fw],
    networks: { exact: xml.length - notExact.length, of: xml.length, notExact },
  };
}

/** Per-harness totals: `{xml2xml: {exact, of}, ...}`. */
export function networkTotals(
  results: readonly NetCaseResult[],
): Record<NetCaseResult["kind"], { exact: number; of: number }> {
  const t = {
    xml2xml: { exact: 0, of: 0 },
    xml2conf: { exact: 0, of: 0 },
    xml2firewall: { exact: 0, of: 0 },
  };
  for (const r of results) {
    t[r.kind].of++;
    if (r.verdict === "exact") t[r.kind].exact++;
  }
  return t;
}

/** The summary line. */
export function networkSummary(c: NetworkConformance): string {
  const t = networkTotals(c.results);
  return (
    `networks: ${c.networks.exact} of ${c.networks.of} exact; xml2xml ${t.xml2xml.exact}/${t.xml2xml.of}, ` +
    `xml2conf ${t.xml2conf.exact}/${t.xml2conf.of}, xml2firewall ${t.xml2firewall.exact}/${t.xml2firewall.of}`
  );
}

/** The printed table: `kind | case | verdict`, reasons under the rows that are not exact. */
export function networkTable(c: NetworkConformance): string {
  const w = Math.max(4, ...c.results.map((r) => r.name.length));
  const lines = [
    `${"kind".padEnd(12)} | ${"case".padEnd(w)} | verdict`,
    `${"-".repeat(12)}-|-${"-".repeat(w)}-|---------`,
  ];
  for (const r of c.results) {
    lines.push(`${r.kind.padEnd(12)} | ${r.name.padEnd(w)} | ${r.verdict}`);
    if (r.verdict !== "exact" && r.note !== undefined)
      lines.push(`${"".padEnd(12)}   ${"".padEnd(w)}   ${r.note}`);
  }
  lines.push(networkSummary(c));
  if (c.networks.notExact.length > 0) lines.push(`networks not exact: ${c.networks.notExact.join(", ")}`);
  return lines.join("\n");
}

/** The network section of docs/conformance.md. */
export function networkDocSection(
  sample: NetworkConformance | undefined,
  suite: NetworkConformance | undefined,
): string {
  const row = (label: string, c: NetworkConformance | undefined): string => {
    if (!c) return `| ${label} | (absent) | | | |`;
    const t = networkTotals(c.results);
    return (
      `| ${label} | ${c.networks.exact} / ${c.networks.of} | ${t.xml2xml.exact} / ${t.xml2xml.of} | ` +
      `${t.xml2conf.exact} / ${t.xml2conf.of} | ${t.xml2firewall.exact} / ${t.xml2firewall.of} |`
    );
  };
  const out = [
    "## Network corpus",
    "",
    "`npm run conformance` (sample) and `npm run conformance -- --suite` (libvirt 11.3.0's",
    "`tests/network*`) also run libvirt's three network harnesses through tvirt's pure code",
    "(`src/testing/network-conformance.ts`): XML round trips (`networkxml2xmltest.c`), the dnsmasq",
    "`.conf` and `.hostsfile` (`networkxml2conftest.c`), and the firewall commands for iptables and",
    "nftables plus the global setup (`networkxml2firewalltest.c`). A network counts as exact when its",
    "round trip is and so is its dnsmasq case of the same name; a parse-error case (no output file)",
    "is exact when tvirt refuses the definition with a user error, as libvirt's harness only checks",
    "that parsing fails.",
    "",
    "| corpus | networks exact | xml2xml | xml2conf (.conf + .hostsfile) | xml2firewall |",
    "|---|---|---|---|---|",
    row("sample (`../shared/reference/libvirt-network`)", sample),
    row("libvirt 11.3.0 suite", suite),
    "",
  ];
  const notExact = [...(sample?.results ?? []), ...(suite?.results ?? [])].filter(
    (r) => r.verdict !== "exact",
  );
  if (notExact.length === 0) out.push("Every case is exact.", "");
  else {
    out.push("Not exact:", "");
    const seen = new Set<string>();
    for (const r of notExact) {
      const key = `${r.kind} ${r.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(`- ${r.kind} \`${r.name}\`: ${r.verdict}${r.note !== undefined ? ` (${r.note})` : ""}`);
    }
    out.push("");
  }
  return out.join("\n");
}
