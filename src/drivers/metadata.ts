/**
 * virDomainSetMetadata / virDomainGetMetadata on a definition (libvirt's
 * virDomainDefSetMetadata / virDomainDefGetMetadata) for the description and title; `<metadata>`
 * elements are kept in the XML and refused here by name until the element form is done.
 */
import type { DomainDef } from "../conf/domain/index.ts";
import { VirtError } from "../util/errors/index.ts";

const DESCRIPTION = 0;
const TITLE = 1;
const ELEMENT = 2;

export function setDefMetadata(
  def: DomainDef,
  type: number,
  metadata: string | null,
  uri: string | null,
  op: string,
): void {
  const value = metadata === null || metadata === "" ? undefined : metadata;
  if (type === DESCRIPTION) {
    if (value === undefined) delete def.description;
    else def.description = value;
  } else if (type === TITLE) {
    if (value?.includes("\n")) throw new VirtError("DOMAIN_TITLE_NEWLINE");
    if (value === undefined) delete def.title;
    else def.title = value;
  } else if (type === ELEMENT) {
    throw new VirtError("DOMAIN_METADATA_ELEMENT", { uri: uri ?? "", op });
  } else throw new VirtError("DOMAIN_METADATA_BAD_TYPE", { type });
}

export function getDefMetadata(def: DomainDef, type: number, uri: string | null): string {
  let v: string | undefined;
  if (type === DESCRIPTION) v = def.description;
  else if (type === TITLE) v = def.title;
  else if (type === ELEMENT) throw new VirtError("DOMAIN_METADATA_ELEMENT", { uri: uri ?? "", op: "Get" });
  else throw new VirtError("DOMAIN_METADATA_BAD_TYPE", { type });
  if (v === undefined) throw new VirtError("DOMAIN_METADATA_NOT_FOUND");
  return v;
}
