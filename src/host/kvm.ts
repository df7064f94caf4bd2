/**
 * Is KVM usable on this host? Node cannot issue the KVM ioctls itself, so the answer comes from
 * QEMU: it is started with `-accel kvm` and one vCPU of model `host` (so KVM must accept a real
 * vCPU's registers, not just open: a `/dev/kvm` that only runs specially built guests, such as
 * PVM's, aborts here with `failed to set MSR`), and asked `query-kvm` over QMP on its stdio.
 * KVM is usable when QEMU starts and reports KVM both present and enabled. Otherwise the
 * result says why, in words: QEMU's own error (`failed to initialize kvm: …`) plus what is
 * known about `/dev/kvm`.
 *
 * This is a host fact and lives below the QEMU driver, so it speaks the few lines of QMP it
 * needs itself instead of using the driver's monitor client.
 */
import { startArgv } from "../util/spawn.ts";
import { constants as fsConstants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { VirtError } from "../util/errors/index.ts";

export const KVM_DEVICE = "/dev/kvm";
export const DEFAULT_QEMU_BINARY = "/usr/bin/qemu-system-x86_64";

export type KvmDeviceState = "present" | "missing" | "inaccessible" | "not-a-device";

export interface KvmProbeResult {
  readonly usable: boolean;
  /** Why KVM is not usable (undefined when it is). */
  readonly reason?: string;
  readonly device: KvmDeviceState;
  /** What `query-kvm` answered, when QEMU got that far. */
  readonly qmp?: { readonly present: boolean; readonly enabled: boolean };
  /** The binary that was asked. */
  readonly binary: string;
}

export interface KvmProbeOptions {
  /** QEMU binary to ask (default `/usr/bin/qemu-system-x86_64`). */
  readonly binary?: string;
  /** Time allowed for the whole check (default 15 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Device node to report on (tests). */
  readonly device?: string;
}

async function deviceState(path: string): Promise<KvmDeviceState> {
  try {
    const st = await stat(path);
    if (!st.isCharacterDevice()) return "not-a-device";
  } catch {
    return "missing";
  }
  try {
    await access(path, fsConstants.R_OK | fsConstants.W_OK);
    return "present";
  } catch {
    return "inaccessible";
  }
}

function deviceText(path: string, state: KvmDeviceState): string | undefined {
  switch (state) {
    case "missing":
      return `${path} does not exist (no KVM module loaded, or no hardware virtualization)`;
    case "inaccessible":
      return `${path} is not readable and writable by this user`;
    case "not-a-device":
      return `${path} is not a character device`;
    case "present":
      return undefined;
  }
}

interface QemuAnswer {
  readonly qmp?: { present: boolean; enabled: boolean };
  /** Why QEMU gave no answer. */
  readonly failure?: string;
}

function lastLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

/** Runs QEMU with KVM, asks `query-kvm` on its stdio monitor, and always reaps the process. */
function askQemu(binary: string, timeoutMs: number, signal?: AbortSignal): Promise<QemuAnswer> {
  return new Promise<QemuAnswer>((resolve) => {
    const child = startArgv(
      [
        binary,
        "-S",
        "-no-user-config",
        "-nodefaults",
        "-display",
        "none",
        "-machine",
        "pc",
        "-cpu",
        "host",
        "-m",
        "16",
        "-accel",
        "kvm",
        "-qmp",
        "stdio",
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: { LC_ALL: "C", PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    let stdout = "";
    let stderr = "";
    let answer: QemuAnswer | undefined;
    let spawnError: Error | undefined;
    let step: "greeting" | "capabilities" | "query" | "quit" = "greeting";
    const finish = (a: QemuAnswer): void => {
      answer ??= a;
      if (child.exitCode === null && child.signalCode === null) {
        if (step === "quit" && child.stdin.writable) child.stdin.write('{"execute":"quit"}\n');
        else child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      finish({ failure: `QEMU did not answer within ${String(timeoutMs / 1000)} s` });
      child.kill("SIGKILL");
    }, timeoutMs);
    const onAbort = (): void => {
      finish({ failure: "the check was cancelled" });
      child.kill("SIGKILL");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      spawnError = e;
    });
    child.stdin.on("error", () => {
      // QEMU exited before reading; its exit status and stderr tell why.
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      stdout += d;
      let nl: number;
      while ((nl = stdout.indexOf("\n")) >= 0) {
        const line = stdout.slice(0, nl).trim();
        stdout = stdout.slice(nl + 1);
        if (!line) continue;
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          finish({ failure: `QEMU sent invalid QMP data: ${line.slice(0, 120)}` });
          return;
        }
        if (typeof msg !== "object" || msg === null || "event" in msg) continue;
        const m = msg as Record<string, unknown>;
        if (step === "greeting" && "QMP" in m) {
          step = "capabilities";
          child.stdin.write('{"execute":"qmp_capabilities"}\n');
        } else if (step === "capabilities" && "return" in m) {
          step = "query";
          child.stdin.write('{"execute":"query-kvm"}\n');
        } else if (step === "query") {
          step = "quit";
          const r = m.return as Record<string, unknown> | undefined;
          if (r && typeof r === "object") {
            finish({ qmp: { present: r.present === true, enabled: r.enabled === true } });
          } else {
            const err = m.error as Record<string, unknown> | undefined;
            finish({ failure: `query-kvm failed: ${typeof err?.desc === "string" ? err.desc : line}` });
          }
        } else if ("error" in m) {
          const err = m.error as Record<string, unknown>;
          finish({
            failure: `QEMU refused QMP negotiation: ${typeof err.desc === "string" ? err.desc : line}`,
          });
        }
      }
    });
    child.once("close", (code, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (answer) {
        resolve(answer);
        return;
      }
      const why = spawnError
        ? `cannot run ${binary}: ${spawnError.message}`
        : lastLine(stderr) ||
          (sig ? `QEMU was killed by signal ${sig}` : `QEMU exited with status ${String(code)}`);
      resolve({ failure: why });
    });
  });
}

/**
 * Checks whether KVM works on this host by asking QEMU. Never throws for an unusable KVM: the
 * result says why. Every process it starts has exited when it returns.
 */
export async function probeKvm(options: KvmProbeOptions = {}): Promise<KvmProbeResult> {
  const binary = options.binary ?? DEFAULT_QEMU_BINARY;
  const devicePath = options.device ?? KVM_DEVICE;
  const device = await deviceState(devicePath);
  const answer = await askQemu(binary, options.timeoutMs ?? 15_000, options.signal);
  const devText = deviceText(devicePath, device);
  if (answer.qmp) {
    if (answer.qmp.present && answer.qmp.enabled) return { usable: true, device, qmp: answer.qmp, binary };
    const said = `QEMU reports KVM ${answer.qmp.present ? "present" : "not present"} and ${answer.qmp.enabled ? "enabled" : "not enabled"}`;
    return { usable: false, reason: devText ? `${devText}; ${said}` : said, device, qmp: answer.qmp, binary };
  }
  const failure = answer.failure ?? "QEMU gave no answer";
  return { usable: false, reason: devText ? `${devText}; ${failure}` : failure, device, binary };
}

/** The catalogued error for a result that is not usable. */
export function kvmUnavailableError(result: KvmProbeResult): VirtError {
  return new VirtError(
    "KVM_UNAVAILABLE",
    { reason: result.reason ?? "unknown reason" },
    { device: result.device, binary: result.binary, ...(result.qmp ? { qmp: result.qmp } : {}) },
  );
}

/** Resolves when KVM is usable; otherwise throws `KVM_UNAVAILABLE` saying why. */
export async function requireKvm(options: KvmProbeOptions = {}): Promise<KvmProbeResult> {
  const r = await probeKvm(options);
  if (!r.usable) throw kvmUnavailableError(r);
  return r;
}
