/**
 * Running QEMU as an unprivileged user with dynamic ownership (libvirt's DAC security driver and
 * qemu.conf's `user`, `group`, `dynamic_ownership`). The driver of `qemu:///system` starts QEMU
 * as `tvirt-qemu` (configurable); before QEMU starts, everything QEMU opens itself is handed to
 * that user: the domain's runtime dir (QEMU creates its monitor socket there), the master key,
 * the pidfile (pre-created, QEMU writes it), channel, memory and huge page dirs, virtiofs
 * sockets, and the files the definition names (disk images, kernel, initrd, DTB, loader, NVRAM,
 * file outputs of serial ports and consoles).
 *
 * The original owner of each file that existed before is kept in a record in the driver's state
 * dir (`<name>.dac.json`, written atomically before any chown), read back at stop, so ownership is
 * given back after a failed start, a stop, a crash, and a stop by a later driver instance
 * (daemon restart). A file two running guests share (a read-only base image) keeps the owner the
 * first one saw and gets it back when the last of them stops.
 *
 * Taps: QEMU may not create one, so each is made beforehand as a persistent tap owned by the
 * user (recorded too, deleted at stop). Hotplugged disks, changed media and NICs get the same
 * (`hotplug.ts`). QEMU runs without supplementary groups (node's spawn drops them): `/dev/kvm`
 * and `/dev/net/tun` are checked before start against the user and group alone, naming the fix.
 *
 * Not covered yet: backing files of images (QEMU opens them read-only: they must be readable by
 * the user), TPM state, unix sockets and VNC sockets at paths outside the runtime dir.
 */
import { chmod, chown, lstat, open, readdir, readFile, stat } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { dirname, join, relative, isAbsolute } from "node:path";
import type { DomainDef } from "../../../conf/domain/index.ts";
import { removeFileDurable, writeFileAtomic } from "../../../util/atomic-file.ts";
import { VirtError } from "../../../util/errors/index.ts";
import { runArgv } from "../../../util/spawn.ts";
import { localDiskPath } from "../command/disk.ts";

/** qemu.conf's `user` and `group` (names, or `+N` for a numeric id). */
export interface RunAsConfig {
  readonly user: string;
  /** Default: the user's primary group. */
  readonly group?: string;
}

/** The resolved identity QEMU runs as. */
export interface DacIdentity {
  readonly user: string;
  readonly group: string;
  readonly uid: number;
  readonly gid: number;
}

/** The default user of the system instance (created by `scripts/setup`). */
export const DEFAULT_QEMU_USER = "tvirt-qemu";

function dbLookup(file: string, name: string, field: 2 | 3): { id: number; primaryGid?: number } | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] !== name) continue;
    const id = f[field];
    if (id === undefined || !/^\d+$/.test(id)) return undefined;
    const gid = field === 2 && f[3] !== undefined && /^\d+$/.test(f[3]) ? Number(f[3]) : undefined;
    return { id: Number(id), ...(gid !== undefined ? { primaryGid: gid } : {}) };
  }
  return undefined;
}

function nameOfId(file: string, id: number): string | undefined {
  try {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const f = line.split(":");
      if (f[2] === String(id) && f[0] !== undefined) return f[0];
    }
  } catch {
    // no database
  }
  return undefined;
}

/**
 * Resolves `user`/`group` through the passwd and group files (as libvirt's virGetUserID: `+N` is
 * a numeric id). A user or group that does not exist is `QEMU_DAC_USER_MISSING` /
 * `QEMU_DAC_GROUP_MISSING`, naming it and how to create it or configure another.
 */
