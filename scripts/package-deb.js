#!/usr/bin/env node
// `npm run package:deb`: builds dist/tvirt_VERSION_ARCH.deb from this clone, without network.
//
//   node scripts/package-deb.js [--out DIR] [--build | --no-build] [--node PATH]
//   node scripts/package-deb.js --depends-list      (the Debian packages a root needs first)
//
// Layout: the bundles (dist/*.cjs, `npm run build`) and the launchers (bin/) under /usr/lib/tvirt,
// with a Node runtime of their own at /usr/lib/tvirt/node (see RUNTIME below); /usr/bin/tvirsh,
// tvirtd and tvirt-host-validate link to the launchers, whose first line names that runtime.
// systemd units in /usr/lib/systemd/system, /etc/tvirt and /etc/default files as conffiles,
// /var/lib/tvirt and /var/log/tvirt, man pages (src/tools/man.ts), a logrotate rule, and the
// maintainer scripts under packaging/debian/. Built with `dpkg-deb --root-owner-group`, so no
// fakeroot is needed and every file is root's.
//
// RUNTIME: Debian 12's nodejs is 18, and tvirt needs Node >= 20 (engines in package.json: it uses
// 20's APIs, and its bundles are compiled for node20). The package carries the Node binary that
// built it (process.execPath: one file, linked only against libc, libstdc++ and libgcc), rather
// than a Node single-executable build: a SEA is the same binary with the bundle injected, so it
// saves nothing, needs postject (not in this repository's dependencies) and an injected blob per
// command, and loses the V8 code cache the launchers keep next to each bundle (bin/bundle.js).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundlesCurrent } from "../bin/bundle.js";

const repoDir = dirname(dirname(fileURLToPath(import.meta.url)));
const pkg = JSON.parse(readFileSync(join(repoDir, "package.json"), "utf8"));

export const PACKAGE = "tvirt";
export const LIB_DIR = "/usr/lib/tvirt";
export const COMMANDS = ["tvirsh", "tvirtd", "tvirt-host-validate", "tvirt-guests"];

/** The build machine's architecture: the runtime carried is its Node binary. */
const ARCH = { x64: "amd64", arm64: "arm64", ppc64: "ppc64el", s390x: "s390x" }[process.arch] ?? process.arch;

/**
 * Depends: the runtime's libraries, QEMU, what the daemon runs (ip, qemu-img) and passwd for the
 * maintainer scripts' useradd. Recommends: what networks (dnsmasq, nft), `define --validate`
 * (xmllint) and the logrotate rule use; a plain `apt install` brings them too.
 */
export const DEPENDS = [
  "libc6",
  "libstdc++6",
  "libgcc-s1",
  "qemu-system-x86",
  "qemu-utils",
  "iproute2",
  "passwd",
];
export const RECOMMENDS = ["dnsmasq-base", "nftables", "libxml2-utils", "logrotate"];

/** The Debian version: package.json's, as Debian spells a pre-release. */
export function debVersion() {
  return String(pkg.version).replace("-", "~") + "-1";
}

