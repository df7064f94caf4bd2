/**
 * The status file of a running domain (libvirt's `<domstatus>`, `/run/libvirt/qemu/<name>.xml`):
 * state and reason, the QEMU pid (with its start time, so a recycled pid is never taken for
 * it), the monitor socket, the runtime dir, what a restarted driver needs to take the process
 * over (autodestroy, a pending fake reboot, an interrupted async job), and the full live
 * `<domain id=...>` definition. Written atomically after every state change.
 */
import { parseXml, XmlWriter } from "../../../conf/xml.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { DomainState } from "../../enums.ts";
import { parseReason, parseState, reasonName, stateName } from "./states.ts";

/**
 * The async job of a running domain, kept across a daemon restart: a save (with its partial
 * image) or a migration with libvirt's phase (`<job type='none' async='migration out'
 * phase='perform3' flags='0x...'>`), the migration flags and, for peer-to-peer, the destination.
 */
export interface AsyncJobRecord {
  readonly kind: string;
  readonly wasRunning: boolean;
  readonly path?: string;
  readonly phase?: string;
  readonly flags?: number;
  /** The destination URI of a peer-to-peer migration (`dconnuri`), a tvirt extension. */
  readonly peer?: string;
}

export interface StatusRecord {
  readonly state: DomainState;
  readonly reason: number;
  readonly pid: number;
  readonly starttime: number;
  readonly monitorPath: string;
  readonly pidfile: string;
  readonly domainDir: string;
  readonly qemuVersion: number;
  readonly startedAt: number;
  readonly autodestroy: boolean;
  readonly fakeReboot: boolean;
  readonly asyncJob?: AsyncJobRecord;
  /** Taint flags of the process (`custom-monitor` …), libvirt's `<taint flag=.../>`. */
  readonly taints?: readonly string[];
  /** The live `<domain id=...>` XML. */
  readonly domainXML: string;
  /** The `id=` of that `<domain>` (filled by `parseStatusXML`; ignored by the formatter). */
  readonly domainId?: number;
}

export function formatStatusXML(s: StatusRecord): string {
  const w = new XmlWriter();
  w.elem(
    "domstatus",
    { state: stateName(s.state), reason: reasonName(s.state, s.reason), pid: s.pid },
    () => {
      w.empty("monitor", { path: s.monitorPath, type: "unix" });
      w.empty("process", {
        starttime: s.starttime,
        pidfile: s.pidfile,
        started: new Date(s.startedAt).toISOString(),
        qemuVersion: s.qemuVersion,
      });
      w.empty("libDir", { path: s.domainDir });
      if (s.autodestroy) w.empty("autodestroy");
      if (s.fakeReboot) w.empty("fakeReboot");
      for (const flag of s.taints ?? []) w.empty("taint", { flag });
      if (s.asyncJob)
        w.empty("job", {
          ...(s.asyncJob.phase !== undefined ? { type: "none" } : {}),
          async: s.asyncJob.kind,
          phase: s.asyncJob.phase,
          flags: s.asyncJob.flags !== undefined ? `0x${s.asyncJob.flags.toString(16)}` : undefined,
          wasRunning: s.asyncJob.wasRunning ? "yes" : "no",
          path: s.asyncJob.path,
          peer: s.asyncJob.peer,
        });
    },
  );
  // The domain goes inside, unindented, so its text content is kept byte for byte.
  const head = w.toString().replace(/<\/domstatus>\n$/, "");
  return `${head}${s.domainXML.endsWith("\n") ? s.domainXML : `${s.domainXML}\n`}</domstatus>\n`;
}

function asyncJobOf(job: { attr(name: string): string | undefined }): AsyncJobRecord {
  const path = job.attr("path");
  const phase = job.attr("phase");
  const flags = Number(job.attr("flags") ?? "");
  const peer = job.attr("peer");
  return {
    kind: job.attr("async") ?? "unknown",
    wasRunning: job.attr("wasRunning") === "yes",
    ...(path !== undefined ? { path } : {}),
    ...(phase !== undefined ? { phase } : {}),
    ...(job.attr("flags") !== undefined && Number.isInteger(flags) ? { flags } : {}),
    ...(peer !== undefined ? { peer } : {}),
  };
}

function invalid(path: string, reason: string): VirtError {
  return new VirtError("QEMU_STATUS_INVALID", { path, reason });
}

/** Parses a status file. Throws `QEMU_STATUS_INVALID` naming the file and what is wrong. */
export function parseStatusXML(text: string, path: string): StatusRecord {
  const start = text.indexOf("<domain ");
  const endTag = "</domain>";
  const end = text.lastIndexOf(endTag);
  if (start < 0 || end < start) throw invalid(path, "it holds no <domain> definition");
  const domainXML = text.slice(start, end + endTag.length) + "\n";
  const outer = text.slice(0, start) + text.slice(end + endTag.length);
  let root;
  try {
    root = parseXml(outer, path);
  } catch (e) {
    throw invalid(path, e instanceof Error ? e.message : String(e));
  }
  if (root.name !== "domstatus") throw invalid(path, `root element is <${root.name}>, expected <domstatus>`);
  const state = parseState(root.attr("state"));
  if (state === undefined) throw invalid(path, `unknown state '${root.attr("state") ?? ""}'`);
  const pid = Number(root.attr("pid"));
  if (!Number.isInteger(pid) || pid <= 1) throw invalid(path, `bad pid '${root.attr("pid") ?? ""}'`);
  const monitorPath = root.child("monitor")?.attr("path");
  if (monitorPath === undefined) throw invalid(path, "no <monitor path=...>");
  const proc = root.child("process");
  const starttime = Number(proc?.attr("starttime"));
  if (!Number.isInteger(starttime)) throw invalid(path, "no <process starttime=...>");
  const domainDir = root.child("libDir")?.attr("path");
  if (domainDir === undefined) throw invalid(path, "no <libDir path=...>");
  const job = root.child("job");
  const idMatch = /^<domain\b[^>]*?\sid=['"](\d+)['"]/.exec(domainXML);
  if (!idMatch) throw invalid(path, "the <domain> has no id='...'");
  const started = Date.parse(proc?.attr("started") ?? "");
  const taints = root
    .all("taint")
    .map((t) => t.attr("flag") ?? "")
    .filter((f) => f !== "");
  return {
    state,
    reason: parseReason(state, root.attr("reason")),
    pid,
    starttime,
    monitorPath,
    pidfile: proc?.attr("pidfile") ?? "",
    domainDir,
    qemuVersion: Number(proc?.attr("qemuVersion") ?? 0) || 0,
    startedAt: Number.isFinite(started) ? started : 0,
    autodestroy: root.child("autodestroy") !== undefined,
    fakeReboot: root.child("fakeReboot") !== undefined,
    ...(taints.length > 0 ? { taints } : {}),
    ...(job ? { asyncJob: asyncJobOf(job) } : {}),
    domainXML,
    domainId: Number(idMatch[1]),
  };
}
