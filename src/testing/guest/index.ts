/**
 * The tiny test guest: a Debian cloud kernel plus a busybox initramfs, built from Debian
 * packages and cached outside the repository. See `build.ts` for the cache, `init-script.ts`
 * for what the guest prints, `domain-xml.ts` for libvirt XML, `qemu.ts` for raw QEMU boots.
 */
export {
  ensureTestGuest,
  guestCacheDir,
  readManifest,
  RECIPE,
  type EnsureTestGuestOptions,
  type GuestManifest,
  type TestGuest,
} from "./build.ts";
export { diskAndCdromXML, guestCmdline, guestDomainXML, type GuestDomainOptions } from "./domain-xml.ts";
export { GUEST_MODES, GUEST_MODULES, type GuestMode } from "./init-script.ts";
export {
  bootRawQemu,
  rawQemuArgs,
  QEMU_BINARY,
  type RawBootOptions,
  type RawGuest,
  type RawGuestExit,
} from "./qemu.ts";
export { GuestBuildError, type GuestBuildFailure } from "./run.ts";
export { testGuestOrSkip } from "./skip.ts";
export { lastCounter, waitFor } from "./serial.ts";
