/**
 * Acceptance by the real QEMU: for every case of libvirt's corpus that needs nothing absent
 * from this machine, the argv tvirt builds for the installed QEMU is started paused (`-S`,
 * host resources swapped for temporary ones, inside a network namespace this test creates) and
 * must reach its QMP greeting. Cases that cannot run here are listed below with the reason;
 * the test fails when that list and the machine's facts disagree.
 *
 * Needs root (netns, taps, hugetlbfs) and qemu-system-x86_64; skipped otherwise (failed under CI).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { corpusOrSkip } from "../../corpus.ts";
import { ensureTestGuest } from "../../guest/index.ts";
import { getQemuCaps, domainFactsFromCaps } from "../../../drivers/qemu/capabilities/index.ts";
import { runCase, type CaseOutcome, type RunEnv } from "./case.ts";
import { Cleanup } from "./cleanup.ts";
import { onPath, readHostFacts, type HostFacts } from "./host-facts.ts";
import { mountHugetlbfs, nrHugepagesFile } from "./hugepages.ts";
import { NetNamespace } from "./netns.ts";
import type { NeedCode } from "./prepare.ts";
import { run } from "./run.ts";

const QEMU = process.env.TVIRT_QEMU ?? "/usr/bin/qemu-system-x86_64";
const HERE = dirname(fileURLToPath(import.meta.url));
const GIB_KIB = 1024 * 1024;
/** Upper bound of huge page memory one case may reserve. */
const HUGEPAGE_CAP_KIB = 6 * GIB_KIB;

interface Expectation {
  /** Need codes that make the case not runnable here (empty: it must be accepted). */
  readonly needs: (f: HostFacts) => readonly NeedCode[];
  readonly why: string;
}

const always =
  (...codes: NeedCode[]) =>
  (): readonly NeedCode[] =>
    codes;
const withoutKvm = (f: HostFacts): readonly NeedCode[] => (f.kvm ? [] : ["kvm"]);
const has1G = (f: HostFacts): boolean => f.hugepageSizesKiB.includes(GIB_KIB);
const hasNodes = (f: HostFacts, nodes: number[]): boolean => nodes.every((n) => f.numaNodes.includes(n));

/**
 * Cases that cannot run on a machine like this one (no KVM, no vfio, no USB, no OVS, one NUMA
 * node, no 1 GiB pages), with the reason. Host-dependent entries say when they apply. Every
 * case not listed must be accepted by QEMU.
 */
const EXPECTED_NOT_RUNNABLE: Readonly<Record<string, Expectation>> = {
  "cpu-host-passthrough": { needs: withoutKvm, why: "host-passthrough CPU needs KVM" },
  "cpu-host-model-kvm": { needs: withoutKvm, why: "host-model CPU needs KVM" },
  "cpu-phys-bits-passthrough": { needs: withoutKvm, why: "host-passthrough CPU (maxphysaddr) needs KVM" },
  "cpu-phys-bits-emulate": { needs: withoutKvm, why: "host-passthrough CPU (maxphysaddr) needs KVM" },
  "cpu-phys-bits-limit": { needs: withoutKvm, why: "host-passthrough CPU (maxphysaddr) needs KVM" },
  "cpu-phys-bits-passthrough2": {
    needs: always("negative"),
    why: "negative case: bits= with mode='passthrough' is invalid",
  },
  "hugepages-default-5M": { needs: always("negative"), why: "negative case: no 5 MiB huge pages" },
  "launch-security-sev-direct": {
    needs: (f) => (f.sev ? [] : ["sev"]),
    why: "AMD SEV needs /dev/sev and KVM",
  },
  "net-hostdev": { needs: (f) => (f.vfio ? [] : ["vfio"]), why: "SR-IOV VF assignment needs vfio" },
  "hostdev-pci-address": { needs: (f) => (f.vfio ? [] : ["vfio"]), why: "PCI assignment needs vfio" },
  "hostdev-vfio": { needs: (f) => (f.vfio ? [] : ["vfio"]), why: "PCI assignment needs vfio" },
  "hostdev-usb-address": { needs: always("usb-host"), why: "needs host USB device 014/006" },
  "net-openvswitch": {
    needs: (f) => (f.openvswitch ? [] : ["openvswitch"]),
    why: "Open vSwitch is not installed",
  },
  "disk-scsi": {
    needs: always("qemu-device"),
    why: "spapr-vscsi (model ibmvscsi) exists only in qemu-system-ppc64",
  },
  fs9p: { needs: always("qemu-fsdriver"), why: "the 9p 'handle' fsdriver was removed in QEMU 6.0" },
  "hugepages-numa-nodeset": {
    needs: (f) => (has1G(f) ? [] : ["hugepage-size"]),
    why: "needs 1 GiB huge pages",
  },
  "hugepages-shared": {
    needs: (f) => [
      ...(has1G(f) ? [] : ["hugepage-size" as const]),
      ...(hasNodes(f, [0, 1, 2, 3]) ? [] : ["host-numa" as const]),
    ],
    why: "needs 1 GiB huge pages and host NUMA nodes 0-3",
  },
  "hugepages-memaccess": {
    needs: (f) => [
      ...(has1G(f) ? [] : ["hugepage-size" as const]),
      ...(hasNodes(f, [0, 1, 2, 3]) ? [] : ["host-numa" as const]),
    ],
    why: "needs 1 GiB huge pages and host NUMA nodes 0-3",
  },
  "memfd-memory-numa": {
    // 14 GiB of 2 MiB pages is over the cap; that is only seen once node 3 exists.
    needs: (f) => (hasNodes(f, [3]) ? ["hugepage-amount"] : ["host-numa"]),
    why: "needs host NUMA node 3 and 14 GiB of huge pages",
  },
};

