/**
 * How the QEMU driver reads the secrets its guests' disks name (libvirt's virSecretGetSecretString
 * through the connection's secret driver): the secret driver of the same root, by UUID or by
 * usage ID, private secrets included (the value goes to QEMU encrypted, never to a client).
 */
import { secretDriverFor } from "../secret/driver.ts";
import { SECRET_USAGE_NAMES } from "../../conf/secret/index.ts";
import { VirtError } from "../../util/errors/index.ts";
import type { DriverRoot } from "./paths.ts";

/** A secret's value for a disk; throws the secret driver's "secret not found"/"no value" errors. */
export function lookupSecretValue(
  root: DriverRoot,
  ref: { uuid?: string; usage?: string },
  usageType: string,
): Uint8Array {
  const d = secretDriverFor(root);
  if (ref.uuid !== undefined) return d.internalValue(ref.uuid);
  const type = SECRET_USAGE_NAMES.indexOf(usageType as (typeof SECRET_USAGE_NAMES)[number]);
  if (type <= 0 || ref.usage === undefined)
    throw new VirtError("SECRET_NOT_FOUND", { key: "usage", value: ref.usage ?? "" });
  return d.internalValue(d.lookupByUsage(type, ref.usage).uuid);
}
