/**
 * `edit <domain> [--skip-validate]` (virsh 9.0's cmdEdit) and `validate <file> [<schema>]`
 * (a tvirt extension: virsh has no such command; it is libvirt's `virt-xml-validate`).
 *
 * `edit` runs the shared edit flow (`../edit-flow.ts`): the inactive XML with secure info in
 * the user's editor, then `virDomainDefineXMLFlags` with VIR_DOMAIN_DEFINE_VALIDATE unless
 * `--skip-validate`. Beyond virsh it says, before applying, what the new XML would lose (parts
 * tvirt does not know) or have rewritten (canonical form), and after applying, which defaults
 * the driver filled in and which changes apply when: nothing applies to a running domain now
 * (edit changes the persistent definition), everything that differs from the live
 * configuration applies at its next boot.
 */
import {
  DomainDefineFlags,
  DomainXMLFlags,
  describeChange,
  diffDomainXML,
  formatDomainXML,
  isVirtError,
  parseDomainXML,
  validateDocument,
  type Domain,
  type DomainChange,
  type VirtError,
  type XmlWarning,
} from "../../api/index.ts";
import type { Ctx } from "../context.ts";
import { domainOpt } from "./domain.ts";
import { runEditFlow } from "../edit-flow.ts";
import type { CmdDef } from "../grammar.ts";

type Cmd = CmdDef<Ctx>;

/** What the client-side parser makes of the edited XML, before anything is applied. */
interface Preview {
  readonly dropped: readonly XmlWarning[];
  readonly normalised: readonly DomainChange[];
  /** The canonical form (the parser's own, without the driver's defaults). */
  readonly canonical: string;
}

function previewOf(xml: string): Preview | undefined {
  try {
    const { def, warnings } = parseDomainXML(xml, { noDefaults: true });
    const canonical = formatDomainXML(def, { secure: true });
    const normalised = diffDomainXML(xml, canonical, { ignoreOld: warnings.map((w) => w.xpath) });
    return { dropped: warnings, normalised, canonical };
  } catch {
    // Not parseable here: the define reports the error the driver's way.
    return undefined;
  }
}

function droppedLine(w: XmlWarning): string {
  return w.message.replace(/ was ignored$/, "");
}

function section(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : [`${title}\n`, ...lines.map((l) => `  ${l}\n`)];
}

function changeJson(c: DomainChange): Record<string, unknown> {
  return {
    kind: c.kind,
    subject: c.subject,
    xpath: c.xpath,
    details: c.details,
    ...(c.tag !== undefined ? { tag: c.tag } : {}),
  };
}

/** Lines under an error naming where it is: each validator message with its line and XPath. */
export function errorWhere(err: VirtError): string[] {
  const d = err.details;
  const problems = d.problems;
  if (Array.isArray(problems)) {
    return (problems as { message: string; line?: number; xpath?: string }[]).map((p) => {
      const at = [p.line !== undefined ? `line ${p.line}` : undefined, p.xpath].filter(
        (x) => x !== undefined,
      );
      return at.length > 0 ? `  ${at.join(", ")}: ${p.message}` : `  ${p.message}`;
    });
  }
  const out: string[] = [];
  if (d.xpath !== undefined || d.line !== undefined) {
    const at = [d.line !== undefined ? `line ${String(d.line)}` : undefined, d.xpath].filter(
      (x) => x !== undefined,
    );
    out.push(`  at ${at.join(", ")}`);
  }
  if (Array.isArray(d.allowed) && d.allowed.length > 0) out.push(`  allowed: ${d.allowed.join(", ")}`);
  return out;
}

/**
 * libxml2's RelaxNG messages often name only an enclosing element ("Extra element devices in
 * interleave"); tvirt's own parser usually says exactly what and where. Its verdict, if it has
 * one, as extra lines under a schema error.
 */
export function parserHint(xml: string): string[] {
  try {
    parseDomainXML(xml, { noDefaults: true });
    return [];
  } catch (e) {
    if (!isVirtError(e) || e.code === "BUG" || e.code === "XML_UNEXPECTED_ROOT") return [];
    return [`  tvirt's parser: ${e.message}`, ...errorWhere(e).map((l) => `  ${l}`)];
  }
}

