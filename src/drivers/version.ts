/** libvirt's version numbers: the version tvirt is compatible with, and their text form. */

/** `major.minor.release` of a libvirt version number. */
export function formatVersion(v: number): string {
  const major = Math.floor(v / 1_000_000);
  const minor = Math.floor((v % 1_000_000) / 1000);
  const release = v % 1000;
  return `${major}.${minor}.${release}`;
}

/** The libvirt version tvirt is compatible with (reported as the library version). */
export const LIBVIRT_COMPAT_VERSION = 9_000_000;