/** The tiny test guest, built (or read from its cache) on first use; undefined when it cannot be had. */
function lazyGuest(log: (m: string) => void): () => Promise<{ kernel: string; initrd: string } | undefined> {
  let p: Promise<{ kernel: string; initrd: string } | undefined> | undefined;
  return () =>
    (p ??= ensureTestGuest().then(
      (g) => ({ kernel: g.kernel, initrd: g.initrd }),
      (e: unknown) => {
        log(
          `tiny test guest unavailable (${e instanceof Error ? e.message : String(e)}); kernel/initrd become empty files`,
        );
        return undefined;
      },
    ));
}

function caseNames(corpus: string): string[] {
  return (
    readdirSync(join(corpus, "qemuxmlconfdata"))
      // Inputs only: outputs are `<case>.x86_64-latest.xml`, `<case>.x86_64-7.2.0.xml`, ...
      .filter((f) => f.endsWith(".xml") && !f.includes(".x86_64-"))
      .map((f) => f.slice(0, -".xml".length))
      .sort()
  );
}

function skipOrFail(t: { skip: (m: string) => void }, why: string): void {
  if (process.env.CI === "true") throw new Error(`${why}: required under CI`);
  t.skip(why);
}

function outcomeLine(name: string, o: CaseOutcome): string {
  switch (o.status) {
    case "accepted":
      return `${name}: accepted (QEMU ${o.version} greeted on QMP and answered, paused, after ${o.ms} ms)`;
    case "not-runnable":
      return `${name}: not runnable here: ${o.needs.map((n) => n.reason).join("; ")}${o.detail !== undefined ? ` [${o.detail}]` : ""}`;
    case "failed":
      return `${name}: FAILED: ${o.error}`;
  }
}

function hugepageCounts(sizes: readonly number[]): string {
  return sizes.map((s) => `${s}kB=${readFileSync(nrHugepagesFile(s), "utf8").trim()}`).join(" ");
}

async function removeStaleNamespaces(ip: string): Promise<void> {
  const r = await run([ip, "netns", "list"], { check: false });
  for (const line of r.stdout.split("\n")) {
    const m = /^tvirt-accept-(\d+)\b/.exec(line);
    if (m?.[1] === undefined) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      alive = false;
    }
    if (!alive) await run([ip, "netns", "delete", `tvirt-accept-${m[1]}`], { check: false });
  }
}

