/**
 * `Secret` (libvirt's `virSecretPtr`): a handle on a secret by UUID, with its usage. Getting
 * the value is refused on a read-only connection, as libvirt refuses it (virSecretGetValue
 * checks for read-only access): a read-only client never sees a secret's value.
 */
import type { Connection } from "./connection.ts";
import type { SecretRef } from "../drivers/secret-driver.ts";

export class Secret {
  /** @internal Secrets come from listings, lookups and definitions. */
  constructor(
    readonly connection: Connection,
    private readonly r: SecretRef,
  ) {}

  get uuid(): string {
    return this.r.uuid;
  }

  /** `SecretUsageType` */
  get usageType(): number {
    return this.r.usageType;
  }

  /** The volume path, ceph/tls/vtpm name or iSCSI target ("" for none). */
  get usageID(): string {
    return this.r.usageID;
  }

  /** @internal */
  ref(): SecretRef {
    return { ...this.r };
  }

  toJSON(): SecretRef {
    return this.ref();
  }

  /** virSecretGetXMLDesc */
  async getXMLDesc(flags = 0): Promise<string> {
    return this.connection.invokeSecret("virSecretGetXMLDesc", false, (s) =>
      s.secretGetXMLDesc?.(this.ref(), flags),
    );
  }

  /** virSecretSetValue */
  async setValue(value: Uint8Array, flags = 0): Promise<void> {
    await this.connection.invokeSecret("virSecretSetValue", true, (s) =>
      s.secretSetValue?.(this.ref(), value, flags),
    );
  }

  /** virSecretGetValue: refused read-only, and for private secrets. */
  async getValue(flags = 0): Promise<Uint8Array> {
    return this.connection.invokeSecret("virSecretGetValue", true, (s) =>
      s.secretGetValue?.(this.ref(), flags),
    );
  }

  /** virSecretUndefine */
  async undefine(): Promise<void> {
    await this.connection.invokeSecret("virSecretUndefine", true, (s) => s.secretUndefine?.(this.ref()));
  }
}
