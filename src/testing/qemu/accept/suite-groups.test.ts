import assert from "node:assert/strict";
import { test } from "node:test";
import { preallocatedBytes } from "./argv.ts";
import { blur, groupOutcomes, qemuError, reasonOf, selectCases } from "./suite-groups.ts";
import type { CaseOutcome } from "./case.ts";

test("selectCases: cases with a latest .args run, .err-only cases are skipped, versioned outputs ignored", () => {
  const { names, skipped } = selectCases([
    "b.xml",
    "b.x86_64-latest.args",
    "b.x86_64-latest.xml",
    "a.xml",
    "a.x86_64-latest.args",
    "bad.xml",
    "bad.x86_64-latest.err",
    "old.x86_64-7.2.0.args",
  ]);
  assert.deepEqual(names, ["a", "b"]);
  assert.deepEqual(skipped, [{ name: "bad", why: "libvirt rejects it (.err)" }]);
});

test("qemuError: QEMU's message without timestamp, program name and echoed option", () => {
  assert.equal(
    qemuError(
      `2026-12-07T07:57:04.861951Z qemu-system-x86_64: -device {"driver":"ich9-usb-uhci1","id":"usb"}: Duplicate device ID 'usb'\n`,
    ),
    "Duplicate device ID 'usb'",
  );
  assert.equal(
    qemuError("qemu: module audio-audio-pa not found\naudio: Unknown audio driver `pa'\n"),
    "qemu: module audio-audio-pa not found",
  );
  assert.equal(qemuError(""), undefined);
  assert.equal(qemuError("qemu-system-x86_64: warning: Parameter -numa node,mem is deprecated\n"), undefined);
  assert.equal(
    blur("bind ip=10.0.0.1 port 12345 at /tmp/x/y, size 0x1000"),
    "bind ip=10.0.0.1 port <n> at <tmp>, size <hex>",
  );
});

test("reasonOf and groupOutcomes: one group per cause, largest first, started cases left out", () => {
  const refused = (line: string): CaseOutcome => ({
    status: "failed",
    error: "QEMU exited (status 1) before its QMP greeting",
    notes: [],
    stderr: `qemu-system-x86_64: -device x: ${line}\n`,
  });
  const outcomes = new Map<string, CaseOutcome>([
    ["ok", { status: "accepted", ms: 1, version: "7.2.22", notes: [], argv: [] }],
    ["kvm", { status: "not-runnable", needs: [{ code: "kvm", reason: "" }], notes: [] }],
    [
      "dev",
      {
        status: "not-runnable",
        needs: [{ code: "qemu-device", reason: "", subject: "spapr-vscsi" }],
        notes: [],
      },
    ],
    ["r1", refused("Unknown driver 'ssh'")],
    ["r2", refused("Unknown driver 'ssh'")],
    ["b", { status: "failed", error: "tvirt refuses to build the command line: no TPM", notes: [] }],
  ]);
  assert.equal(reasonOf(outcomes.get("dev")!, "7.2"), "QEMU 7.2 lacks device spapr-vscsi");
  assert.equal(reasonOf(outcomes.get("b")!, "7.2"), "tvirt refuses to build it for QEMU 7.2's caps: no TPM");
  const groups = groupOutcomes(outcomes, "7.2");
  assert.deepEqual(groups[0], { reason: "QEMU 7.2 refuses: Unknown driver 'ssh'", names: ["r1", "r2"] });
  assert.equal(groups.length, 4);
  assert.ok(!groups.some((g) => g.names.includes("ok")));
});

test("preallocatedBytes counts prealloc backends outside hugetlbfs only", () => {
  const args = [
    "-object",
    '{"qom-type":"memory-backend-file","id":"a","mem-path":"/tmp/x/ram","prealloc":true,"size":1024}',
    "-object",
    '{"qom-type":"memory-backend-file","id":"b","mem-path":"/huge/2M/x","prealloc":true,"size":4096}',
    "-object",
    '{"qom-type":"memory-backend-ram","id":"c","size":8192}',
    "-object",
    '{"qom-type":"memory-backend-ram","id":"d","prealloc":true,"size":16}',
  ];
  assert.equal(preallocatedBytes(args, ["/huge/2M"]), 1024 + 16);
});