test(
  "the argv tvirt builds is accepted by the installed QEMU, case by case",
  { timeout: 300_000 },
  async (t) => {
    const corpus = corpusOrSkip(t);
    if (corpus === undefined) return;
    if (process.getuid?.() !== 0) {
      skipOrFail(t, "needs root (network namespace, taps, hugetlbfs)");
      return;
    }
    const ip = onPath("ip");
    const python = onPath("python3");
    const qemuVersion = await run([QEMU, "--version"], { check: false }).catch(() => undefined);
    if (qemuVersion?.code !== 0 || ip === undefined || python === undefined) {
      skipOrFail(
        t,
        `needs ${QEMU}, ip and python3 (${[qemuVersion?.code !== 0 ? QEMU : "", ip ? "" : "ip", python ? "" : "python3"].filter(Boolean).join(", ")} missing)`,
      );
      return;
    }

    const started = Date.now();
    const cleanup = new Cleanup();
    const outcomes = new Map<string, CaseOutcome>();
    const facts = await readHostFacts(QEMU);
    const hugepagesBefore = hugepageCounts(facts.hugepageSizesKiB);
    const tempRoot = mkdtempSync(join(tmpdir(), "tvirt-accept-"));
    cleanup.defer(`temp dir ${tempRoot}`, () => {
      rmSync(tempRoot, { recursive: true, force: true });
    });
    try {
      const caps = await getQemuCaps(QEMU, { cacheDir: join(tempRoot, "caps") });
      await removeStaleNamespaces(ip);
      const netns = await NetNamespace.create(ip, `tvirt-accept-${process.pid}`);
      cleanup.defer(`network namespace ${netns.name}`, () => netns.delete());
      // getaddrinfo(AI_ADDRCONFIG), which SPICE uses, finds no address family usable while the
      // namespace has only 127.0.0.1 and ::1; one documentation address per family on lo fixes it.
      await netns.addLoopbackAddress("192.0.2.1");
      if (facts.ipv6) await netns.addLoopbackAddress("2001:db8::1");
      const sizes = facts.hugepageSizesKiB.filter((s) => s === 2048 || s === GIB_KIB);
      const hugetlbfs = await mountHugetlbfs(
        join(tempRoot, "hugetlbfs"),
        sizes,
        facts.defaultHugepageKiB,
        cleanup,
      );
      t.diagnostic(
        `QEMU ${qemuVersion.stdout.split("\n")[0] ?? ""}; KVM ${facts.kvm ? "usable" : "not usable"}; vfio ${facts.vfio ? "present" : "absent"}; ` +
          `huge page sizes ${facts.hugepageSizesKiB.join(", ")} KiB; host NUMA nodes ${facts.numaNodes.join(",")}; namespace ${netns.name}`,
      );
      const env: RunEnv = {
        facts,
        caps,
        domainFacts: domainFactsFromCaps(caps),
        netns,
        hugetlbfs,
        python,
        tapHelper: join(HERE, "tap-exec.py"),
        corpusDir: corpus,
        tempRoot,
        hugepageCapKiB: HUGEPAGE_CAP_KIB,
        greetTimeoutMs: 20_000,
        guest: lazyGuest((m) => {
          t.diagnostic(m);
        }),
      };

      const names = caseNames(corpus);
      for (const unknown of Object.keys(EXPECTED_NOT_RUNNABLE).filter((n) => !names.includes(n))) {
        assert.fail(`EXPECTED_NOT_RUNNABLE names ${unknown}, which is not in the corpus`);
      }
      let index = 0;
      for (const name of names) {
        index++;
        const i = index;
        await t.test(name, async (st) => {
          const o = await runCase(env, i, name);
          outcomes.set(name, o);
          st.diagnostic(outcomeLine(name, o));
          for (const n of o.notes) st.diagnostic(`  ${n}`);
          if (o.status === "failed") {
            const lines = [`${name}: ${o.error}`];
            if (o.stderr !== undefined) lines.push(`QEMU stderr:\n${o.stderr.trim()}`);
            if (o.argv) lines.push(`argv:\n${o.argv.join("\n")}`);
            assert.fail(lines.join("\n"));
          }
          const expected = [...(EXPECTED_NOT_RUNNABLE[name]?.needs(facts) ?? [])].sort();
          // Whether the kernel can reserve huge pages right now (1 GiB pages need that much
          // contiguous free memory) depends on the machine's fragmentation at the moment, not
          // on a fact of the host: a case held back by it is reported, not failed.
          const actual =
            o.status === "not-runnable"
              ? [...new Set(o.needs.map((n) => n.code))].filter((c) => c !== "hugepage-pool").sort()
              : [];
          if (o.status === "not-runnable" && o.needs.some((n) => n.code === "hugepage-pool"))
            st.diagnostic(`${name}: the kernel could not reserve its huge pages now; it was not started`);
          assert.deepEqual(
            actual,
            expected,
            `${name}: the facts say ${actual.length > 0 ? `not runnable (${actual.join(", ")})` : "runnable"}, the expectation list says ${expected.length > 0 ? `not runnable (${expected.join(", ")}: ${EXPECTED_NOT_RUNNABLE[name]?.why ?? ""})` : "runnable"}`,
          );
        });
      }
    } finally {
      await cleanup.release();
    }

    assert.equal(
      hugepageCounts(facts.hugepageSizesKiB),
      hugepagesBefore,
      "huge page pool counts are back to what they were",
    );
    const all = [...outcomes.values()];
    const accepted = all.filter((o) => o.status === "accepted").length;
    const notRunnable = [...outcomes.entries()].filter(
      (e): e is [string, Extract<CaseOutcome, { status: "not-runnable" }>] => e[1].status === "not-runnable",
    );
    const failed = all.filter((o) => o.status === "failed").length;
    const reasons = new Map<string, string[]>();
    for (const [name, o] of notRunnable)
      for (const c of new Set(o.needs.map((n) => n.code))) reasons.set(c, [...(reasons.get(c) ?? []), name]);
    t.diagnostic(
      `${accepted} accepted, ${notRunnable.length} not runnable here (${[...reasons.entries()].map(([c, n]) => `${c}: ${n.join(", ")}`).join("; ")}), ` +
        `${failed} failed of ${outcomes.size}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  },
);
