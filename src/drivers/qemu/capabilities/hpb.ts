/**
 * Ubuntu's `-hpb` machine types ("host physical bits"): Ubuntu's QEMU has, beside each of its
 * release machine types (`pc-q35-jammy`), a twin that turns `host-phys-bits` on, so a guest
 * sees the host's physical address width (`pc-q35-jammy-hpb`). Other QEMU builds lack them, so
 * a definition moved from Ubuntu would not start. tvirt accepts these names as aliases: the
 * machine is the upstream versioned machine the Ubuntu release's type is based on, and the vCPU
 * gets `host-phys-bits=on` (unless the XML's `<maxphysaddr>` says otherwise). The definition
 * keeps the name as written.
 */

/** Ubuntu release → the upstream QEMU machine version its release machine types are based on. */
export const UBUNTU_MACHINE_VERSIONS: Readonly<Record<string, string>> = {
  bionic: "2.11",
  cosmic: "2.12",
  disco: "3.1",
  eoan: "4.0",
  focal: "4.2",
  groovy: "5.0",
  hirsute: "5.2",
  impish: "6.0",
  jammy: "6.2",
  kinetic: "7.0",
  lunar: "7.2",
  mantic: "8.0",
  noble: "8.2",
  oracular: "9.0",
  plucky: "9.2",
  questing: "10.0",
};

export interface HpbMachine {
  /** The name as written (`pc-q35-jammy-hpb`). */
  readonly name: string;
  /** The upstream machine it runs as (`pc-q35-6.2`). */
  readonly base: string;
}

/**
 * The machine an `-hpb` name stands for: `pc-q35-RELEASE-hpb` / `pc-i440fx-RELEASE-hpb` (Ubuntu's
 * names) and `pc-q35-X.Y-hpb` / `pc-i440fx-X.Y-hpb`; undefined for any other name.
 */
export function parseHpbMachine(name: string | undefined): HpbMachine | undefined {
  if (name === undefined) return undefined;
  const m = /^(pc-q35|pc-i440fx)-([a-z]+|\d+\.\d+)-hpb$/.exec(name);
  if (!m?.[1] || !m[2]) return undefined;
  const version = /^\d/.test(m[2]) ? m[2] : UBUNTU_MACHINE_VERSIONS[m[2]];
  if (version === undefined) return undefined;
  return { name, base: `${m[1]}-${version}` };
}