function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${String(r.status)}: ${r.stderr ?? ""}`);
  return r.stdout;
}

function write(root, path, text, mode = 0o644) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

/** Copies `from` (a repository path) to `to` (a path in the package), keeping it 0644/0755. */
function copy(root, from, to, mode = 0o644) {
  const file = join(root, to);
  mkdirSync(dirname(file), { recursive: true });
  copyFileSync(join(repoDir, from), file);
  chmodSync(file, mode);
}

/** The size in KiB of what `dir` holds (Installed-Size). */
function sizeKiB(dir) {
  let total = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += Math.ceil(statSync(p).size / 1024);
      else total += 1;
    }
  };
  walk(dir);
  return total;
}

/** Lays out the package's files under `root` (DEBIAN/ included). */
export function stage(root, { nodeBinary = process.execPath } = {}) {
  const lib = join(root, LIB_DIR.slice(1));
  mkdirSync(lib, { recursive: true });
  // The runtime and the launchers; the launchers' "#!/usr/bin/env node" becomes the runtime.
  copyFileSync(nodeBinary, join(lib, "node"));
  chmodSync(join(lib, "node"), 0o755);
  copy(root, "bin/bundle.js", `${LIB_DIR}/bin/bundle.js`);
  copy(root, "bin/package.json", `${LIB_DIR}/bin/package.json`);
  for (const c of COMMANDS) {
    const text = readFileSync(join(repoDir, "bin", `${c}.js`), "utf8").replace(
      /^#!.*\n/,
      `#!${LIB_DIR}/node\n`,
    );
    write(root, `${LIB_DIR}/bin/${c}.js`, text, 0o755);
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    symlinkSync(`../lib/tvirt/bin/${c}.js`, join(root, "usr/bin", c));
  }
  // The bundles and their stamp (bin/bundle.js uses a bundle without sources next to it). Code
  // caches are not shipped: their key is the bundle file's inode; they are written at first
  // use and removed with the package (postrm).
  const dist = join(repoDir, "dist");
  for (const f of readdirSync(dist)) {
    if (/\.(cjs|cjs\.map)$/.test(f) || f === ".built-from") copy(root, `dist/${f}`, `${LIB_DIR}/dist/${f}`);
  }
  // The web page (scripts/build-web.js): served by `tvirsh web` from dist/web beside the bundles.
  if (existsSync(join(dist, "web"))) {
    for (const f of readdirSync(join(dist, "web"))) copy(root, `dist/web/${f}`, `${LIB_DIR}/dist/web/${f}`);
  }
  copy(root, "package.json", `${LIB_DIR}/package.json`);
  // systemd units (every unit file of systemd/).
  for (const f of readdirSync(join(repoDir, "systemd"))) {
    if (/\.(service|socket|timer|target|path)$/.test(f))
      copy(root, `systemd/${f}`, `/usr/lib/systemd/system/${f}`);
  }
  // Configuration: packaging/etc/ as it is (conffiles), the logrotate rule.
  cpSync(join(repoDir, "packaging/etc"), join(root, "etc"), { recursive: true });
  if (existsSync(join(repoDir, "packaging/logrotate/tvirt")))
    copy(root, "packaging/logrotate/tvirt", "/etc/logrotate.d/tvirt");
  // Shell completion of tvirsh (bash-completion loads it by command name; zsh from its
  // vendor directory).
  copy(root, "packaging/completion/tvirsh.bash", "/usr/share/bash-completion/completions/tvirsh");
  copy(root, "packaging/completion/_tvirsh", "/usr/share/zsh/vendor-completions/_tvirsh");
  // State and log directories (owned by the package: dpkg removes them when empty).
  for (const d of ["var/lib/tvirt", "var/lib/tvirt/qemu", "var/log/tvirt", "var/log/tvirt/qemu"])
    mkdirSync(join(root, d), { recursive: true });
  // Man pages, from the command table.
  // src/tools/man.ts writes NAME.SECTION.gz into man1/, man8/ (through tsx: the table is
  // TypeScript).
  run(
    [
      process.execPath,
      "--import",
      "tsx",
      join(repoDir, "src/tools/man.ts"),
      "--gzip",
      "--out",
      join(root, "usr/share/man"),
    ],
    {
      cwd: repoDir,
    },
  );
  const doc = `usr/share/doc/${PACKAGE}`;
  write(
    root,
    `${doc}/copyright`,
    `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: tvirt\n\nFiles: *\nLicense: ${pkg.license}\n On Debian systems the full text of the GNU Lesser General Public License\n version 2.1 is in /usr/share/common-licenses/LGPL-2.1.\n`,
  );
  // Every file is root's and not group/other writable (umask of the build user aside).
  run(["chmod", "-R", "go-w", root]);

  // Control files.
  const debian = join(root, "DEBIAN");
  mkdirSync(debian, { recursive: true });
  const conffiles = [];
  const walkEtc = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walkEtc(join(d, e.name), `${rel}/${e.name}`);
      else conffiles.push(`${rel}/${e.name}`);
    }
  };
  walkEtc(join(root, "etc"), "/etc");
  writeFileSync(join(debian, "conffiles"), conffiles.sort().join("\n") + "\n");
  // md5sums of the files that are not conffiles (dpkg --verify; dpkg keeps conffiles' own).
  const sums = [];
  const walkSums = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (r !== "DEBIAN" && r !== "etc") walkSums(join(d, e.name), r);
      } else if (e.isFile()) {
        sums.push(
          `${createHash("md5")
            .update(readFileSync(join(d, e.name)))
            .digest("hex")}  ${r}`,
        );
      }
    }
  };
  walkSums(root, "");
  writeFileSync(join(debian, "md5sums"), sums.join("\n") + "\n");
  // The maintainer scripts, told which units to enable, start and stop: those of systemd/ with
  // an [Install] section (tvirtd.service and its sockets, and any unit added there later).
  const units = readdirSync(join(repoDir, "systemd"))
    .filter((f) => /\.(service|socket|timer|target|path)$/.test(f))
    .filter((f) => /^\[Install\]/m.test(readFileSync(join(repoDir, "systemd", f), "utf8")))
    .sort();
  for (const s of ["postinst", "prerm", "postrm"]) {
    const text = readFileSync(join(repoDir, "packaging/debian", s), "utf8").replaceAll(
      "@UNITS@",
      units.join(" "),
    );
    write(root, `DEBIAN/${s}`, text, 0o755);
  }
  const control = [
    `Package: ${PACKAGE}`,
    `Version: ${debVersion()}`,
    `Architecture: ${ARCH}`,
    "Maintainer: tvirt developers <tvirt@localhost>",
    `Installed-Size: ${String(sizeKiB(root))}`,
    `Depends: ${DEPENDS.join(", ")}`,
    `Recommends: ${RECOMMENDS.join(", ")}`,
    "Section: admin",
    "Priority: optional",
    "Homepage: https://libvirt.org/",
    `Description: ${pkg.description}`,
    " tvirt manages QEMU guests with libvirt's domain XML and virsh's commands: the tvirtd",
    " daemon (libvirt's RPC protocol: stock virsh and python3-libvirt connect to it), the",
    " tvirsh command line and tvirt-host-validate. Carries its own Node.js runtime.",
    "",
  ];
  writeFileSync(join(debian, "control"), control.join("\n"));
  return { conffiles };
}

