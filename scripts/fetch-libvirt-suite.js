#!/usr/bin/env node
// Fetches libvirt 11.3.0's release tarball once, checks its size and sha256, and keeps only the
// test data tvirt's tests use under $XDG_CACHE_HOME/tvirt/libvirt-11.3.0/ (default ~/.cache).
// libvirt's test data is LGPL: it lives in the user's cache, never in this repository.
//
//   node scripts/fetch-libvirt-suite.js [--print-dir]
//
// Plain Node (no npm dependencies), so scripts/setup can run it before `npm ci`. Sources, in
// order: the file named by TVIRT_LIBVIRT_TARBALL (offline machines; a wrong file is refused, not
// passed over); Debian trixie's source package libvirt (its libvirt_11.3.0.orig.tar.xz is the
// same file), fetched with a private apt configuration from the Debian mirror the machine's apt
// already uses; libvirt's own download site. A complete cache (its stamp names the tarball's
// sha256 and the file count matches) is only checked. Extraction goes to a temporary folder in
// the cache and is renamed into place with the stamp already inside, so a half-done run never
// looks complete. The downloaded tarball is deleted afterwards. Exit status 0 when the suite is
// there, 1 with a one-line reason on stderr when not. For tests: TVIRT_APT_ETC (the apt
// configuration folder to read the mirror from, default /etc/apt) and TVIRT_LIBVIRT_URL (the
// download address instead of libvirt's).
/* global fetch, AbortSignal */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";

export const VERSION = "11.3.0";
export const TARBALL = `libvirt-${VERSION}.tar.xz`;
export const TARBALL_SIZE = 9801572;
export const TARBALL_SHA256 = "6bcb0c42c4580436fea262ced56f68a6afe20f7390b1bea2116718cc034a0283";
/** Debian's name for the same file, and the suite that carries it. */
const DEBIAN_ORIG = `libvirt_${VERSION}.orig.tar.xz`;
const DEBIAN_SUITE = "trixie";
const UPSTREAM_URL = `https://download.libvirt.org/${TARBALL}`;
/** The stamp inside a complete cache folder (JSON: tarball, size, sha256, selection, files). */
export const STAMP = ".tvirt-suite-stamp.json";
/** Which members are kept (see wanted()); bumped when that changes, so older caches are redone. */
export const SELECTION = 2;
/** The C side of the harness behind qemuxmlconfdata's outputs (per-case options, mocks, driver setup). */
const HARNESS = new Set([
  "tests/qemuxmlconftest.c",
  "tests/testutilsqemu.c",
  "tests/testutilsqemu.h",
  "tests/qemuxml2argvmock.c",
]);
const TOP = `libvirt-${VERSION}/`;

/** $XDG_CACHE_HOME (when absolute, as the XDG spec wants) or ~/.cache. */
export function cacheHome(env = process.env) {
  const x = env.XDG_CACHE_HOME;
  return x && isAbsolute(x) ? x : join(homedir(), ".cache");
}

/** Where the suite lives: <cache>/tvirt/libvirt-11.3.0. */
export function suiteDir(env = process.env) {
  return join(cacheHome(env), "tvirt", `libvirt-${VERSION}`);
}

/** Operating-system Debian codenames whose main archive also serves trixie. */
const DEBIAN_SUITES = new Set([
  "bookworm",
  "trixie",
  "forky",
  "sid",
  "stable",
  "testing",
  "unstable",
  "oldstable",
]);

/**
 * Debian archive URIs from apt source files: one-line `.list` entries (`deb [opts] URI SUITE
 * COMPONENT...`) and deb822 `.sources` paragraphs. Only http(s) entries for a plain Debian suite
 * (not -security, -updates, ...) with component main count.
 */
export function debianMirrorsFromAptSources(text, deb822) {
  const found = [];
  const keep = (uri, suites, components) => {
    if (!/^https?:\/\//.test(uri)) return;
    if (!components.includes("main") || !suites.some((s) => DEBIAN_SUITES.has(s))) return;
    found.push(uri.replace(/\/+$/, ""));
  };
  if (deb822) {
    for (const para of text.split(/\n\s*\n/)) {
      const fields = new Map();
      let last;
      for (const line of para.split("\n")) {
        if (line.startsWith("#")) continue;
        const cont = /^[ \t]+(\S.*)$/.exec(line);
        if (cont && last !== undefined) {
          fields.set(last, `${fields.get(last)} ${cont[1]}`);
          continue;
        }
        const m = /^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
        if (m) fields.set((last = m[1].toLowerCase()), m[2].trim());
      }
      const words = (k) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
      if (!words("types").some((t) => t === "deb" || t === "deb-src")) continue;
      if (/^(no|false|0)$/i.test(fields.get("enabled") ?? "yes")) continue;
      for (const uri of words("uris")) keep(uri, words("suites"), words("components"));
    }
  } else {
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
      if (m) keep(m[2], [m[3]], m[4].split(/\s+/));
    }
  }
  return found;
}

