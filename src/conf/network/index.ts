/**
 * libvirt virtual network XML ⇄ typed definitions: the public surface of `conf/network`.
 */
export type * from "./types.ts";
export { FORWARD_MODES, L3_MODES, VIRTUALPORT_TYPES, isL3 } from "./types.ts";
export { parseNetwork, readNetwork, DNSMASQ_NS, type ParseNetworkOptions } from "./parse.ts";
export { ipPrefix } from "./ip-prefix.ts";
export { formatNetwork } from "./format.ts";
export { checkNetworkForDriver } from "./validate.ts";
export { assignBridgeName, generateBridgeMac } from "./defaults.ts";
export {
  updateNetworkDef,
  NetworkUpdateCommand,
  NetworkUpdateSection,
  NETWORK_UPDATE_COMMAND_NAMES,
  NETWORK_UPDATE_SECTION_NAMES,
} from "./update.ts";