/**
 * Builds the .deb into `outDir`; returns its path. `build`: "stale" runs `npm run build`'s
 * bundling when dist/ is not current (bin/bundle.js's check, the one the launchers make),
 * "always" or "never".
 */
export function buildDeb({ outDir = join(repoDir, "dist"), build = "stale", nodeBinary } = {}) {
  if (build === "always" || (build === "stale" && !bundlesCurrent()))
    run([process.execPath, join(repoDir, "scripts/build.js")], { stdio: ["ignore", "ignore", "inherit"] });
  for (const c of COMMANDS)
    if (!existsSync(join(repoDir, "dist", `${c}.cjs`)))
      throw new Error(`dist/${c}.cjs is missing: run npm run build`);
  const work = mkdtempSync(join(tmpdir(), "tvirt-deb-"));
  try {
    const root = join(work, "root");
    stage(root, { nodeBinary });
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `${PACKAGE}_${debVersion()}_${ARCH}.deb`);
    // zstd at a low level: the runtime is most of the package and xz takes a minute on it.
    run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", "--build", root, out]);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.includes("--depends-list")) {
    // Names only (debootstrap --include takes no versions).
    console.log([...DEPENDS, ...RECOMMENDS].join(","));
  } else {
    const at = args.indexOf("--out");
    const nodeAt = args.indexOf("--node");
    const out = buildDeb({
      outDir: at >= 0 ? args[at + 1] : undefined,
      build: args.includes("--build") ? "always" : args.includes("--no-build") ? "never" : "stale",
      nodeBinary: nodeAt >= 0 ? args[nodeAt + 1] : undefined,
    });
    console.log(`package-deb: ${out}`);
  }
}
