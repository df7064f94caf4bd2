/**
 * JSON schemas of the REST API's bodies. The same objects validate requests (Fastify), shape
 * responses and make the OpenAPI document (`openapi.ts`), so the three cannot drift apart.
 */

export const ErrorSchema = {
  type: "object",
  description: "An error of tvirt's catalogue (VirtError.toJSON)",
  required: ["code", "kind", "message", "details"],
  properties: {
    code: { type: "string" },
    kind: { type: "string", enum: ["user", "environment", "bug"] },
    message: { type: "string" },
    virCode: { type: "integer" },
    virDomain: { type: "integer" },
    details: { type: "object", additionalProperties: true },
  },
} as const;

export const DomainSummarySchema = {
  type: "object",
  required: ["name", "uuid", "id", "state", "stateCode", "vcpus", "memoryKiB", "maxMemoryKiB", "persistent"],
  properties: {
    name: { type: "string" },
    uuid: { type: "string" },
    id: { type: ["integer", "null"], description: "null when the domain is not running" },
    state: {
      type: "string",
      enum: ["nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"],
    },
    stateCode: { type: "integer" },
    vcpus: { type: "integer" },
    memoryKiB: { type: "integer" },
    maxMemoryKiB: { type: "integer" },
    persistent: { type: "boolean" },
  },
} as const;

export const DomainListSchema = {
  type: "object",
  required: ["domains"],
  properties: { domains: { type: "array", items: DomainSummarySchema } },
} as const;

export const DomainDetailSchema = {
  type: "object",
  required: ["domain", "xml"],
  properties: { domain: DomainSummarySchema, xml: { type: "string" } },
} as const;

export const DomainResultSchema = {
  type: "object",
  required: ["domain"],
  properties: { domain: DomainSummarySchema },
} as const;

export const XmlBodySchema = {
  type: "object",
  required: ["xml"],
  additionalProperties: false,
  properties: {
    xml: { type: "string", minLength: 1 },
    validate: { type: "boolean", default: true, description: "validate against libvirt's schema" },
  },
} as const;

const ChangeSchema = {
  type: "object",
  required: ["kind", "subject", "xpath", "text"],
  properties: {
    kind: { type: "string" },
    subject: { type: "string" },
    xpath: { type: "string" },
    details: { type: "string" },
    text: { type: "string", description: "the change as `tvirsh edit` prints it" },
  },
} as const;

export const EditResultSchema = {
  type: "object",
  required: ["domain", "changed", "running", "normalised", "defaults", "appliesAtNextBoot", "text"],
  properties: {
    domain: DomainSummarySchema,
    changed: { type: "boolean" },
    running: { type: "boolean" },
    dropped: { type: "array", items: { type: "object", additionalProperties: true } },
    normalised: { type: "array", items: ChangeSchema },
    defaults: { type: "array", items: ChangeSchema },
    appliesAtNextBoot: { type: "array", items: ChangeSchema },
    text: { type: "string", description: "the report `tvirsh edit` prints" },
  },
} as const;

export const NetworkListSchema = {
  type: "object",
  required: ["networks"],
  properties: {
    networks: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "uuid", "active", "persistent", "autostart"],
        properties: {
          name: { type: "string" },
          uuid: { type: "string" },
          active: { type: "boolean" },
          persistent: { type: "boolean" },
          autostart: { type: "boolean" },
        },
      },
    },
  },
} as const;

export const PoolListSchema = {
  type: "object",
  required: ["pools"],
  properties: {
    pools: {
      type: "array",
      items: {
        type: "object",
        required: [
          "name",
          "uuid",
          "active",
          "persistent",
          "autostart",
          "capacity",
          "allocation",
          "available",
        ],
        properties: {
          name: { type: "string" },
          uuid: { type: "string" },
          active: { type: "boolean" },
          persistent: { type: "boolean" },
          autostart: { type: "boolean" },
          capacity: { type: "number" },
          allocation: { type: "number" },
          available: { type: "number" },
        },
      },
    },
  },
} as const;

export const VolumeListSchema = {
  type: "object",
  required: ["pool", "volumes"],
  properties: {
    pool: { type: "string" },
    volumes: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "key", "path", "type", "capacity", "allocation"],
        properties: {
          name: { type: "string" },
          key: { type: "string" },
          path: { type: "string" },
          type: { type: "integer" },
          capacity: { type: "number" },
          allocation: { type: "number" },
        },
      },
    },
  },
} as const;

export const HostSchema = {
  type: "object",
  required: ["uri", "hostname", "hypervisor", "libVersion", "node", "arch", "guests"],
  properties: {
    uri: { type: "string" },
    hostname: { type: "string" },
    hypervisor: { type: "string" },
    libVersion: { type: "integer" },
    node: {
      type: "object",
      required: ["model", "memoryKiB", "cpus", "mhz", "nodes", "sockets", "cores", "threads"],
      properties: {
        model: { type: "string" },
        memoryKiB: { type: "integer" },
        cpus: { type: "integer" },
        mhz: { type: "integer" },
        nodes: { type: "integer" },
        sockets: { type: "integer" },
        cores: { type: "integer" },
        threads: { type: "integer" },
      },
    },
    arch: { type: "string" },
    guests: {
      type: "array",
      items: {
        type: "object",
        required: ["osType", "arch", "domainTypes"],
        properties: {
          osType: { type: "string" },
          arch: { type: "string" },
          domainTypes: { type: "array", items: { type: "string" } },
        },
      },
    },
  },
} as const;

/** One `lifecycle` Server-Sent Event's data on /api/events. */
export const LifecycleEventSchema = {
  type: "object",
  required: ["domain", "event", "eventCode", "detail"],
  properties: {
    domain: {
      type: "object",
      required: ["name", "uuid"],
      properties: { name: { type: "string" }, uuid: { type: "string" } },
    },
    event: { type: "string" },
    eventCode: { type: "integer" },
    detail: { type: "integer" },
  },
} as const;

export const NameParam = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string", minLength: 1 } },
} as const;

export const ActionParam = {
  type: "object",
  required: ["name", "action"],
  properties: {
    name: { type: "string", minLength: 1 },
    action: { type: "string", enum: ["start", "shutdown", "reboot", "destroy", "suspend", "resume"] },
  },
} as const;

export const PoolParam = {
  type: "object",
  required: ["pool"],
  properties: { pool: { type: "string", minLength: 1 } },
} as const;