export function resolveRunAs(
  cfg: RunAsConfig,
  files: { passwd: string; group: string } = { passwd: "/etc/passwd", group: "/etc/group" },
): DacIdentity {
  let uid: number;
  let primaryGid: number | undefined;
  let user = cfg.user;
  if (/^\+\d+$/.test(cfg.user)) {
    uid = Number(cfg.user.slice(1));
    user = nameOfId(files.passwd, uid) ?? cfg.user;
    primaryGid = user === cfg.user ? undefined : dbLookup(files.passwd, user, 2)?.primaryGid;
  } else {
    const u = dbLookup(files.passwd, cfg.user, 2);
    if (u === undefined) throw new VirtError("QEMU_DAC_USER_MISSING", { user: cfg.user });
    uid = u.id;
    primaryGid = u.primaryGid;
  }
  let gid: number;
  let group: string;
  if (cfg.group === undefined) {
    if (primaryGid === undefined)
      throw new VirtError("QEMU_DAC_GROUP_MISSING", { group: "(primary group)", user });
    gid = primaryGid;
    group = nameOfId(files.group, gid) ?? `+${gid}`;
  } else if (/^\+\d+$/.test(cfg.group)) {
    gid = Number(cfg.group.slice(1));
    group = nameOfId(files.group, gid) ?? cfg.group;
  } else {
    const g = dbLookup(files.group, cfg.group, 2);
    if (g === undefined) throw new VirtError("QEMU_DAC_GROUP_MISSING", { group: cfg.group, user });
    gid = g.id;
    group = cfg.group;
  }
  return { user, group, uid, gid };
}

/** One file whose owner was changed, and the owner it had. */
export interface OwnedFile {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
}

/** The crash-safe record of a running domain's changed owners. */
export interface DacRecord {
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly files: OwnedFile[];
  /** Persistent taps made for QEMU (it may not create them itself): deleted at restore. */
  readonly taps?: string[];
}

/** A tap QEMU opens by name, made beforehand and owned by QEMU's user. */
export interface DacTap {
  readonly name: string;
  /** `queues` > 1: QEMU attaches with IFF_MULTI_QUEUE, which must match the device. */
  readonly multiQueue: boolean;
}

export const DAC_RECORD_SUFFIX = ".dac.json";

export function dacRecordPath(stateDir: string, name: string): string {
  return join(stateDir, `${name}${DAC_RECORD_SUFFIX}`);
}

async function readRecord(path: string): Promise<DacRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(path, "utf8")) as Partial<DacRecord>;
    if (!Array.isArray(r.files)) return undefined;
    return {
      user: String(r.user),
      uid: Number(r.uid),
      gid: Number(r.gid),
      taps: Array.isArray(r.taps) ? r.taps.filter((x): x is string => typeof x === "string") : [],
      files: r.files.filter(
        (f): f is OwnedFile =>
          typeof f.path === "string" && Number.isInteger(f.uid) && Number.isInteger(f.gid),
      ),
    };
  } catch {
    return undefined;
  }
}

/** The records of the other domains of the state dir (shared files keep their first owner). */
async function otherRecords(stateDir: string, name: string): Promise<DacRecord[]> {
  const out: DacRecord[] = [];
  for (const f of await readdir(stateDir).catch(() => [] as string[])) {
    if (!f.endsWith(DAC_RECORD_SUFFIX) || f === `${name}${DAC_RECORD_SUFFIX}`) continue;
    const r = await readRecord(join(stateDir, f));
    if (r) out.push(r);
  }
  return out;
}

/** A file QEMU opens that the definition names (existing ones are relabelled and restored). */
export interface LabelTarget {
  readonly path: string;
  /** QEMU creates it when absent (a serial port's file output): pre-created empty. */
  readonly create?: boolean;
}

/** The files of `def` QEMU opens itself (libvirt's virSecurityDACSetAllLabel, simplified). */
export function dacFilesOf(def: DomainDef): LabelTarget[] {
  const out: LabelTarget[] = [];
  const os = def.os;
  for (const p of [os.kernel, os.initrd, os.dtb, os.loader?.path, os.nvram?.path])
    if (p !== undefined && p !== "") out.push({ path: p });
  for (const d of def.devices.disks) {
    const p = localDiskPath(d);
    if (p !== undefined) out.push({ path: p });
  }
  const d = def.devices;
  for (const chr of [...d.serials, ...d.parallels, ...d.channels, ...d.consoles]) {
    if (chr.type === "file" && chr.source?.path !== undefined)
      out.push({ path: chr.source.path, create: true });
    if (chr.log?.file !== undefined) out.push({ path: chr.log.file, create: true });
  }
  return out;
}

