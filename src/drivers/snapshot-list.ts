/**
 * One domain's snapshot metadata: the tree (parent links), the current snapshot, libvirt's list
 * filters and delete rules (virdomainmomentobjlist.c / virdomainsnapshotobjlist.c), and the
 * on-disk form `DIR/SNAP.xml` (atomic writes; the current one is marked with `<active>1</active>`
 * in its file, as libvirt's qemu driver does) so metadata survives a daemon restart.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { VirtError } from "../util/errors/index.ts";
import { removeFileDurable, writeFileAtomic } from "../util/atomic-file.ts";
import { formatSnapshotXML, parseSnapshotXML } from "../conf/snapshot/xml.ts";
import type { SnapshotDef, SnapshotState } from "../conf/snapshot/types.ts";
import { DomainSnapshotListFlags as L, DomainState } from "./enums.ts";
import { checkFlags } from "../util/errors/index.ts";

/** Every flag virDomainListAllSnapshots and virDomainSnapshotListAllChildren accept. */
export const SNAPSHOT_LIST_FLAGS_ALL = Object.values(L).reduce((a, b) => a | b, 0);

export interface SnapshotEntry {
  def: SnapshotDef;
}

/** How a snapshot was taken, for the INTERNAL / EXTERNAL / DISK_ONLY filters. */
export function snapshotLocation(def: SnapshotDef): "internal" | "external" {
  if (def.memory?.snapshot === "external") return "external";
  if (def.disks?.some((d) => d.snapshot === "external")) return "external";
  return "internal";
}

/** The `<state>` a snapshot records for a domain in `state` (virDomainSnapshotState's names). */
export function snapshotStateName(state: DomainState): SnapshotState {
  switch (state) {
    case DomainState.RUNNING:
      return "running";
    case DomainState.PAUSED:
      return "paused";
    case DomainState.BLOCKED:
      return "blocked";
    case DomainState.SHUTDOWN:
      return "shutdown";
    case DomainState.CRASHED:
      return "crashed";
    case DomainState.PMSUSPENDED:
      return "pmsuspended";
    case DomainState.SHUTOFF:
      return "shutoff";
    default:
      return "nostate";
  }
}

export class SnapshotList {
  private readonly byName = new Map<string, SnapshotDef>();
  private currentName: string | undefined;

  /** `dir`: where `SNAP.xml` files live (absent: metadata in memory only, as test:///default). */
  constructor(readonly dir?: string) {}

  get size(): number {
    return this.byName.size;
  }

  get current(): SnapshotDef | undefined {
    return this.currentName === undefined ? undefined : this.byName.get(this.currentName);
  }