/** The machine's Debian mirrors, from /etc/apt (or `root`), first one first, without repeats. */
export function machineDebianMirrors(root = "/etc/apt") {
  const files = [];
  if (existsSync(join(root, "sources.list"))) files.push([join(root, "sources.list"), false]);
  const d = join(root, "sources.list.d");
  if (existsSync(d)) {
    for (const f of readdirSync(d).sort()) {
      if (f.endsWith(".list")) files.push([join(d, f), false]);
      else if (f.endsWith(".sources")) files.push([join(d, f), true]);
    }
  }
  const uris = [];
  for (const [f, deb822] of files) {
    let text;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const u of debianMirrorsFromAptSources(text, deb822)) if (!uris.includes(u)) uris.push(u);
  }
  return uris;
}

/**
 * Whether a path inside the tarball (without the top folder) is test data to keep:
 * tests/qemuxmlconfdata/ (inputs and x86_64 outputs: latest, versioned, +variants),
 * tests/qemucapabilitiesdata/*x86_64*, tests/qemufirmwaredata/, tests/domaincapsdata/*x86_64*,
 * tests/qemustatusxml2xmldata/, tests/network*\/, tests/storage*\/, tests/qemuxmlconftest.c;
 * also tests/virnetworkportxml2xmldata/ (the network ports qemuxmlconftest's
 * `<interface type='network'>` cases read), the rest of that harness (testutilsqemu.{c,h},
 * qemuxml2argvmock.c: the driver configuration and mocked host the outputs assume) and
 * COPYING.LESSER (the data's licence).
 */
export function wanted(path) {
  if (path === "COPYING.LESSER" || HARNESS.has(path)) return true;
  const m = /^tests\/([^/]+)\/(.+)$/.exec(path);
  if (!m) return false;
  const [, dir, rest] = m;
  if (dir === "qemuxmlconfdata") {
    if (/\.x86_64-(latest|\d+\.\d+\.\d+)[.+]/.test(rest)) return true;
    // Another architecture's output, else an input.
    return !/\.[a-z0-9_]+-(latest|\d+\.\d+\.\d+)[.+]/.test(rest) && rest.endsWith(".xml");
  }
  if (dir === "qemucapabilitiesdata" || dir === "domaincapsdata") return rest.includes("x86_64");
  return (
    dir === "qemufirmwaredata" ||
    dir === "qemustatusxml2xmldata" ||
    dir === "virnetworkportxml2xmldata" ||
    dir.startsWith("network") ||
    dir.startsWith("storage")
  );
}

class Refused extends Error {}

