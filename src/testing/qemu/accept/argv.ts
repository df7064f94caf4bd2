/**
 * Reading a built QEMU argv: which `-device` drivers it uses, how much huge page memory its
 * backends take, which host paths it still names, and exact option-value rewriting for the
 * few things only the argv can change.
 */

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Splits a QEMU `key=value,key=value` option (`,,` is an escaped comma). */
export function splitKeyval(text: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === ",") {
      if (text[i + 1] === ",") {
        cur += ",";
        i++;
        continue;
      }
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** Values of every occurrence of `option` in argv. */
export function optionValues(args: readonly string[], option: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length - 1; i++) if (args[i] === option) out.push(args[i + 1] ?? "");
  return out;
}

/** `-device` driver names, JSON or keyval form. */
export function deviceDrivers(args: readonly string[]): string[] {
  return optionValues(args, "-device").map((v) => {
    const j = parseJsonObject(v);
    if (j) return typeof j.driver === "string" ? j.driver : "";
    const first = splitKeyval(v)[0] ?? "";
    return first.startsWith("driver=") ? first.slice("driver=".length) : first;
  });
}

export interface HugepageUse {
  /** Page size, KiB. */
  readonly sizeKiB: number;
  /** Bytes of backends on that size. */
  readonly bytes: number;
  readonly ids: string[];
}

/**
 * Huge page memory the argv's memory backends take, per page size: `memory-backend-file` under
 * a hugetlbfs mount, `memory-backend-memfd` with `hugetlb`. Pages are taken at map time
 * (hugetlbfs reserves on mmap), so every such backend counts, preallocated or not.
 */
export function hugepageUse(
  args: readonly string[],
  mounts: readonly { sizeKiB: number; path: string }[],
  defaultKiB: number | undefined,
): HugepageUse[] {
  const per = new Map<number, { bytes: number; ids: string[] }>();
  const add = (size: number, bytes: number, id: string): void => {
    const e = per.get(size) ?? { bytes: 0, ids: [] };
    e.bytes += bytes;
    e.ids.push(id);
    per.set(size, e);
  };
  for (const v of optionValues(args, "-object")) {
    const j = parseJsonObject(v);
    if (!j) continue;
    const size = typeof j.size === "number" ? j.size : 0;
    const id = typeof j.id === "string" ? j.id : "?";
    if (j["qom-type"] === "memory-backend-file" && typeof j["mem-path"] === "string") {
      const mp = j["mem-path"];
      const m = mounts.find((x) => mp === x.path || mp.startsWith(`${x.path}/`));
      if (m) add(m.sizeKiB, size, id);
    } else if (j["qom-type"] === "memory-backend-memfd" && j.hugetlb === true) {
      const hs = typeof j.hugetlbsize === "number" ? j.hugetlbsize / 1024 : defaultKiB;
      if (hs !== undefined) add(hs, size, id);
    }
  }
  return [...per.entries()].map(([sizeKiB, e]) => ({ sizeKiB, bytes: e.bytes, ids: e.ids }));
}

/**
 * Bytes of guest memory the argv's backends preallocate (`prealloc: true`) outside the given
 * hugetlbfs mounts (those are counted as huge pages by {@link hugepageUse}).
 */
export function preallocatedBytes(args: readonly string[], hugetlbfsPaths: readonly string[]): number {
  let bytes = 0;
  for (const v of optionValues(args, "-object")) {
    const j = parseJsonObject(v);
    if (j?.prealloc !== true || typeof j.size !== "number") continue;
    const mp = j["mem-path"];
    if (typeof mp === "string" && hugetlbfsPaths.some((h) => mp === h || mp.startsWith(`${h}/`))) continue;
    if (j.hugetlb === true) continue;
    bytes += j.size;
  }
  return bytes;
}

/** JSON properties whose values look like paths but name no host file (9p/virtiofs mount tags). */
const NOT_PATHS: ReadonlySet<string> = new Set(["mount_tag", "tag"]);

/** Absolute paths named in option values (JSON strings, `key=/path`, `unix:/path`, bare). */
export function pathsIn(args: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === "string") {
      if (v.startsWith("/")) out.push(v);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === "object" && v !== null)
      for (const [k, x] of Object.entries(v)) if (!NOT_PATHS.has(k)) visit(x);
  };
  for (const a of args) {
    const j = parseJsonObject(a);
    if (j) {
      visit(j);
      continue;
    }
    if (a.startsWith("-")) continue;
    for (const part of splitKeyval(a)) {
      const val = part.includes("=") ? part.slice(part.indexOf("=") + 1) : part;
      const unix = /^unix:(\/.*)$/.exec(val);
      if (unix?.[1] !== undefined) out.push(unix[1]);
      else if (val.startsWith("/")) out.push(val);
    }
  }
  return out;
}

/** Host paths QEMU may legitimately use as they are (read-only system files and devices). */
export const HOST_PATHS_ALLOWED: readonly string[] = [
  "/dev/urandom",
  "/dev/random",
  "/dev/hwrng",
  "/dev/null",
  "/dev/net/tun",
  "/usr/share/",
  "/usr/lib/",
];

/** Paths in the argv that are neither under `root` nor allowed host paths. */
export function foreignPaths(args: readonly string[], roots: readonly string[]): string[] {
  return [...new Set(pathsIn(args))].filter(
    (p) =>
      !roots.some((r) => p === r || p.startsWith(`${r}/`)) &&
      !HOST_PATHS_ALLOWED.some((h) => (h.endsWith("/") ? p.startsWith(h) : p === h)),
  );
}

export interface ArgRewrite {
  readonly option: string;
  readonly from: string;
  readonly to: string;
}

/** Rewrites exact option values (`option from` → `option to`); returns how many were changed. */
export function rewriteOptionValues(args: string[], rewrites: readonly ArgRewrite[]): number {
  let n = 0;
  for (let i = 0; i < args.length - 1; i++) {
    const r = rewrites.find((x) => x.option === args[i] && x.from === args[i + 1]);
    if (r) {
      args[i + 1] = r.to;
      n++;
    }
  }
  return n;
}