  /** Reads every `*.xml` of the directory (a missing directory is an empty list). */
  async load(): Promise<void> {
    if (!this.dir) return;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const f of names.sort()) {
      if (!f.endsWith(".xml")) continue;
      const text = await readFile(join(this.dir, f), "utf8");
      const def = parseSnapshotXML(text, { redefine: true });
      this.byName.set(def.name, def);
      if (/<active>1<\/active>/.test(text)) this.currentName = def.name;
    }
  }

  get(name: string): SnapshotDef {
    const s = this.byName.get(name);
    if (!s) throw new VirtError("SNAPSHOT_NOT_FOUND", { name });
    return s;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  isCurrent(name: string): boolean {
    return this.currentName === name;
  }

  parentOf(name: string): SnapshotDef {
    const s = this.get(name);
    if (s.parent === undefined || !this.byName.has(s.parent)) {
      throw new VirtError("SNAPSHOT_NO_PARENT", { name });
    }
    return this.get(s.parent);
  }

  /** Adds a snapshot (its `parent` already set by the caller), optionally making it current. */
  async add(def: SnapshotDef, makeCurrent: boolean): Promise<void> {
    if (this.byName.has(def.name)) throw new VirtError("SNAPSHOT_EXISTS", { name: def.name });
    this.byName.set(def.name, def);
    if (makeCurrent) await this.setCurrent(def.name);
    else await this.save(def.name);
  }

  /** Marks `name` current (undefined: none), rewriting the files whose mark changes. */
  async setCurrent(name: string | undefined): Promise<void> {
    const old = this.currentName;
    this.currentName = name;
    if (old !== undefined && old !== name && this.byName.has(old)) await this.save(old);
    if (name !== undefined) await this.save(name);
  }

  children(name: string | undefined): SnapshotDef[] {
    return [...this.byName.values()].filter((s) =>
      name === undefined ? s.parent === undefined || !this.byName.has(s.parent) : s.parent === name,
    );
  }

  descendants(name: string): SnapshotDef[] {
    const out: SnapshotDef[] = [];
    const walk = (n: string): void => {
      for (const c of this.children(n)) {
        out.push(c);
        walk(c.name);
      }
    };
    walk(name);
    return out;
  }

  /** Every snapshot in topological order (parents before children), roots in creation order. */
  topological(): SnapshotDef[] {
    const out: SnapshotDef[] = [];
    const walk = (n: string | undefined): void => {
      for (const c of this.children(n)) {
        out.push(c);
        walk(c.name);
      }
    };
    walk(undefined);
    return out;
  }

  /**
   * libvirt's listing with filter flags: `from` given lists its children (DESCENDANTS: all
   * below), otherwise the whole list (ROOTS: only roots). Metadata filters: every snapshot here
   * has metadata.
   */
  list(flags: number, from?: string): SnapshotDef[] {
    let all: SnapshotDef[];
    if (from !== undefined) {
      this.get(from);
      all = flags & L.DESCENDANTS ? this.descendants(from) : this.children(from);
    } else {
      all = flags & L.ROOTS ? this.children(undefined) : this.topological();
    }
    if (flags & L.NO_METADATA && !(flags & L.METADATA)) return [];
    const leafy = flags & (L.LEAVES | L.NO_LEAVES);
    if (leafy && leafy !== (L.LEAVES | L.NO_LEAVES)) {
      const wantLeaf = (flags & L.LEAVES) !== 0;
      all = all.filter((s) => (this.children(s.name).length === 0) === wantLeaf);
    }
    const kinds = flags & (L.INACTIVE | L.ACTIVE | L.DISK_ONLY);
    if (kinds) {
      all = all.filter((s) => {
        if (s.state === "disk-snapshot") return (kinds & L.DISK_ONLY) !== 0;
        if (s.state === "shutoff") return (kinds & L.INACTIVE) !== 0;
        return (kinds & L.ACTIVE) !== 0;
      });
    }
    const loc = flags & (L.INTERNAL | L.EXTERNAL);
    if (loc) {
      all = all.filter((s) => ((snapshotLocation(s) === "internal" ? L.INTERNAL : L.EXTERNAL) & loc) !== 0);
    }
    if (!(flags & L.TOPOLOGICAL)) all = [...all].sort((a, b) => a.name.localeCompare(b.name));
    return all;
  }

  /**
   * Removes metadata of `name` (and, per flags, its descendants) in libvirt's order: children
   * of a removed snapshot move to its parent. Returns the removed definitions, deepest first,
   * so a driver can drop the disk data in the same order.
   */
  plannedDeletion(name: string, children: boolean, childrenOnly: boolean): SnapshotDef[] {
    const self = this.get(name);
    const below = children || childrenOnly ? this.descendants(name).reverse() : [];
    return childrenOnly ? below : [...below, self];
  }

  async remove(defs: readonly SnapshotDef[]): Promise<void> {
    const gone = new Set(defs.map((d) => d.name));
    let current = this.currentName;
    for (const d of defs) {
      // children of a removed snapshot that stay move up to its parent
      for (const c of this.children(d.name)) {
        if (gone.has(c.name)) continue;
        c.parent = d.parent;
        await this.save(c.name);
      }
      if (current === d.name) current = d.parent !== undefined && !gone.has(d.parent) ? d.parent : undefined;
      this.byName.delete(d.name);
      if (this.dir) await removeFileDurable(join(this.dir, `${d.name}.xml`));
    }
    // libvirt: deleting the current snapshot makes its parent current (walked up above)
    if (current !== this.currentName) await this.setCurrent(current);
  }

  /** Drops all metadata (undefine with SNAPSHOTS_METADATA). */
  async clear(): Promise<void> {
    this.byName.clear();
    this.currentName = undefined;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  private async save(name: string): Promise<void> {
    if (!this.dir) return;
    const def = this.byName.get(name);
    if (!def) return;
    let xml = formatSnapshotXML(def);
    if (this.currentName === name)
      xml = xml.replace(/\n<\/domainsnapshot>\n$/, "\n  <active>1</active>\n</domainsnapshot>\n");
    await writeFileAtomic(join(this.dir, `${name}.xml`), xml, { mkdirMode: 0o700 });
  }
}

/**
 * The read-only snapshot calls every driver answers the same way from its `SnapshotList`
 * (libvirt's virDomainSnapshotObjList* helpers). `fn` names the driver entry in flag errors.
 */
export const snapshotReads = {
  listAll(list: SnapshotList, flags: number, fn: string): string[] {
    checkFlags(flags, SNAPSHOT_LIST_FLAGS_ALL, fn);
    return list.list(flags).map((s) => s.name);
  },
  listChildren(list: SnapshotList, snap: string, flags: number, fn: string): string[] {
    checkFlags(flags, SNAPSHOT_LIST_FLAGS_ALL, fn);
    return list.list(flags, snap).map((s) => s.name);
  },
  lookup(list: SnapshotList, name: string, flags: number, fn: string): string {
    checkFlags(flags, 0, fn);
    return list.get(name).name;
  },
  hasCurrent(list: SnapshotList, flags: number, fn: string): boolean {
    checkFlags(flags, 0, fn);
    return list.current !== undefined;
  },
  current(list: SnapshotList, flags: number, fn: string): string {
    checkFlags(flags, 0, fn);
    const c = list.current;
    if (!c) throw new VirtError("SNAPSHOT_NO_CURRENT");
    return c.name;
  },
  parent(list: SnapshotList, snap: string, flags: number, fn: string): string {
    checkFlags(flags, 0, fn);
    return list.parentOf(snap).name;
  },
  isCurrent(list: SnapshotList, snap: string, flags: number, fn: string): boolean {
    checkFlags(flags, 0, fn);
    list.get(snap);
    return list.isCurrent(snap);
  },
  hasMetadata(list: SnapshotList, snap: string, flags: number, fn: string): boolean {
    checkFlags(flags, 0, fn);
    list.get(snap);
    return true;
  },
};