/**
 * Hands the files of a starting domain to `id`, recording the original owners first in the
 * domain's record. `owned` are files and dirs tvirt made for this run (runtime dir, master key,
 * pidfile, sockets): they are removed at stop, so they are chowned without a record.
 * `traverse` are dirs QEMU must pass through (given `o+x`, as libvirt's 0751 state dirs).
 * `taps` are made as persistent taps owned by the user (QEMU, unprivileged, cannot create a tap
 * but may attach to one it owns): unlike the taps root QEMU makes, they outlive QEMU, so the
 * record names them and `dacRestore` deletes them.
 */
export async function dacLabel(
  stateDir: string,
  name: string,
  id: DacIdentity,
  targets: readonly LabelTarget[],
  owned: readonly string[],
  traverse: readonly string[],
  taps: readonly DacTap[] = [],
): Promise<void> {
  for (const dir of traverse) {
    const st = await stat(dir).catch(() => undefined);
    if (st?.isDirectory() && (st.mode & 0o001) === 0) await chmod(dir, (st.mode & 0o7777) | 0o001);
  }
  for (const p of owned) await chown(p, id.uid, id.gid);
  const shared = new Map<string, OwnedFile>();
  for (const r of await otherRecords(stateDir, name)) for (const f of r.files) shared.set(f.path, f);
  // a hotplug adds to the record of the run; a file already in it keeps the owner recorded first
  const mine = await readRecord(dacRecordPath(stateDir, name));
  const files: OwnedFile[] = [...(mine?.files ?? [])];
  const seen = new Set<string>(files.map((f) => f.path));
  const pending: string[] = [];
  for (const t of targets) {
    if (seen.has(t.path)) {
      pending.push(t.path);
      continue;
    }
    seen.add(t.path);
    let st = await stat(t.path).catch(() => undefined);
    if (st === undefined && t.create === true) {
      // as root, before QEMU: owner root, so the record gives it back to root at stop
      await (await open(t.path, "a", 0o600)).close();
      st = await stat(t.path).catch(() => undefined);
    }
    if (st === undefined) continue; // an optional medium that is absent
    files.push(shared.get(t.path) ?? { path: t.path, uid: st.uid, gid: st.gid });
    pending.push(t.path);
  }
  // the record is on disk before the first owner changes: a crash in between loses nothing
  await writeRecord(stateDir, name, {
    user: id.user,
    uid: id.uid,
    gid: id.gid,
    files,
    taps: [...(mine?.taps ?? []), ...taps.map((t) => t.name)],
  });
  for (const p of pending) await chown(p, id.uid, id.gid);
  for (const t of taps) {
    const argv = ["ip", "tuntap", "add", "dev", t.name, "mode", "tap", "user", String(id.uid)];
    argv.push("group", String(id.gid), "vnet_hdr", ...(t.multiQueue ? ["multi_queue"] : []));
    const r = await runArgv(argv);
    if (r.code !== 0)
      throw new VirtError("COMMAND_FAILED", { command: argv.join(" "), reason: r.stderr.trim() });
  }
}

/**
 * A device unplugged from a running domain: the owners of its files come back (unless another
 * running domain still holds them, or another device of this one), its taps are deleted, and
 * the record forgets them. `stillUsed` are the files the domain's remaining devices name.
 */
export async function dacRelease(
  stateDir: string,
  name: string,
  paths: readonly string[],
  taps: readonly string[],
  stillUsed: readonly string[] = [],
): Promise<string[]> {
  const path = dacRecordPath(stateDir, name);
  const r = await readRecord(path);
  if (!r) return [];
  const problems: string[] = [];
  const others = new Set<string>(stillUsed);
  for (const o of await otherRecords(stateDir, name)) for (const f of o.files) others.add(f.path);
  const drop = new Set(paths.filter((p) => !others.has(p)));
  for (const f of r.files) {
    if (!drop.has(f.path)) continue;
    await chown(f.path, f.uid, f.gid).catch((e: unknown) => {
      problems.push(`cannot restore the owner of '${f.path}': ${e instanceof Error ? e.message : String(e)}`);
    });
  }
  // only taps this record made (a managed='no' tap is the admin's)
  problems.push(...(await deleteTaps(taps.filter((t) => r.taps?.includes(t) === true))));
  await writeRecord(stateDir, name, {
    ...r,
    files: r.files.filter((f) => !drop.has(f.path)),
    taps: (r.taps ?? []).filter((t) => !taps.includes(t)),
  });
  return problems;
}