const edit: Cmd = {
  name: "edit",
  group: "domain",
  help: "edit XML configuration for a domain",
  desc: "Edit the XML configuration for a domain.",
  opts: [
    domainOpt(),
    { name: "skip-validate", type: "bool", help: "skip validation of the XML against the schema" },
  ],
  async run(ctx, cmd) {
    const dom = await ctx.domain(cmd);
    if (!dom) return false;
    const conn = ctx.connection();
    const flags = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE;
    let edited: Domain | undefined;
    let preview: Preview | undefined;
    let lastEdited: string | undefined;
    const outcome = await runEditFlow(
      ctx,
      {
        object: "domain",
        name: dom.name,
        getXML: () => dom.getXMLDesc(flags),
        validate: !cmd.bool("skip-validate"),
        canRelax: true,
        async define(xml, validate) {
          edited = await conn.defineXMLFlags(xml, validate ? DomainDefineFlags.VALIDATE : 0);
        },
        preview(xml) {
          lastEdited = xml;
          preview = previewOf(xml);
          if (!preview) return Promise.resolve([]);
          return Promise.resolve([
            ...section("Unknown to tvirt, dropped by the new definition:", preview.dropped.map(droppedLine)),
            ...section("Rewritten to canonical form:", preview.normalised.map(describeChange)),
          ]);
        },
        notChangedMessage: `Domain '${dom.name}' XML configuration not changed.\n`,
        onError(err) {
          for (const line of errorWhere(err)) ctx.io.err(`${line}\n`);
          if (err.code === "SCHEMA_VALIDATION_FAILED" && lastEdited !== undefined) {
            for (const line of parserHint(lastEdited)) ctx.io.err(`${line}\n`);
          }
        },
      },
      process.env,
    );
    if (outcome.result === "failed") return false;
    if (outcome.result === "unchanged") {
      ctx.emit({ action: "unchanged", domain: domJson(dom) });
      return true;
    }
    const target = edited ?? dom;
    // What the driver stored, and what that means for the running domain.
    let report: Report;
    try {
      report = await reportOf(target, outcome.xml, outcome.before, preview);
    } catch (e) {
      // The definition is applied; only the report failed.
      ctx.printExtra(`Domain '${target.name}' XML configuration edited.\n`);
      return ctx.fail("Could not compare the new definition with the running domain", e);
    }
    const lines = [
      ...section("Filled in by the driver (defaults):", report.defaults.map(describeChange)),
      ...(report.running
        ? [
            "Applies now: nothing (edit changes the persistent definition; the running domain keeps its configuration)\n",
            ...(report.nextBoot.length > 0
              ? section("Applies at next boot:", report.nextBoot.map(describeChange))
              : ["Applies at next boot: nothing (the new definition matches the running configuration)\n"]),
          ]
        : section("Applies at next start:", report.nextBoot.map(describeChange))),
    ];
    for (const l of lines) ctx.printExtra(l);
    ctx.printExtra(`Domain '${target.name}' XML configuration edited.\n`);
    ctx.emit({
      action: "edited",
      domain: domJson(target),
      dropped: (preview?.dropped ?? []).map((w) => ({
        code: w.code,
        xpath: w.xpath,
        line: w.line,
        message: droppedLine(w),
      })),
      normalised: (preview?.normalised ?? []).map(changeJson),
      defaults: report.defaults.map(changeJson),
      running: report.running,
      appliesNow: [],
      appliesAtNextBoot: report.nextBoot.map(changeJson),
    });
    return true;
  },
};

interface Report {
  readonly defaults: readonly DomainChange[];
  readonly running: boolean;
  readonly nextBoot: readonly DomainChange[];
}

async function reportOf(
  dom: Domain,
  edited: string,
  before: string,
  preview: Preview | undefined,
): Promise<Report> {
  const stored = await dom.getXMLDesc(DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE);
  const defaults = preview ? diffDomainXML(preview.canonical, stored) : diffDomainXML(edited, stored);
  const running = await dom.isActive();
  const nextBoot = running
    ? diffDomainXML(await dom.getXMLDesc(DomainXMLFlags.SECURE), stored, { oldIsLive: true })
    : diffDomainXML(before, stored);
  return { defaults, running, nextBoot };
}

function domJson(dom: Domain): { name: string; uuid: string; id: number | null } {
  return { name: dom.name, uuid: dom.uuid, id: dom.id >= 0 ? dom.id : null };
}

const validate: Cmd = {
  name: "validate",
  group: "domain",
  help: "validate an XML document against libvirt's schema",
  desc: "Validate a libvirt XML document (domain, network, storage, ...) against libvirt's RelaxNG\n    schema, as virt-xml-validate does. The schema is chosen from the root element\n    unless given.",
  opts: [
    { name: "file", type: "data", required: true, help: "the XML document", complete: "file" },
    { name: "schema", type: "string", help: "schema name (domain, network, storagepool, ...)" },
  ],
  noConnect: true,
  async run(ctx, cmd) {
    const file = ctx.optString(cmd, "file");
    if (!file) return false;
    const schema = ctx.optString(cmd, "schema");
    if (schema === null) return false;
    const xml = await ctx.readFile(file);
    if (xml === undefined) return false;
    let used: string;
    try {
      used = await validateDocument(xml, file, schema);
    } catch (e) {
      const problems = isVirtError(e) ? e.details.problems : undefined;
      if (!ctx.json && Array.isArray(problems)) {
        for (const p of problems as { message: string; line?: number; xpath?: string }[]) {
          const at = [p.line, p.xpath].filter((x) => x !== undefined).join(": ");
          ctx.io.err(`${file}:${at === "" ? "" : `${at}: `}${p.message}\n`);
        }
      }
      if (
        !ctx.json &&
        isVirtError(e) &&
        e.code === "SCHEMA_VALIDATION_FAILED" &&
        (schema === undefined || schema === "domain")
      ) {
        for (const line of parserHint(xml)) ctx.io.err(`${file}:${line.trimStart()}\n`);
      }
      return ctx.fail(`${file} fails to validate`, e);
    }
    ctx.print(`${file} validates\n`);
    ctx.emit({ file, schema: used, valid: true });
    return true;
  },
};

export const editCommands: Cmd[] = [edit, validate];
