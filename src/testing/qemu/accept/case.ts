/**
 * One corpus case against the real QEMU: parse with the probed binary's facts, check what the
 * domain needs from this host, swap host resources for temporary ones, build the argv, and
 * start QEMU (paused, `-S`) inside the test's network namespace until it greets on QMP.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { assignAliases, parseDomainXML } from "../../../conf/domain/index.ts";
import type { DomainDef, DomainFacts } from "../../../conf/domain/types.ts";
import type { QemuCaps } from "../../../drivers/qemu/capabilities/index.ts";
import { buildQemuCommand } from "../../../drivers/qemu/command/index.ts";
import type { CommandContext, InterfaceFds, QemuCommand } from "../../../drivers/qemu/command/types.ts";
import {
  foreignPaths,
  hugepageUse,
  deviceDrivers,
  preallocatedBytes,
  rewriteOptionValues,
  type ArgRewrite,
} from "./argv.ts";
import { Cleanup } from "./cleanup.ts";
import type { HostFacts } from "./host-facts.ts";
import { humanKiB, reserveHugepages, type MountedHugetlbfs } from "./hugepages.ts";
import { awaitGreeting, startProcess, waitForPath } from "./launch.ts";
import type { NetNamespace } from "./netns.ts";
import { hostNeeds, prepareDefinition, TempArea, type Need } from "./prepare.ts";

export const VIRTIOFSD = "/usr/lib/qemu/virtiofsd";

export interface RunEnv {
  readonly facts: HostFacts;
  readonly caps: QemuCaps;
  readonly domainFacts: DomainFacts;
  readonly netns: NetNamespace;
  readonly hugetlbfs: readonly MountedHugetlbfs[];
  readonly python: string;
  readonly tapHelper: string;
  /** `libvirt-qemuxml/` of the reference folder. */
  readonly corpusDir: string;
  /** Per-run temp dir (cases get sub-dirs). */
  readonly tempRoot: string;
  /** The tiny test guest's kernel and initrd (built on first use), or undefined. */
  readonly guest?: () => Promise<{ kernel: string; initrd: string } | undefined>;
  /** Upper bound of huge page memory one case may reserve, KiB. */
  readonly hugepageCapKiB: number;
  readonly greetTimeoutMs: number;
  /**
   * Upper bound of memory, bytes, that backends with `prealloc` outside hugetlbfs may take (a
   * case over it is not runnable here rather than filling the machine); no bound when unset.
   */
  readonly preallocCapBytes?: number;
  /** Where empty disk images are made once per format and size, then copied (unset: each made anew). */
  readonly imageTemplates?: string;
}

export type CaseOutcome =
  | { status: "accepted"; ms: number; version: string; notes: string[]; argv: string[] }
  | { status: "not-runnable"; needs: Need[]; notes: string[]; detail?: string }
  | { status: "failed"; error: string; notes: string[]; argv?: string[]; stderr?: string };