async function deleteTaps(taps: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const tap of taps) {
    const del = await runArgv(["ip", "tuntap", "del", "dev", tap, "mode", "tap"]);
    // (not /sys/class/net: sysfs shows the namespace it was mounted in, maybe another)
    if (del.code !== 0 || (await runArgv(["ip", "link", "show", "dev", tap])).code === 0)
      problems.push(`cannot delete tap '${tap}': ${del.stderr.trim()}`);
  }
  return problems;
}

/**
 * QEMU attaches to its tap through `/dev/net/tun`, which it opens itself: a node only root may
 * open (as in some containers) would make it fail with "Permission denied" deep in its log, so
 * the start is refused up front naming the device, its mode and the ways out.
 */
export async function checkTunAccess(
  id: DacIdentity,
  what: { readonly alias: string; readonly name: string },
  tun = "/dev/net/tun",
): Promise<void> {
  const denied = await deviceDenied(id, tun);
  if (denied === undefined) return;
  throw new VirtError("QEMU_DAC_TUN_DENIED", {
    alias: what.alias,
    name: what.name,
    user: id.user,
    ...denied,
  });
}

/**
 * A KVM guest's QEMU opens `/dev/kvm` itself; where only a group may (`0660 root:kvm`, most
 * distributions) and QEMU's group is another, the start is refused naming the group to set
 * (node starts QEMU without supplementary groups, so the user's membership does not count).
 */
export async function checkKvmAccess(id: DacIdentity, name: string, kvm = "/dev/kvm"): Promise<void> {
  const denied = await deviceDenied(id, kvm);
  if (denied === undefined) return;
  const st = await stat(kvm);
  const group = nameOfId("/etc/group", st.gid) ?? `+${st.gid}`;
  throw new VirtError("QEMU_DAC_KVM_DENIED", { name, user: id.user, path: kvm, group, ...denied });
}

/** Whether `id` (without supplementary groups) may open `path` read-write; undefined if so or absent. */
async function deviceDenied(
  id: DacIdentity,
  path: string,
): Promise<{ mode: string; owner: string } | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return undefined; // QEMU's own error names the missing device
  const m = st.mode;
  // as the kernel: the owner's bits for the owner, else the group's for the group, else others'
  const bits = st.uid === id.uid ? (m >> 6) & 7 : st.gid === id.gid ? (m >> 3) & 7 : m & 7;
  if ((bits & 6) === 6) return undefined;
  return { mode: (m & 0o7777).toString(8).padStart(4, "0"), owner: `${st.uid}:${st.gid}` };
}

async function writeRecord(stateDir: string, name: string, r: DacRecord): Promise<void> {
  await writeFileAtomic(dacRecordPath(stateDir, name), `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600 });
}

/**
 * Gives back the owners the domain's record holds (at stop, after a failed start, after a
 * restart), except for files another running domain's record still holds, and removes the
 * record. Files gone meanwhile are skipped. Failures are returned, not thrown: a stop goes on.
 */
export async function dacRestore(stateDir: string, name: string): Promise<string[]> {
  const path = dacRecordPath(stateDir, name);
  const r = await readRecord(path);
  const problems: string[] = [];
  if (r) {
    const stillUsed = new Set<string>();
    for (const o of await otherRecords(stateDir, name)) for (const f of o.files) stillUsed.add(f.path);
    for (const f of r.files) {
      if (stillUsed.has(f.path)) continue;
      const st = await lstat(f.path).catch(() => undefined);
      if (st === undefined) continue;
      try {
        await chown(f.path, f.uid, f.gid);
      } catch (e) {
        problems.push(
          `cannot restore the owner of '${f.path}': ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    problems.push(...(await deleteTaps(r.taps ?? [])));
  }
  await removeFileDurable(path).catch(() => false);
  return problems;
}

/** The dirs from `dir` up to (not including) `stop`, for `o+x`; none when `dir` is outside `stop`. */
export function dirsBetween(dir: string, stop: string): string[] {
  const rel = relative(stop, dir);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return [];
  const out: string[] = [];
  for (let d = dir; d !== stop && d !== dirname(d); d = dirname(d)) out.push(d);
  return out;
}
