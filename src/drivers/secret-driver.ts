/**
 * The secret driver interface (libvirt's `virSecretDriver`), beside the network and storage
 * driver interfaces: the QEMU URIs get the local secret driver (drivers/secret), the remote
 * driver forwards these entries over the wire. A `SecretRef` stands where libvirt passes a
 * `virSecretPtr` (UUID, usage type and usage id, as `remote_nonnull_secret`).
 */
export { SecretUsageType, SECRET_USAGE_NAMES } from "../conf/secret/index.ts";

/** A secret handle (libvirt's `virSecretPtr`). */
export interface SecretRef {
  readonly uuid: string;
  /** `SecretUsageType` */
  readonly usageType: number;
  /** "" for usage none. */
  readonly usageID: string;
}

/** `virConnectListAllSecretsFlags` */
export const ConnectListSecretsFlags = {
  EPHEMERAL: 1 << 0,
  NO_EPHEMERAL: 1 << 1,
  PRIVATE: 1 << 2,
  NO_PRIVATE: 1 << 3,
} as const;

/** `virSecretDefineFlags` */
export const SecretDefineFlags = { VALIDATE: 1 } as const;

/** `virSecretEventID` */
export const SecretEventId = { LIFECYCLE: 0, VALUE_CHANGED: 1 } as const;

/** `virSecretEventLifecycleType` (the detail is always 0). */
export const SecretEventLifecycleType = { DEFINED: 0, UNDEFINED: 1 } as const;

export type SecretEvent =
  | { readonly id: typeof SecretEventId.LIFECYCLE; readonly event: number; readonly detail: number }
  | { readonly id: typeof SecretEventId.VALUE_CHANGED };

export type SecretEventCallback = (secret: SecretRef, event: SecretEvent) => void;

/** What `connectListAllSecrets` filters look at, for one secret. */
export interface SecretListFacts {
  readonly ephemeral: boolean;
  readonly private: boolean;
}

/** libvirt's `virSecretObjMatch`: each group restricts only when one of its flags is given. */
export function matchesSecretListFlags(flags: number, s: SecretListFacts): boolean {
  const L = ConnectListSecretsFlags;
  const has = (f: number): boolean => (flags & f) !== 0;
  const either = (yes: number, no: number, value: boolean): boolean =>
    !(has(yes) || has(no)) || (has(yes) && value) || (has(no) && !value);
  return either(L.EPHEMERAL, L.NO_EPHEMERAL, s.ephemeral) && either(L.PRIVATE, L.NO_PRIVATE, s.private);
}

/** The secret entries of a driver (all optional: a missing one is "not supported"). */
export interface SecretDriver {
  connectNumOfSecrets?(): Promise<number>;
  connectListSecrets?(maxuuids: number): Promise<string[]>;
  connectListAllSecrets?(flags: number): Promise<SecretRef[]>;
  secretLookupByUUID?(uuid: string): Promise<SecretRef>;
  secretLookupByUsage?(usageType: number, usageID: string): Promise<SecretRef>;
  secretDefineXML?(xml: string, flags: number): Promise<SecretRef>;
  secretGetXMLDesc?(secret: SecretRef, flags: number): Promise<string>;
  secretSetValue?(secret: SecretRef, value: Uint8Array, flags: number): Promise<void>;
  secretGetValue?(secret: SecretRef, flags: number): Promise<Uint8Array>;
  secretUndefine?(secret: SecretRef): Promise<void>;
  connectSecretEventRegisterAny?(
    secret: SecretRef | null,
    eventID: number,
    cb: SecretEventCallback,
  ): Promise<number>;
  connectSecretEventDeregisterAny?(callbackID: number): Promise<void>;
}

/** A secret driver opened for one connection; closed with it. */
export interface SecretDriverConnection extends SecretDriver {
  close(): Promise<void>;
}
