import type { Catalogue } from "./types.ts";

/** Errors of the QEMU driver: capabilities probing and command-line building. */
export const qemuErrors = {
  QEMU_UNSUPPORTED: { vir: "CONFIG_UNSUPPORTED", domain: "QEMU", kind: "user", template: "{what}" },
} as const satisfies Catalogue;
