/**
 * swtpm's and swtpm_setup's command lines, where TPM states live, and which undefine removes
 * them (libvirt's qemuTPMEmulatorCleanupHost rule).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { DomainDef, TpmDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { DomainUndefineFlags } from "../../enums.ts";
import { driverPaths } from "../paths.ts";
import {
  hostTpmCancelPath,
  removeTpmStates,
  swtpmArgv,
  swtpmSetupArgv,
  swtpmStorageRoot,
  tpmStateLocation,
} from "./swtpm.ts";

const UUID = "11d7cd22-da89-3094-6212-079a48a309a1";

function tpm(backend: Partial<TpmDef["backend"]> = {}): TpmDef {
  return { model: "tpm-crb", alias: "tpm0", backend: { type: "emulator", version: "2.0", ...backend } };
}

test("state location: the root's swtpm/<uuid>/tpm2 (tpm1.2), or the definition's <source>", () => {
  const paths = driverPaths({ kind: "embed", root: "/r" });
  assert.equal(swtpmStorageRoot(paths), "/r/lib/swtpm");
  assert.deepEqual(tpmStateLocation(paths, UUID, tpm()), {
    kind: "dir",
    path: `/r/lib/swtpm/${UUID}/tpm2`,
    owned: true,
  });
  assert.equal(tpmStateLocation(paths, UUID, tpm({ version: "1.2" })).path, `/r/lib/swtpm/${UUID}/tpm1.2`);
  assert.deepEqual(tpmStateLocation(paths, UUID, tpm({ source: { type: "file", path: "/s/tpm.img" } })), {
    kind: "file",
    path: "/s/tpm.img",
    owned: false,
  });
  assert.deepEqual(
    tpmStateLocation(driverPaths({ kind: "system" }), UUID, tpm()).path,
    `/var/lib/tvirt/swtpm/${UUID}/tpm2`,
  );
});

test("swtpm_setup and swtpm command lines, as libvirt builds them", () => {
  const loc = { kind: "dir", path: "/st", owned: true } as const;
  assert.deepEqual(
    swtpmSetupArgv(tpm({ activePcrBanks: ["sha256", "sha512"] }), loc, { name: "vm", uuid: UUID }, "/l.log"),
    [
      "/usr/bin/swtpm_setup",
      "--tpm2",
      "--tpm-state",
      "/st",
      "--vmid",
      `vm:${UUID}`,
      "--logfile",
      "/l.log",
      "--createek",
      "--create-ek-cert",
      "--create-platform-cert",
      "--lock-nvram",
      "--not-overwrite",
      "--pcr-banks",
      "sha256,sha512",
    ],
  );
  assert.ok(
    !swtpmSetupArgv(tpm({ version: "1.2" }), loc, { name: "vm", uuid: UUID }, "/l").includes("--tpm2"),
  );
  assert.deepEqual(swtpmArgv(tpm({ debug: 3 }), loc, "/d/tpm0-swtpm.sock", "/l.log", "/d/tpm0-swtpm.pid"), [
    "/usr/bin/swtpm",
    "socket",
    "--ctrl",
    "type=unixio,path=/d/tpm0-swtpm.sock,mode=0600",
    "--tpmstate",
    "dir=/st,mode=0600",
    "--log",
    "file=/l.log,level=3",
    "--terminate",
    "--tpm2",
    "--pid",
    "file=/d/tpm0-swtpm.pid",
  ]);
  const file = swtpmArgv(tpm(), { kind: "file", path: "/s.img", owned: false }, "/s", "/l", "/p");
  assert.equal(file[5], "backend-uri=file:///s.img");
  assert.equal(file[7], "file=/l");
});

test("undefine removes a state unless --keep-tpm; persistent_state keeps it unless --tpm", async () => {
  const root = mkdtempSync(join(tmpdir(), "tvirt-swtpm-"));
  try {
    const paths = driverPaths({ kind: "embed", root });
    const def = (t: TpmDef): DomainDef => ({ uuid: UUID, devices: { tpms: [t] } }) as unknown as DomainDef;
    const dir = join(swtpmStorageRoot(paths), UUID, "tpm2");
    const make = (): void => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "tpm2-00.permall"), "x");
    };
    const U = DomainUndefineFlags;
    const cases: [Partial<TpmDef["backend"]>, number, boolean][] = [
      [{}, 0, true],
      [{}, U.KEEP_TPM, false],
      [{}, U.TPM, true],
      [{ persistent_state: true }, 0, false],
      [{ persistent_state: true }, U.KEEP_TPM, false],
      [{ persistent_state: true }, U.TPM, true],
    ];
    for (const [backend, flags, removed] of cases) {
      make();
      await removeTpmStates(paths, def(tpm(backend)), flags);
      assert.equal(
        !existsSync(join(swtpmStorageRoot(paths), UUID)),
        removed,
        JSON.stringify([backend, flags]),
      );
    }
    // a state the definition placed: itself only, never the folder around it
    const own = join(root, "mine", "state");
    mkdirSync(own, { recursive: true });
    await removeTpmStates(paths, def(tpm({ source: { type: "dir", path: own } })), 0);
    assert.ok(!existsSync(own) && existsSync(join(root, "mine")));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a passthrough TPM's cancel file is found in sysfs, or a clear error", () => {
  const sys = mkdtempSync(join(tmpdir(), "tvirt-sysfs-"));
  try {
    assert.throws(
      () => hostTpmCancelPath("/dev/tpm0", sys),
      (e: unknown) =>
        e instanceof VirtError && e.code === "QEMU_TPM_CANCEL_PATH" && e.message.includes("/dev/tpm0"),
    );
    mkdirSync(join(sys, "class", "misc", "tpm0", "device"), { recursive: true });
    writeFileSync(join(sys, "class", "misc", "tpm0", "device", "cancel"), "");
    assert.equal(hostTpmCancelPath("/dev/tpm0", sys), join(sys, "class", "misc", "tpm0", "device", "cancel"));
    mkdirSync(join(sys, "class", "tpm", "tpm0", "device"), { recursive: true });
    writeFileSync(join(sys, "class", "tpm", "tpm0", "device", "cancel"), "");
    assert.equal(hostTpmCancelPath("/dev/tpm0", sys), join(sys, "class", "tpm", "tpm0", "device", "cancel"));
  } finally {
    rmSync(sys, { recursive: true, force: true });
  }
});
