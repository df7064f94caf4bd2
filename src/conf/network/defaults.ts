/**
 * Defaults that libvirt's network driver (not its parser) fills when a network is defined:
 * the bridge name (`virbr<N>`, the lowest free number, or a `%d` template filled) and the
 * bridge MAC address (52:54:00 plus three random bytes). Pure: the caller supplies the names
 * in use and the random bytes.
 */
import { VirtError } from "../../util/errors/index.ts";
import { isL3, type NetworkDef } from "./types.ts";

/**
 * Gives an L3 network (nat, route, open, isolated) without a bridge name the first free
 * `virbr<N>`; a name containing `%d` is a template filled the same way. Other modes are left
 * alone (their bridge, if any, is the host's).
 */
export function assignBridgeName(def: NetworkDef, inUse: ReadonlySet<string>): void {
  if (!isL3(def)) return;
  const template = def.bridge === undefined ? "virbr%d" : def.bridge.includes("%d") ? def.bridge : undefined;
  if (template === undefined) return;
  for (let n = 0; n < 1000; n++) {
    const candidate = template.replace("%d", String(n));
    if (!inUse.has(candidate)) {
      def.bridge = candidate;
      return;
    }
  }
  throw new VirtError("NETWORK_CONFIG_UNSUPPORTED", {
    what: `Bridge generation exceeded max id 1000 for network '${def.name}': choose a bridge name`,
  });
}

/** Sets a bridge MAC (52:54:00:xx:xx:xx) on an L3 network that has none; `random` gives 3 bytes. */
export function generateBridgeMac(def: NetworkDef, random: () => readonly number[]): void {
  if (!isL3(def) || def.mac !== undefined) return;
  const tail = random().slice(0, 3);
  def.mac = [0x52, 0x54, 0x00, ...tail].map((b) => (b & 0xff).toString(16).padStart(2, "0")).join(":");
}
