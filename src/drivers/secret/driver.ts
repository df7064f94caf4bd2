/**
 * The secret driver (libvirt's secret_driver.c) for one state root, or in memory only. A
 * persistent secret is kept as libvirt keeps it, `UUID.xml` beside `UUID.base64` in the
 * secrets dir, but the `.base64` file holds the value encrypted with the host's key
 * (AES-256-GCM, the UUID as associated data so files cannot be swapped between secrets), never
 * the plain value. The key (`secrets-encryption-key`, 32 random bytes, mode 0600) is created
 * once, beside the definitions. Ephemeral secrets, and every secret of an in-memory driver,
 * never touch the disk. Values never reach a log or an error message.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { checkFlags, VirtError } from "../../util/errors/index.ts";
import { removeFileDurable, writeFileAtomic } from "../../util/atomic-file.ts";
import { formatSecret, parseSecret, SECRET_USAGE_NAMES, type SecretDef } from "../../conf/secret/index.ts";
import { validateAgainstSchema } from "../../host/xml-schema.ts";
import { EventHub } from "../events.ts";
import { entry } from "../entry.ts";
import {
  matchesSecretListFlags,
  SecretDefineFlags,
  SecretEventId,
  SecretEventLifecycleType as Ev,
  type SecretDriverConnection,
  type SecretEvent,
  type SecretEventCallback,
  type SecretRef,
} from "../secret-driver.ts";

export type SecretRoot =
  | { readonly kind: "system" }
  | { readonly kind: "session" }
  | { readonly kind: "embed"; readonly root: string };

/** Where a root keeps its secrets (libvirt: /etc/libvirt/secrets, ~/.config/libvirt/secrets). */
export function secretsDir(root: SecretRoot): string {
  switch (root.kind) {
    case "system":
      return "/etc/tvirt/secrets";
    case "session": {
      const v = process.env.XDG_CONFIG_HOME;
      return join(v !== undefined && v !== "" ? v : join(homedir(), ".config"), "tvirt", "secrets");
    }
    case "embed":
      return join(root.root, "etc", "secrets");
  }
}

export const KEY_FILE = "secrets-encryption-key";
/** Marks the `.base64` files this driver writes: version 1 = AES-256-GCM, 12-byte IV, 16-byte tag. */
const MAGIC = Buffer.from("TVS1");

interface SecretObj {
  def: SecretDef;
  value: Buffer | undefined;
}

interface QueuedEvent {
  readonly ref: SecretRef;
  readonly ev: SecretEvent;
}

const refOf = (d: SecretDef): SecretRef => ({ uuid: d.uuid, usageType: d.usageType, usageID: d.usageID });

function usageText(d: SecretDef): string {
  return d.usageID;
}

export class SecretDriver {
  readonly #secrets = new Map<string, SecretObj>();
  readonly #events = new EventHub<QueuedEvent>();
  #key: Buffer | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  /** `dir` null: in memory only (nothing is written). */
  private constructor(readonly dir: string | null) {}

  /** An in-memory driver. */
  static memory(): SecretDriver {
    return new SecretDriver(null);
  }

  /** Loads the persistent secrets of `dir` (libvirt's `virSecretLoadAllConfigs`). */
  static load(dir: string): SecretDriver {
    const d = new SecretDriver(dir);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      names = []; // no secrets dir yet: nothing defined
    }
    for (const f of names.filter((n) => n.endsWith(".xml")).sort()) {
      let def: SecretDef;
      try {
        def = parseSecret(readFileSync(join(dir, f), "utf8"));
      } catch {
        continue; // libvirt skips a definition it cannot parse
      }
      if (def.ephemeral || `${def.uuid}.xml` !== f) continue;
      let value: Buffer | undefined;
      try {
        value = d.#decrypt(def.uuid, readFileSync(join(dir, `${def.uuid}.base64`), "utf8"));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      d.#secrets.set(def.uuid, { def, value });
    }
    return d;
  }

  // --- the value store ---------------------------------------------------------------------

