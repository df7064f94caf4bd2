/**
 * JSON schemas of the REST API's bodies. The same objects validate requests (Fastify), shape
 * responses and make the OpenAPI document (`openapi.ts`), so the three cannot drift apart.
 */

export const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const num = { type: "number" } as const;
export const bool = { type: "boolean" } as const;

/**
 * An object schema whose properties are all required but `optional` (in their own order, so
 * the OpenAPI document reads as written); `head` goes before them (a description).
 */
export function record<P extends Record<string, object>>(
  properties: P,
  optional: readonly (keyof P & string)[] = [],
  head: { readonly description?: string } = {},
): { type: "object"; description?: string; required: string[]; properties: P } {
  return {
    type: "object",
    ...head,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    properties,
  };
}

/** A list resource's body: `{ KEY: [ITEM, ...] }`, after any required `before` properties. */
function listOf(key: string, items: object, before: Record<string, object> = {}): object {
  return record({ ...before, [key]: { type: "array", items } });
}

export const ErrorSchema = record(
  {
    code: str,
    kind: { type: "string", enum: ["user", "environment", "bug"] },
    message: str,
    virCode: int,
    virDomain: int,
    details: { type: "object", additionalProperties: true },
  },
  ["virCode", "virDomain"],
  { description: "An error of tvirt's catalogue (VirtError.toJSON)" },
);

export const DomainSummarySchema = record({
  name: str,
  uuid: str,
  id: { type: ["integer", "null"], description: "null when the domain is not running" },
  state: {
    type: "string",
    enum: ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"],
  },
  stateCode: int,
  vcpus: int,
  memoryKiB: int,
  maxMemoryKiB: int,
  persistent: bool,
});

export const DomainListSchema = listOf("domains", DomainSummarySchema);

export const DomainDetailSchema = record({ domain: DomainSummarySchema, xml: str });

export const DomainResultSchema = record({ domain: DomainSummarySchema });

export const XmlBodySchema = {
  type: "object",
  required: ["xml"],
  additionalProperties: false,
  properties: {
    xml: { type: "string", minLength: 1 },
    validate: { type: "boolean", default: true, description: "validate against libvirt's schema" },
  },
} as const;

const ChangeSchema = record(
  {
    kind: str,
    subject: str,
    xpath: str,
    details: str,
    text: { type: "string", description: "the change as `tvirsh edit` prints it" },
  },
  ["details"],
);

export const EditResultSchema = record(
  {
    domain: DomainSummarySchema,
    changed: bool,
    running: bool,
    dropped: { type: "array", items: { type: "object", additionalProperties: true } },
    normalised: { type: "array", items: ChangeSchema },
    defaults: { type: "array", items: ChangeSchema },
    appliesAtNextBoot: { type: "array", items: ChangeSchema },
    text: { type: "string", description: "the report `tvirsh edit` prints" },
  },
  ["dropped"],
);

export const NetworkListSchema = listOf(
  "networks",
  record({ name: str, uuid: str, active: bool, persistent: bool, autostart: bool }),
);

export const PoolListSchema = listOf(
  "pools",
  record({
    name: str,
    uuid: str,
    active: bool,
    persistent: bool,
    autostart: bool,
    capacity: num,
    allocation: num,
    available: num,
  }),
);

export const VolumeListSchema = listOf(
  "volumes",
  record({ name: str, key: str, path: str, type: int, capacity: num, allocation: num }),
  { pool: str },
);

export const HostSchema = record({
  uri: str,
  hostname: str,
  hypervisor: str,
  libVersion: int,
  node: record({
    model: str,
    memoryKiB: int,
    cpus: int,
    mhz: int,
    nodes: int,
    sockets: int,
    cores: int,
    threads: int,
  }),
  arch: str,
  guests: {
    type: "array",
    items: record({ osType: str, arch: str, domainTypes: { type: "array", items: str } }),
  },
});

/** One `lifecycle` Server-Sent Event's data on /api/events. */
export const LifecycleEventSchema = record({
  domain: record({ name: str, uuid: str }),
  event: str,
  eventCode: int,
  detail: int,
});

export const NameParam = record({ name: { type: "string", minLength: 1 } });

export const ActionParam = record({
  name: { type: "string", minLength: 1 },
  action: { type: "string", enum: ["start", "shutdown", "reboot", "destroy", "suspend", "resume"] },
});

export const PoolParam = record({ pool: { type: "string", minLength: 1 } });
