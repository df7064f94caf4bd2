/**
 * Domain capabilities (`<domainCapabilities>`): the data model drivers fill and libvirt's XML
 * for it.
 */
export type * from "./types.ts";
export { formatDomainCaps } from "./format.ts";
