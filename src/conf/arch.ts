/** Architecture names libvirt knows (virArchFromString): anything else is refused by name. */
export const KNOWN_ARCHES: ReadonlySet<string> = new Set(
  (
    "none alpha armv6l armv7l armv7b aarch64 cris i686 itanium lm32 m68k microblaze microblazeel " +
    "mips mipsel mips64 mips64el openrisc parisc parisc64 ppc ppcle ppc64 ppc64le ppcemb riscv32 " +
    "riscv64 s390 s390x sh4 sh4eb sparc sparc64 unicore32 x86_64 xtensa xtensaeb loongarch64"
  ).split(" "),
);
