#!/usr/bin/env bash
# Makes (once) the plain Debian 12 root that src/tools/package-deb.test.ts installs the .deb into:
# ~/.cache/tvirt/debootstrap-bookworm (or $1). Called by scripts/setup, so that `npm test` does
# not pay for it. The root has tvirt's dependencies preinstalled (the package's Depends, from
# scripts/package-deb.js --depends), so that `dpkg -i` adds only tvirt's own files and the
# purge can be compared file for file; it does NOT have Debian's nodejs (18): the package
# must not need it. Made in a temporary directory and renamed, so a half-made root is never used.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-${HOME}/.cache/tvirt/debootstrap-bookworm}"
mirror="${TVIRT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
stamp="$root/.tvirt-root"
depends="$(node scripts/package-deb.js --depends-list)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$depends" ]; then exit 0; fi
tmp="${root}.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
echo "setup: debootstrap bookworm into $root (with: $depends)"
debootstrap --variant=minbase --include="$depends" bookworm "$tmp" "$mirror" >"${tmp}.log" 2>&1 || {
  tail -20 "${tmp}.log"
  exit 1
}
# No daemons may start inside the root while packages install (no systemd there anyway).
printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
rm -f "$tmp/var/cache/apt/archives/"*.deb
echo "$depends" >"$tmp/.tvirt-root"
rm -rf "$root" "${tmp}.log"
mv "$tmp" "$root"