  /** The host's key: read, or created once (exclusively, 0600) when there is none. */
  #hostKey(): Buffer {
    if (this.#key) return this.#key;
    if (this.dir === null) throw new VirtError("SECRET_STORE", { what: "an in-memory driver has no key" });
    const path = join(this.dir, KEY_FILE);
    try {
      writeFileSync(path, randomBytes(32), { flag: "wx", mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const key = readFileSync(path);
    if (key.length !== 32) {
      throw new VirtError("SECRET_STORE", {
        what: `key file ${path} holds ${key.length} bytes, expected 32`,
      });
    }
    chmodSync(path, 0o600);
    this.#key = key;
    return key;
  }

  #encrypt(uuid: string, value: Buffer): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#hostKey(), iv);
    c.setAAD(Buffer.from(uuid));
    const body = Buffer.concat([c.update(value), c.final()]);
    return Buffer.concat([MAGIC, iv, c.getAuthTag(), body]).toString("base64") + "\n";
  }

  #decrypt(uuid: string, text: string): Buffer {
    const raw = Buffer.from(text.trim(), "base64");
    if (raw.length < 32 || !raw.subarray(0, 4).equals(MAGIC)) {
      throw new VirtError("SECRET_STORE", { what: `value file of secret ${uuid} is not an encrypted value` });
    }
    try {
      const d = createDecipheriv("aes-256-gcm", this.#hostKey(), raw.subarray(4, 16));
      d.setAAD(Buffer.from(uuid));
      d.setAuthTag(raw.subarray(16, 32));
      return Buffer.concat([d.update(raw.subarray(32)), d.final()]);
    } catch {
      throw new VirtError("SECRET_STORE", {
        what: `value file of secret ${uuid} does not decrypt with this host's key`,
      });
    }
  }

  /** Runs changes one at a time (writes of one secret never interleave). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#chain.then(fn, fn);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  #file(uuid: string, ext: "xml" | "base64"): string {
    return join(this.dir ?? "", `${uuid}.${ext}`);
  }

  // --- the driver's operations -------------------------------------------------------------

  #find(uuid: string): SecretObj {
    const o = this.#secrets.get(uuid);
    if (!o) throw new VirtError("SECRET_NOT_FOUND", { key: "uuid", value: uuid });
    return o;
  }

  #findByUsage(usageType: number, usageID: string): SecretObj | undefined {
    if (usageType === 0) return undefined;
    for (const o of this.#secrets.values())
      if (o.def.usageType === usageType && o.def.usageID === usageID) return o;
    return undefined;
  }

  list(flags: number): SecretRef[] {
    return [...this.#secrets.values()]
      .filter((o) => matchesSecretListFlags(flags, { ephemeral: o.def.ephemeral, private: o.def.private }))
      .map((o) => refOf(o.def));
  }

  lookupByUUID(uuid: string): SecretRef {
    return refOf(this.#find(uuid).def);
  }

  lookupByUsage(usageType: number, usageID: string): SecretRef {
    const o = this.#findByUsage(usageType, usageID);
    if (!o) throw new VirtError("SECRET_NOT_FOUND", { key: "usage", value: usageID });
    return refOf(o.def);
  }

  async defineXML(xml: string, flags: number): Promise<SecretRef> {
    checkFlags(flags, SecretDefineFlags.VALIDATE, "secretDefineXML");
    if (flags & SecretDefineFlags.VALIDATE)
      await validateAgainstSchema(xml, "secret", { document: "(definition_of_secret)" });
    const def = parseSecret(xml);
    return this.#serial(async () => {
      const old = this.#secrets.get(def.uuid);
      if (old) {
        if (old.def.usageID !== def.usageID)
          throw new VirtError("SECRET_UUID_OTHER_USAGE", { uuid: def.uuid, usage: usageText(old.def) });
        if (old.def.private && !def.private) throw new VirtError("SECRET_PRIVATE_CHANGE", {});
      } else {
        const other = this.#findByUsage(def.usageType, def.usageID);
        if (other) throw new VirtError("SECRET_USAGE_TAKEN", { uuid: other.def.uuid, usage: def.usageID });
      }
      const obj: SecretObj = { def, value: old?.value };
      if (this.dir !== null) {
        if (!def.ephemeral) {
          mkdirSync(this.dir, { recursive: true, mode: 0o700 });
          if (obj.value !== undefined && (old?.def.ephemeral ?? true)) {
            await writeFileAtomic(this.#file(def.uuid, "base64"), this.#encrypt(def.uuid, obj.value), {
              mode: 0o600,
            });
          }
          await writeFileAtomic(this.#file(def.uuid, "xml"), formatSecret(def), { mode: 0o600 });
        } else if (old && !old.def.ephemeral) {
          // now ephemeral: what was on disk goes
          await removeFileDurable(this.#file(def.uuid, "xml"));
          await removeFileDurable(this.#file(def.uuid, "base64"));
        }
      }
      this.#secrets.set(def.uuid, obj);
      this.#emit(def, { id: SecretEventId.LIFECYCLE, event: Ev.DEFINED, detail: 0 });
      return refOf(def);
    });
  }

  getXMLDesc(ref: SecretRef, flags: number): string {
    checkFlags(flags, 0, "secretGetXMLDesc");
    return formatSecret(this.#find(ref.uuid).def);
  }

  async setValue(ref: SecretRef, value: Uint8Array, flags: number): Promise<void> {
    checkFlags(flags, 0, "secretSetValue");
    const v = Buffer.from(value);
    await this.#serial(async () => {
      const o = this.#find(ref.uuid);
      if (this.dir !== null && !o.def.ephemeral) {
        await writeFileAtomic(this.#file(o.def.uuid, "base64"), this.#encrypt(o.def.uuid, v), {
          mode: 0o600,
        });
      }
      o.value = v;
      this.#emit(o.def, { id: SecretEventId.VALUE_CHANGED });
    });
  }

  getValue(ref: SecretRef, flags: number): Uint8Array {
    checkFlags(flags, 0, "secretGetValue");
    const o = this.#find(ref.uuid);
    if (o.def.private) throw new VirtError("SECRET_PRIVATE", {});
    if (o.value === undefined) throw new VirtError("SECRET_NO_VALUE", { uuid: o.def.uuid });
    return new Uint8Array(o.value);
  }

  /** The value for the host's own use (a LUKS disk): private secrets too (INTERNAL_CALL). */
  internalValue(uuid: string): Buffer {
    const o = this.#find(uuid);
    if (o.value === undefined) throw new VirtError("SECRET_NO_VALUE", { uuid });
    return Buffer.from(o.value);
  }

  async undefine(ref: SecretRef): Promise<void> {
    await this.#serial(async () => {
      const o = this.#find(ref.uuid);
      if (this.dir !== null && !o.def.ephemeral) {
        await removeFileDurable(this.#file(o.def.uuid, "xml"));
        await removeFileDurable(this.#file(o.def.uuid, "base64"));
      }
      this.#secrets.delete(o.def.uuid);
      o.value?.fill(0);
      this.#emit(o.def, { id: SecretEventId.LIFECYCLE, event: Ev.UNDEFINED, detail: 0 });
    });
  }

  #emit(def: SecretDef, ev: SecretEvent): void {
    this.#events.emit({ name: "", uuid: def.uuid, id: -1 }, { ref: refOf(def), ev });
  }

  /** One connection's entries on this driver. */
  connection(): SecretDriverConnection {
    const owner = {};
    const events = this.#events;
    return {
      close: () => {
        events.removeOwner(owner);
        return Promise.resolve();
      },
      connectNumOfSecrets: entry(() => this.#secrets.size),
      connectListSecrets: entry((max: number) =>
        this.list(0)
          .map((r) => r.uuid)
          .slice(0, Math.max(0, max)),
      ),
      connectListAllSecrets: entry((flags: number) => {
        checkFlags(flags, 0xf, "secretConnectListAllSecrets");
        return this.list(flags);
      }),
      secretLookupByUUID: entry((uuid: string) => this.lookupByUUID(uuid)),
      secretLookupByUsage: entry((t: number, id: string) => this.lookupByUsage(t, id)),
      secretDefineXML: entry((xml: string, flags: number) => this.defineXML(xml, flags)),
      secretGetXMLDesc: entry((s: SecretRef, flags: number) => this.getXMLDesc(s, flags)),
      secretSetValue: entry((s: SecretRef, v: Uint8Array, flags: number) => this.setValue(s, v, flags)),
      secretGetValue: entry((s: SecretRef, flags: number) => this.getValue(s, flags)),
      secretUndefine: entry((s: SecretRef) => this.undefine(s)),
      connectSecretEventRegisterAny: entry(
        (s: SecretRef | null, eventID: number, cb: SecretEventCallback) => {
          if (eventID !== SecretEventId.LIFECYCLE && eventID !== SecretEventId.VALUE_CHANGED) {
            throw new VirtError("API_INVALID_ARG", { what: `unsupported event ID ${eventID}` });
          }
          return events.add(
            owner,
            s?.uuid ?? null,
            (e) => e.ev.id === eventID,
            (_r, e) => {
              cb(e.ref, e.ev);
            },
          );
        },
      ),
      connectSecretEventDeregisterAny: entry((id: number) => {
        if (!events.remove(owner, id)) {
          throw new VirtError("API_INVALID_ARG", {
            what: `could not find event callback ${id} for deletion`,
          });
        }
      }),
    };
  }
}

export { SECRET_USAGE_NAMES };

const loaded = new Map<string, SecretDriver>();

/** The driver of a secrets dir, loaded once per process (the daemon and embed share it). */
export function secretDriverFor(root: SecretRoot): SecretDriver {
  const dir = secretsDir(root);
  let d = loaded.get(dir);
  if (!d) {
    d = SecretDriver.load(dir);
    loaded.set(dir, d);
  }
  return d;
}