/** Size and sha256 of a file, checked against the release's; throws Refused when they differ. */
export async function verifyTarball(file) {
  const size = statSync(file).size;
  if (size !== TARBALL_SIZE)
    throw new Refused(`${file} is ${size} bytes, not ${TARBALL}'s ${TARBALL_SIZE}: refused`);
  const h = createHash("sha256");
  await pipeline(createReadStream(file), h);
  const sum = h.digest("hex");
  if (sum !== TARBALL_SHA256)
    throw new Refused(`${file} has sha256 ${sum}, not ${TARBALL}'s ${TARBALL_SHA256}: refused`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
  if (r.error) {
    const e = /** @type {NodeJS.ErrnoException} */ (r.error);
    throw new Error(e.code === "ENOENT" ? `${cmd} is not installed` : `${cmd}: ${e.message}`);
  }
  return r;
}

function lastLine(text) {
  const lines = (text ?? "").trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Source 2: Debian trixie's orig tarball through apt-get with a private configuration. */
function fromDebian(work) {
  // TVIRT_APT_ETC: another apt configuration folder to read the mirror from (for tests).
  const mirrors = machineDebianMirrors(process.env.TVIRT_APT_ETC ?? "/etc/apt");
  if (mirrors.length === 0) throw new Error("no Debian mirror with main in the machine's apt sources");
  const failures = [];
  for (const mirror of mirrors) {
    try {
      return fromDebianMirror(work, mirror);
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
  }
  throw new Error(failures.join("; "));
}

function fromDebianMirror(work, mirror) {
  rmSync(join(work, "apt"), { recursive: true, force: true });
  const parts = join(work, "apt", "sources");
  const lists = join(work, "apt", "lists");
  const cache = join(work, "apt", "cache");
  const dl = join(work, "apt", "download");
  for (const d of [parts, join(lists, "partial"), join(cache, "archives", "partial"), dl])
    mkdirSync(d, { recursive: true });
  writeFileSync(join(parts, "tvirt-libvirt-suite.list"), `deb-src ${mirror} ${DEBIAN_SUITE} main\n`);
  const opts = [
    "-q",
    "-o",
    "Dir::Etc::sourcelist=/dev/null",
    "-o",
    `Dir::Etc::sourceparts=${parts}`,
    "-o",
    `Dir::State::Lists=${lists}`,
    // The machine's package caches are left alone.
    "-o",
    `Dir::Cache=${cache}`,
    "-o",
    "Acquire::Languages=none",
  ];
  // As root apt downloads as _apt, who cannot enter our private (0700) folders.
  if (process.getuid?.() === 0) opts.push("-o", "APT::Sandbox::User=root");
  const up = run("apt-get", [...opts, "update"], { cwd: work });
  if (up.status !== 0)
    throw new Error(`apt-get update of ${mirror} ${DEBIAN_SUITE} deb-src failed: ${lastLine(up.stderr)}`);
  // The mirror may refuse the .dsc and signatures (a non-zero status): the orig tarball is all
  // that is needed, and its checksum is the check.
  const src = run("apt-get", [...opts, "source", "--download-only", "libvirt"], { cwd: dl });
  const file = join(dl, DEBIAN_ORIG);
  if (!existsSync(file))
    throw new Error(
      `apt-get source libvirt (${DEBIAN_SUITE}) gave no ${DEBIAN_ORIG}: ${lastLine(src.stderr)}`,
    );
  return file;
}

/** Source 3: libvirt's release download site (TVIRT_LIBVIRT_URL overrides the address). */
async function fromUpstream(work) {
  const url = process.env.TVIRT_LIBVIRT_URL ?? UPSTREAM_URL;
  const file = join(work, TARBALL);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(300_000) });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body), createWriteStream(file));
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : "";
    throw new Error(`${url}: ${e instanceof Error ? e.message : String(e)}${cause}`, { cause: e });
  }
  return file;
}

function say(msg) {
  process.stderr.write(`fetch-libvirt-suite: ${msg}\n`);
}

/** Files under a folder (symbolic links count as files), relative paths. */
function listFiles(root) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
      const p = d ? join(d, e.name) : e.name;
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk("");
  return out;
}

/** The stamp of a complete cache folder, or undefined (with why) when it is not complete. */
export function checkSuite(dir) {
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(dir, STAMP), "utf8"));
  } catch {
    return { ok: false, why: existsSync(dir) ? `${dir} has no readable ${STAMP}` : `${dir} does not exist` };
  }
  if (stamp.sha256 !== TARBALL_SHA256)
    return { ok: false, why: `${dir} comes from another tarball (${stamp.sha256})` };
  if (stamp.selection !== SELECTION)
    return {
      ok: false,
      why: `${dir} holds an older selection of files (${stamp.selection}, now ${SELECTION})`,
    };
  const files = listFiles(dir).filter((f) => f !== STAMP).length;
  if (files !== stamp.files)
    return { ok: false, why: `${dir} holds ${files} files, its stamp says ${stamp.files}` };
  return { ok: true, stamp };
}

