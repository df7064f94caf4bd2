/** libvirt's domain snapshot definition (`<domainsnapshot>`), the parts tvirt keeps. */

/** States a snapshot records: the domain's state when it was taken (libvirt's list). */
export const SNAPSHOT_STATES = [
  "nostate",
  "running",
  "blocked",
  "paused",
  "shutdown",
  "shutoff",
  "crashed",
  "pmsuspended",
  "disk-snapshot",
] as const;
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

/** Where a disk's or the memory's snapshot lives. */
export const SNAPSHOT_LOCATIONS = ["default", "no", "internal", "external", "manual"] as const;
export type SnapshotLocation = (typeof SNAPSHOT_LOCATIONS)[number];

export interface SnapshotDiskDef {
  /** The disk's target (`vda`) or source path, as the user named it. */
  name: string;
  snapshot?: SnapshotLocation;
  /** External snapshots: the new overlay's file and format. */
  sourceFile?: string;
  driverType?: string;
}

export interface SnapshotDef {
  name: string;
  description?: string;
  /** Set when the snapshot is taken (absent in a user's create request). */
  state?: SnapshotState;
  /** Seconds since the epoch. */
  creationTime?: number;
  parent?: string;
  memory?: { snapshot: SnapshotLocation; file?: string };
  disks?: SnapshotDiskDef[];
  /** The saved domain definition, as canonical domain XML (kept verbatim, re-parsed on revert). */
  domainXML?: string;
}