/** The same facts, but for a `kvm` domain run as `qemu` (TCG) on a host without KVM. */
export function tcgFacts(f: DomainFacts): DomainFacts {
  const t = (v: string): string => (v === "kvm" ? "qemu" : v);
  return {
    canonicalMachine: f.canonicalMachine ? (a, v, m) => f.canonicalMachine?.(a, t(v), m) : undefined,
    defaultMachine: f.defaultMachine ? (a, v) => f.defaultMachine?.(a, t(v)) : undefined,
    defaultCpuModel: f.defaultCpuModel ? (a, v, m) => f.defaultCpuModel?.(a, t(v), m) : undefined,
    hasDevice: f.hasDevice ? (n) => f.hasDevice?.(n) : undefined,
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The argv as one copy-pasteable line (for failure reports). */
export function argvLine(cmd: QemuCommand): string {
  const q = (s: string): string => (/^[A-Za-z0-9_./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  return [...cmd.env.map(([k, v]) => `${k}=${q(v)}`), cmd.emulator, ...cmd.args.map(q)].join(" ");
}

interface CaseFiles {
  readonly xml: string;
  readonly expectedArgs: string | undefined;
  readonly expectedErr: string | undefined;
}

function readCase(corpusDir: string, name: string): CaseFiles {
  const base = join(corpusDir, "qemuxmlconfdata", name);
  const opt = (p: string): string | undefined => (existsSync(p) ? readFileSync(p, "utf8") : undefined);
  return {
    xml: readFileSync(`${base}.xml`, "utf8"),
    expectedArgs: opt(`${base}.x86_64-latest.args`),
    expectedErr: opt(`${base}.x86_64-latest.err`),
  };
}

/** The network XML for `<source network='NAME;PORT'/>` (the corpus harness's form), from aux/. */
function networkXmlLookup(corpusDir: string): (network: string) => string | undefined {
  return (network) => {
    const name = network.split(";")[0] ?? network;
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) return undefined;
    const f = join(corpusDir, "aux", "networkxml2xmlin", `${name}.xml`);
    return existsSync(f) ? readFileSync(f, "utf8") : undefined;
  };
}

interface CaseState {
  readonly index: number;
  readonly name: string;
  readonly dir: string;
  readonly area: TempArea;
  readonly cleanup: Cleanup;
  readonly notes: string[];
  readonly taps: { name: string; fd: number; vnet: boolean }[];
}

function makeContext(
  env: RunEnv,
  st: CaseState,
  def: DomainDef,
  files: CaseFiles,
  accel: "kvm" | "tcg",
): CommandContext {
  const domainDir = join(st.dir, `domain-1-${def.name}`);
  const memoryDir = join(st.dir, "ram");
  const channelDir = join(st.dir, "channel");
  for (const d of [domainDir, memoryDir, channelDir]) mkdirSync(d, { recursive: true });
  const masterKeyFile = join(domainDir, "master-key.aes");
  writeFileSync(masterKeyFile, randomBytes(32), { mode: 0o600 });
  const hugepageSubdir = join("tvirt-accept", `${st.index}-${def.name.slice(0, 20)}`);
  for (const m of env.hugetlbfs) mkdirSync(join(m.path, hugepageSubdir), { recursive: true });
  let nextFd = 3;
  let nextPort = 5900;
  const lookup = networkXmlLookup(env.corpusDir);
  const incoming =
    files.expectedArgs !== undefined && /^-incoming /m.test(files.expectedArgs) ? "defer" : undefined;
  if (incoming !== undefined)
    st.notes.push(
      "incoming migration source: the corpus harness passes 'exec:cat' (forks, killed by the seccomp sandbox); the test passes -incoming defer",
    );
  return {
    caps: env.caps,
    accel,
    domainId: 1,
    paths: { domainDir, memoryDir, hugepageSubdir, channelDir, masterKeyFile },
    monitor: { path: join(st.dir, "qmp.sock") },
    hugetlbfs: env.hugetlbfs.map((m) => ({ sizeKiB: m.sizeKiB, path: m.path, default: m.default })),
    baseEnv: [
      ["LC_ALL", "C"],
      ["PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ["USER", "root"],
      ["LOGNAME", "root"],
    ],
    privileged: true,
    interfaceFds: (alias: string, actualType: string, isVirtio: boolean): InterfaceFds => {
      const fd = nextFd++;
      const name = `tva${st.index}n${fd}`;
      st.taps.push({ name, fd, vnet: isVirtio });
      st.notes.push(
        `interface ${alias} (${actualType}): tap ${name} created in the namespace, passed as fd ${fd}; no vhost-net fds`,
      );
      return { tap: [String(fd)], vhost: [] };
    },
    resolveNetwork: (network: string) => {
      const xml = lookup(network);
      if (xml === undefined) return undefined;
      const bridge = /<bridge\s+name=["']([^"']+)["']/.exec(xml)?.[1];
      return bridge !== undefined ? { type: "bridge", bridge } : { type: "bridge" };
    },
    allocatePort: () => nextPort++,
    virtiofsSocket: (alias: string) => join(domainDir, `${alias}-fs.sock`),
    isHostCdrom: () => false,
    hostNumaNodes: env.facts.numaNodes,
    ...(incoming !== undefined ? { incoming } : {}),
  };
}

async function listenUnix(path: string, cleanup: Cleanup): Promise<void> {
  const server: Server = createServer((s) => {
    s.resume();
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      resolve();
    });
  });
  cleanup.defer(
    `unix listener ${path}`,
    () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  );
}

/** Starts QEMU through `ip netns exec NS python3 tap-exec.py [--tap ...] --` and awaits its greeting. */
async function launch(
  env: RunEnv,
  st: CaseState,
  cmd: QemuCommand,
  monitorPath: string,
): Promise<{ outcome: Awaited<ReturnType<typeof awaitGreeting>>; stderr: string }> {
  const tapArgs = st.taps.flatMap((t) => ["--tap", `${t.name}:${t.fd}${t.vnet ? ":vnet" : ""}`]);
  // Without taps the helper has nothing to do: starting Python for each QEMU only costs time.
  const helper = tapArgs.length > 0 ? [env.python, env.tapHelper, ...tapArgs, "--"] : [];
  const argv = [...env.netns.execPrefix(), ...helper, cmd.emulator, ...cmd.args];
  const p = startProcess(argv, Object.fromEntries(cmd.env), st.cleanup, `qemu for ${st.name}`);
  const outcome = await awaitGreeting(p, monitorPath, env.greetTimeoutMs);
  await p.exited;
  return { outcome, stderr: p.stderr() };
}

function monitorPathOf(ctx: CommandContext): string {
  return "path" in ctx.monitor ? ctx.monitor.path : "";
}

function runNegative(env: RunEnv, st: CaseState, files: CaseFiles): CaseOutcome {
  const expected = (files.expectedErr ?? "").trim();
  let def: DomainDef;
  try {
    def = parseDomainXML(files.xml, { document: `${st.name}.xml`, facts: env.domainFacts }).def;
    assignAliases(def);
  } catch (e) {
    return {
      status: "not-runnable",
      needs: [
        {
          code: "negative",
          reason: `negative corpus case: tvirt rejects the XML (${message(e)}); libvirt: ${expected}`,
        },
      ],
      notes: st.notes,
    };
  }
  try {
    const cmd = buildQemuCommand(def, makeContext(env, st, def, files, def.type === "kvm" ? "kvm" : "tcg"));
    return {
      status: "failed",
      error: `negative corpus case, but tvirt built a command line (libvirt refuses: ${expected})`,
      notes: st.notes,
      argv: [argvLine(cmd)],
    };
  } catch (e) {
    return {
      status: "not-runnable",
      needs: [
        {
          code: "negative",
          reason: `negative corpus case: tvirt refuses to build it (${message(e)}); libvirt: ${expected}`,
        },
      ],
      notes: st.notes,
    };
  }
}

/**
 * A domain that genuinely needs KVM: build its argv as is and check that it asks for KVM and
 * that QEMU refuses it here with a clear error.
 */
async function runNeedsKvm(
  env: RunEnv,
  st: CaseState,
  def: DomainDef,
  files: CaseFiles,
  needs: Need[],
): Promise<CaseOutcome> {
  const prepared = await prepareDefinition(def, st.area, {
    qemu: env.facts.qemu,
    domainDir: join(st.dir, `domain-1-${def.name}`),
  });
  st.notes.push(...prepared.notes);
  let cmd: QemuCommand;
  const ctx = makeContext(env, st, def, files, "kvm");
  if (def.cpu?.mode === "host-model" && env.caps.accel.kvm?.hostCpu === undefined) {
    // The expansion of host-model comes from QEMU's KVM host CPU, which the probe cannot get
    // here: the builder must refuse rather than invent one.
    try {
      buildQemuCommand(def, ctx);
    } catch (e) {
      return {
        status: "not-runnable",
        needs,
        notes: st.notes,
        detail: `the probed capabilities have no KVM host CPU to expand host-model from; tvirt refuses to build it: ${message(e)}`,
      };
    }
    return {
      status: "failed",
      error: "host-model CPU without a KVM host CPU expansion, yet tvirt built a command line",
      notes: st.notes,
    };
  }
  try {
    cmd = buildQemuCommand(def, ctx);
  } catch (e) {
    const m = message(e);
    if (/kvm|host[- ]?(cpu|model|passthrough)/i.test(m))
      return {
        status: "not-runnable",
        needs,
        notes: st.notes,
        detail: `tvirt refuses to build it here: ${m}`,
      };
    return {
      status: "failed",
      error: `KVM-only domain: tvirt failed to build its argv with an unrelated error: ${m}`,
      notes: st.notes,
    };
  }
  const accelKvm =
    cmd.args.some((a, i) => a === "-accel" && cmd.args[i + 1]?.startsWith("kvm") === true) ||
    cmd.args.some((a) => /(^|,)accel=kvm/.test(a));
  const { outcome, stderr } = await launch(env, st, cmd, monitorPathOf(ctx));
  const firstErr =
    stderr
      .split("\n")
      .find((l) => /kvm/i.test(l))
      ?.trim() ??
    stderr.trim().split("\n").at(-1) ??
    "";
  if (outcome.kind === "greeted") {
    return {
      status: "failed",
      error: `KVM-only domain reached the QMP greeting without KVM (accel kvm in argv: ${accelKvm})`,
      notes: st.notes,
      argv: [argvLine(cmd)],
      stderr,
    };
  }
  if (!accelKvm && !/kvm/i.test(stderr)) {
    return {
      status: "failed",
      error: "KVM-only domain: the argv does not ask for KVM and QEMU's error does not mention KVM",
      notes: st.notes,
      argv: [argvLine(cmd)],
      stderr,
    };
  }
  return {
    status: "not-runnable",
    needs,
    notes: st.notes,
    detail: `argv has ${accelKvm ? "-accel kvm" : "no -accel kvm"}; QEMU refuses: ${firstErr}`,
  };
}

/** Needs that are about the QEMU binary: such cases are started anyway and QEMU must refuse them. */
const QEMU_LACKS: ReadonlySet<Need["code"]> = new Set(["qemu-device", "qemu-fsdriver"]);

/** Words QEMU's error must contain for each thing it lacks. */
function refusalPattern(needs: readonly Need[]): RegExp {
  const words = needs.map((n) => n.subject).filter((w): w is string => w !== undefined && w !== "");
  return new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") || "$^");
}

/** A case QEMU lacks something for: it must fail before its greeting, naming what it lacks. */
function expectRefusal(
  st: CaseState,
  cmd: QemuCommand,
  needs: Need[],
  outcome: Awaited<ReturnType<typeof awaitGreeting>>,
  stderr: string,
): CaseOutcome {
  const line = stderr
    .split("\n")
    .find((l) => refusalPattern(needs).test(l))
    ?.trim();
  if (outcome.kind === "greeted") {
    return {
      status: "failed",
      error: `expected QEMU to refuse (${needs.map((n) => n.reason).join("; ")}), but it reached its QMP greeting`,
      notes: st.notes,
      argv: [argvLine(cmd)],
      stderr,
    };
  }
  if (line === undefined) {
    return {
      status: "failed",
      error: `QEMU refused, but not for the expected reason (${needs.map((n) => n.reason).join("; ")})`,
      notes: st.notes,
      argv: [argvLine(cmd)],
      stderr,
    };
  }
  return {
    status: "not-runnable",
    needs,
    notes: st.notes,
    detail: `QEMU refuses: ${line.replace(/^\S+ qemu-system-\S+: /, "")}`,
  };
}

export async function runCase(env: RunEnv, index: number, name: string): Promise<CaseOutcome> {
  const dir = join(env.tempRoot, String(index).padStart(2, "0"));
  mkdirSync(dir, { recursive: true });
  const st: CaseState = {
    index,
    name,
    dir,
    area: new TempArea(dir),
    cleanup: new Cleanup(),
    notes: [],
    taps: [],
  };
  try {
    return await runCaseIn(env, st);
  } finally {
    await st.cleanup.release();
  }
}

async function runCaseIn(env: RunEnv, st: CaseState): Promise<CaseOutcome> {
  const files = readCase(env.corpusDir, st.name);
  if (files.expectedErr !== undefined && files.expectedArgs === undefined) return runNegative(env, st, files);

  let def: DomainDef;
  try {
    def = parseDomainXML(files.xml, { document: `${st.name}.xml`, facts: env.domainFacts }).def;
    assignAliases(def);
  } catch (e) {
    return { status: "failed", error: `tvirt cannot parse it: ${message(e)}`, notes: st.notes };
  }
  const needs = await hostNeeds(def, env.facts, networkXmlLookup(env.corpusDir));
  if (needs.some((n) => n.code === "kvm")) return runNeedsKvm(env, st, def, files, needs);
  // What QEMU itself lacks is still built and started, to see QEMU refuse it; the rest is not.
  if (needs.some((n) => !QEMU_LACKS.has(n.code))) return { status: "not-runnable", needs, notes: st.notes };

  if (def.type === "kvm" && !env.facts.kvm) {
    const machine = def.os.machine;
    try {
      def = parseDomainXML(files.xml, { document: `${st.name}.xml`, facts: tcgFacts(env.domainFacts) }).def;
      assignAliases(def);
    } catch (e) {
      return {
        status: "failed",
        error: `tvirt cannot parse it with TCG facts: ${message(e)}`,
        notes: st.notes,
      };
    }
    def.type = "qemu";
    st.notes.push(
      `type='kvm' → type='qemu' (TCG): KVM is absent and nothing in the domain needs it (parsed with TCG's facts${machine !== def.os.machine ? `: machine ${machine ?? "?"} → ${def.os.machine ?? "?"}` : ""})`,
    );
  }

  const domainDir = join(st.dir, `domain-1-${def.name}`);
  const guest = def.os.kernel !== undefined ? await env.guest?.() : undefined;
  const prepared = await prepareDefinition(def, st.area, {
    qemu: env.facts.qemu,
    domainDir,
    ...(guest ? { guest } : {}),
    ...(env.imageTemplates !== undefined ? { imageTemplates: env.imageTemplates } : {}),
  });
  st.notes.push(...prepared.notes);
  const ctx = makeContext(env, st, def, files, "tcg");
  let cmd: QemuCommand;
  try {
    cmd = buildQemuCommand(def, ctx);
  } catch (e) {
    return {
      status: "failed",
      error: `tvirt refuses to build the command line: ${message(e)}`,
      notes: st.notes,
    };
  }

  // Exact option-value rewrites for what only the argv can change (none needed so far).
  const rewrites: ArgRewrite[] = [];
  if (rewriteOptionValues(cmd.args, rewrites) > 0)
    st.notes.push(...rewrites.map((r) => `argv rewrite: ${r.option} ${r.from} → ${r.to}`));

  const missingDevices = [...new Set(deviceDrivers(cmd.args))].filter(
    (d) => d !== "" && !env.facts.qemuDevices.has(d),
  );
  for (const dev of missingDevices) {
    needs.push({
      code: "qemu-device",
      reason: `needs device ${dev}, which ${env.facts.qemu} does not have (-device help)`,
      subject: dev,
    });
  }

  // The test guest's kernel and initrd are read-only inputs from its cache: allowed as they are.
  const foreign = foreignPaths(cmd.args, [
    env.tempRoot,
    ...env.hugetlbfs.map((m) => m.path),
    ...(guest ? [guest.kernel, guest.initrd] : []),
  ]);
  if (foreign.length > 0) {
    return {
      status: "failed",
      error: `the argv still names host paths the test did not swap: ${foreign.join(", ")}`,
      notes: st.notes,
      argv: [argvLine(cmd)],
    };
  }

  for (const use of hugepageUse(cmd.args, env.hugetlbfs, env.facts.defaultHugepageKiB)) {
    const totalKiB = use.bytes / 1024;
    if (totalKiB > env.hugepageCapKiB) {
      return {
        status: "not-runnable",
        needs: [
          {
            code: "hugepage-amount",
            reason: `needs ${humanKiB(totalKiB)} of ${humanKiB(use.sizeKiB)} huge pages (${use.ids.join(", ")}), more than the test reserves (${humanKiB(env.hugepageCapKiB)})`,
          },
        ],
        notes: st.notes,
      };
    }
    const pages = Math.ceil(totalKiB / use.sizeKiB);
    const r = reserveHugepages(use.sizeKiB, pages);
    st.cleanup.defer(`${pages} huge pages of ${use.sizeKiB} KiB`, () => {
      r.release();
    });
    if (r.got < pages) {
      return {
        status: "not-runnable",
        needs: [
          {
            code: "hugepage-pool",
            reason: `the kernel gave ${r.got} of the ${pages} ${humanKiB(use.sizeKiB)} huge pages this case needs`,
          },
        ],
        notes: st.notes,
      };
    }
    st.notes.push(`reserved ${pages} huge pages of ${humanKiB(use.sizeKiB)} for ${use.ids.join(", ")}`);
  }

  if (env.preallocCapBytes !== undefined) {
    const bytes = preallocatedBytes(
      cmd.args,
      env.hugetlbfs.map((m) => m.path),
    );
    if (bytes > env.preallocCapBytes)
      return {
        status: "not-runnable",
        needs: [
          {
            code: "memory-amount",
            reason: `preallocates ${humanKiB(bytes / 1024)} of guest memory, more than the test allows (${humanKiB(env.preallocCapBytes / 1024)})`,
          },
        ],
        notes: st.notes,
      };
  }

  for (const a of prepared.listenAddresses) {
    await env.netns.addLoopbackAddress(a);
    st.notes.push(`listen address ${a} added to lo in the namespace`);
  }
  for (const path of prepared.unixListeners) await listenUnix(path, st.cleanup);
  for (const v of prepared.virtiofs) {
    mkdirSync(v.sourceDir, { recursive: true });
    const d = startProcess(
      [VIRTIOFSD, `--socket-path=${v.socket}`, "-o", `source=${v.sourceDir}`, "-o", "cache=auto"],
      process.env,
      st.cleanup,
      `virtiofsd ${v.socket}`,
    );
    if (!(await waitForPath(v.socket, d, 10_000))) {
      return {
        status: "failed",
        error: `virtiofsd did not create ${v.socket}: ${d.stderr().trim()}`,
        notes: st.notes,
      };
    }
  }

  const { outcome, stderr } = await launch(env, st, cmd, monitorPathOf(ctx));
  if (needs.length > 0) return expectRefusal(st, cmd, needs, outcome, stderr);
  if (outcome.kind === "greeted") {
    const want = ctx.incoming !== undefined ? "inmigrate" : "prelaunch";
    if (outcome.status === want)
      return {
        status: "accepted",
        ms: outcome.ms,
        version: outcome.version,
        notes: st.notes,
        argv: [argvLine(cmd)],
      };
    return {
      status: "failed",
      error: `QEMU is up but its status is '${outcome.status}', not '${want}'`,
      notes: st.notes,
      argv: [argvLine(cmd)],
      stderr,
    };
  }
  const stage = outcome.afterGreeting
    ? "after its QMP greeting, before answering commands"
    : "before its QMP greeting";
  const why =
    outcome.kind === "timeout"
      ? `QEMU not ready within ${env.greetTimeoutMs} ms (${stage})`
      : `QEMU exited (${outcome.signal ?? `status ${String(outcome.code)}`}) ${stage}`;
  return { status: "failed", error: why, notes: st.notes, argv: [argvLine(cmd)], stderr };
}