/** Extracts the wanted members of a checked tarball into `out`, following symbolic links. */
function extract(tarball, out) {
  const list = run("tar", ["-tJf", tarball]);
  if (list.status !== 0) throw new Error(`tar -tJf ${tarball} failed: ${lastLine(list.stderr)}`);
  let members = list.stdout
    .split("\n")
    .filter((m) => m.startsWith(TOP) && !m.endsWith("/") && wanted(m.slice(TOP.length)));
  if (!members.includes(`${TOP}tests/qemuxmlconftest.c`))
    throw new Error(`${tarball} has no tests/qemuxmlconftest.c`);
  const done = new Set();
  // A kept symbolic link may point at a file not otherwise kept: fetch those too.
  for (let round = 0; members.length > 0; round++) {
    if (round > 8) throw new Error("symbolic links in the tarball do not settle");
    const listFile = join(out, "..", "members");
    writeFileSync(listFile, members.join("\0"));
    const x = run("tar", [
      "-xJf",
      tarball,
      "-C",
      out,
      "--strip-components=1",
      "--no-same-owner",
      "--null",
      "-T",
      listFile,
    ]);
    if (x.status !== 0) throw new Error(`tar -xJf ${tarball} failed: ${lastLine(x.stderr)}`);
    for (const m of members) done.add(m);
    const next = new Set();
    for (const m of members) {
      const p = join(out, m.slice(TOP.length));
      if (!lstatSync(p).isSymbolicLink()) continue;
      const target = normalize(join(dirname(m.slice(TOP.length)), readlinkSync(p)));
      if (target.startsWith(`..${sep}`) || isAbsolute(target))
        throw new Error(`${m} points outside the tarball`);
      if (!done.has(TOP + target) && !existsSync(join(out, target))) next.add(TOP + target);
    }
    members = [...next];
  }
}

/** Makes the suite complete in `dir`; returns what happened, throws with a one-line reason. */
export async function fetchSuite(env = process.env) {
  const dir = suiteDir(env);
  const checked = checkSuite(dir);
  if (checked.ok) return `${dir} is complete (${checked.stamp.files} files)`;
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  // What a killed run left behind (an hour old: not a run going on now).
  for (const e of readdirSync(parent)) {
    const p = join(parent, e);
    if (e.startsWith(`.libvirt-${VERSION}.tmp-`) && Date.now() - statSync(p).mtimeMs > 3_600_000)
      rmSync(p, { recursive: true, force: true });
  }
  const work = mkdtempSync(join(parent, `.libvirt-${VERSION}.tmp-`));
  try {
    if (run("xz", ["--version"]).status !== 0) throw new Error("xz does not run");
    let tarball;
    let source = "TVIRT_LIBVIRT_TARBALL";
    let downloaded = true;
    const failures = [];
    if (env.TVIRT_LIBVIRT_TARBALL) {
      tarball = env.TVIRT_LIBVIRT_TARBALL;
      downloaded = false;
      if (!existsSync(tarball)) throw new Refused(`TVIRT_LIBVIRT_TARBALL=${tarball} does not exist`);
      await verifyTarball(tarball);
    } else {
      for (const [name, get] of [
        ["Debian trixie", () => fromDebian(work)],
        ["libvirt.org", () => fromUpstream(work)],
      ]) {
        try {
          const f = await get();
          await verifyTarball(f);
          tarball = f;
          source = name;
          break;
        } catch (e) {
          failures.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (tarball === undefined)
        throw new Error(
          `could not get ${TARBALL} (${failures.join("; ")}); set TVIRT_LIBVIRT_TARBALL=PATH to a copy ` +
            `(${TARBALL_SIZE} bytes, sha256 ${TARBALL_SHA256}; Debian calls it ${DEBIAN_ORIG})`,
        );
    }
    const out = join(work, "suite");
    mkdirSync(out);
    extract(tarball, out);
    if (downloaded) rmSync(tarball, { force: true });
    const files = listFiles(out).length;
    const stamp = {
      tarball: TARBALL,
      size: TARBALL_SIZE,
      sha256: TARBALL_SHA256,
      selection: SELECTION,
      files,
    };
    writeFileSync(join(out, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
    // Whatever stands in the way (an old or partial folder) goes aside first.
    if (existsSync(dir)) renameSync(dir, join(work, "old"));
    try {
      renameSync(out, dir);
    } catch (e) {
      // Another run got there first.
      if (!checkSuite(dir).ok) throw e;
    }
    return `${dir}: ${files} files from ${TARBALL} (${source})`;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  if (process.argv.includes("--print-dir")) {
    console.log(suiteDir());
    return 0;
  }
  const t0 = Date.now();
  try {
    const what = await fetchSuite();
    say(`${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return 0;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    say(
      e instanceof Refused
        ? `${msg}; TVIRT_LIBVIRT_TARBALL must name ${TARBALL} (${TARBALL_SIZE} bytes, sha256 ${TARBALL_SHA256})`
        : msg,
    );
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  void main().then((code) => {
    process.exitCode = code;
  });
