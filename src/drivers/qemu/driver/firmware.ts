/**
 * The driver's side of firmware selection: which descriptors it reads (a system driver the
 * host's, a session or embedded one the user's too, as domain capabilities), where made-up NVRAM
 * files live (`<libDir>/nvram`, libvirt's nvram_dir), and the variable store created from its
 * template before QEMU starts (libvirt's qemuPrepareNVRAMFile).
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DomainDef } from "../../../conf/domain/types.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import { firmwareDirs, loadFirmwareDescriptors } from "../firmware.ts";
import { fillFirmware, fillFirmwareAtDefine, type FirmwareFillOptions } from "../firmware-select.ts";
import type { DriverPaths, DriverRoot } from "../paths.ts";

function options(root: DriverRoot, paths: DriverPaths, abiUpdate: boolean): FirmwareFillOptions {
  return {
    descriptors: loadFirmwareDescriptors(firmwareDirs(root.kind === "system")),
    nvramDir: join(paths.libDir, "nvram"),
    abiUpdate,
  };
}

/** The define-time selection, for the domain facts (errors only for new definitions). */
export function defineFirmware(
  root: DriverRoot,
  paths: DriverPaths,
): (def: DomainDef, abiUpdate: boolean) => void {
  return (def, abiUpdate) => {
    fillFirmwareAtDefine(def, options(root, paths, abiUpdate));
  };
}

/**
 * Selection again at start (the descriptors may have changed since the domain was defined),
 * then the variable store: a missing local NVRAM file is made from its template.
 */
export async function prepareFirmware(root: DriverRoot, paths: DriverPaths, live: DomainDef): Promise<void> {
  fillFirmware(live, options(root, paths, false));
  const { loader, nvram } = live.os;
  if (loader?.type !== "pflash" || loader.stateless === true) return;
  if (nvram?.path === undefined || existsSync(nvram.path)) return;
  if (nvram.template === undefined) return; // QEMU gets a fresh store only from a template
  await mkdir(dirname(nvram.path), { recursive: true });
  const from = nvram.templateFormat ?? "raw";
  const to = nvram.format ?? "raw";
  if (from === to) {
    await copyFile(nvram.template, nvram.path).catch((e: unknown) => {
      throw new VirtError("FIRMWARE_NVRAM_CREATE", {
        path: nvram.path ?? "",
        template: nvram.template ?? "",
        reason: e instanceof Error ? e.message : String(e),
      });
    });
    return;
  }
  const r = await runArgv(["qemu-img", "convert", "-f", from, "-O", to, nvram.template, nvram.path]);
  if (r.code !== 0) {
    throw new VirtError("FIRMWARE_NVRAM_CREATE", {
      path: nvram.path,
      template: nvram.template,
      reason: r.stderr.trim() || `qemu-img exited with ${String(r.code)}`,
    });
  }
}
