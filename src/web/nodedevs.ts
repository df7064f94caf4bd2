/**
 * Node devices in the REST API (issue 16): the host's devices as the connection's node device
 * driver sees them (`tvirsh nodedev-list`, `nodedev-dumpxml`), read-only. A driver without
 * node devices (the test driver) answers 501 with the catalogue's "not supported" error.
 */
import type { FastifyRequest } from "fastify";
import type { Connection, NodeDevice } from "../api/index.ts";
import type { RouteDef } from "./route.ts";
import { NameParam } from "./schemas.ts";

const NodeDevSummarySchema = {
  type: "object",
  required: ["name", "parent", "caps"],
  properties: {
    name: { type: "string" },
    parent: { type: ["string", "null"], description: "null for the root (computer)" },
    caps: { type: "array", items: { type: "string" }, description: "capability names, e.g. pci, net" },
  },
} as const;

export const NodeDevListSchema = {
  type: "object",
  required: ["nodedevs"],
  properties: { nodedevs: { type: "array", items: NodeDevSummarySchema } },
} as const;

export const NodeDevDetailSchema = {
  type: "object",
  required: ["nodedev", "xml"],
  properties: { nodedev: NodeDevSummarySchema, xml: { type: "string" } },
} as const;

const CapQuery = {
  type: "object",
  properties: {
    cap: {
      type: "string",
      minLength: 1,
      description: "only devices with this capability (as `nodedev-list --cap`), e.g. pci, usb_device, net",
    },
  },
} as const;

async function summary(dev: NodeDevice): Promise<{ name: string; parent: string | null; caps: string[] }> {
  const [parent, caps] = await Promise.all([dev.getParent(), dev.listCaps()]);
  return { name: dev.name, parent, caps };
}

export function nodeDevRoutes(conn: Connection): RouteDef[] {
  const lookup = (req: FastifyRequest): Promise<NodeDevice> =>
    conn.lookupNodeDeviceByName((req.params as { name: string }).name);
  return [
    {
      method: "GET",
      url: "/api/nodedevs",
      write: false,
      summary: "List the host's node devices with their parents and capabilities",
      query: CapQuery,
      ok: { status: 200, schema: NodeDevListSchema },
      async handler(req) {
        const cap = (req.query as { cap?: string }).cap;
        const devs = await Promise.all((await conn.listAllNodeDevices()).map(summary));
        return { nodedevs: cap === undefined ? devs : devs.filter((d) => d.caps.includes(cap)) };
      },
    },
    {
      method: "GET",
      url: "/api/nodedevs/:name",
      write: false,
      summary: "A node device's summary and XML (Accept: application/xml gives the XML alone)",
      params: NameParam,
      ok: { status: 200, schema: NodeDevDetailSchema },
      async handler(req) {
        const dev = await lookup(req);
        return { nodedev: await summary(dev), xml: await dev.getXMLDesc() };
      },
      xml: async (req) => (await lookup(req)).getXMLDesc(),
    },
  ];
}
