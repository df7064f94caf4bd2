/**
 * Domain capabilities in the REST API (issue 16 follow-up): what the hypervisor offers a guest
 * of one emulator, architecture, machine type and virtualization type, as `tvirsh
 * domcapabilities` prints it (libvirt's virConnectGetDomainCapabilities). JSON is a summary
 * for a client that picks options (CPU modes, firmware, device models); `Accept:
 * application/xml` gives the whole document. A driver without it (the test driver) answers 501.
 */
import type { FastifyRequest } from "fastify";
import { parseXmlTree, selectNodes, selectString, type Connection, type XElement } from "../api/index.ts";
import type { RouteDef } from "./route.ts";
import { bool, record, str } from "./schemas.ts";

const strings = { type: "array", items: str } as const;
const supported = { type: "boolean", description: "supported='yes'" } as const;

export const DomainCapsSchema = record({
  path: { type: "string", description: "the emulator binary" },
  domain: { type: "string", description: "the virtualization type (qemu, kvm, ...)" },
  machine: { type: ["string", "null"], description: "the canonical machine type; null when none" },
  arch: str,
  vcpuMax: { type: ["integer", "null"] },
  iothreads: bool,
  os: record({ supported, firmware: strings, loaders: strings }),
  cpu: record({
    modes: { type: "array", items: record({ name: str, supported }) },
    usableModels: { ...strings, description: "custom CPU models usable on this host" },
  }),
  devices: {
    type: "array",
    items: record({
      name: str,
      supported,
      enums: {
        type: "object",
        additionalProperties: strings,
        description: "each <enum>'s values, e.g. disk bus: [ide, scsi, virtio, ...]",
      },
    }),
  },
  features: { type: "array", items: record({ name: str, supported }) },
});

/** The query string: `tvirsh domcapabilities --emulatorbin --arch --machine --virttype`. */
const DomainCapsQuery = {
  type: "object",
  additionalProperties: false,
  properties: {
    emulator: {
      type: "string",
      minLength: 1,
      description: "the emulator binary, e.g. /usr/bin/qemu-system-x86_64",
    },
    arch: { type: "string", minLength: 1, description: "the guest architecture, e.g. x86_64" },
    machine: { type: "string", minLength: 1, description: "the machine type, e.g. q35" },
    virttype: { type: "string", minLength: 1, description: "the virtualization type, e.g. kvm or qemu" },
  },
} as const;

const texts = (ctx: XElement, xpath: string): string[] => selectNodes(ctx, xpath).map((n) => text(n));
const text = (n: ReturnType<typeof selectNodes>[number]): string =>
  n.kind === "element" ? selectString(n, ".") : n.value;
const elements = (ctx: XElement, xpath: string): XElement[] =>
  selectNodes(ctx, xpath).filter((n): n is XElement => n.kind === "element");
const isYes = (el: XElement): boolean => selectString(el, "@supported") === "yes";

/** The JSON summary of a domainCapabilities document. */
export function domainCapsSummary(xml: string): object {
  const doc = parseXmlTree(xml);
  const os = elements(doc, "/domainCapabilities/os")[0];
  const vcpu = selectString(doc, "/domainCapabilities/vcpu/@max");
  const machine = selectString(doc, "/domainCapabilities/machine");
  const iothreads = elements(doc, "/domainCapabilities/iothreads")[0];
  return {
    path: selectString(doc, "/domainCapabilities/path"),
    domain: selectString(doc, "/domainCapabilities/domain"),
    machine: machine === "" ? null : machine,
    arch: selectString(doc, "/domainCapabilities/arch"),
    vcpuMax: vcpu === "" ? null : Number(vcpu),
    iothreads: iothreads !== undefined && isYes(iothreads),
    os: {
      supported: os !== undefined && isYes(os),
      firmware: os ? texts(os, "enum[@name='firmware']/value") : [],
      loaders: os ? texts(os, "loader/value") : [],
    },
    cpu: {
      modes: elements(doc, "/domainCapabilities/cpu/mode").map((m) => ({
        name: selectString(m, "@name"),
        supported: isYes(m),
      })),
      usableModels: texts(doc, "/domainCapabilities/cpu/mode[@name='custom']/model[@usable='yes']"),
    },
    devices: elements(doc, "/domainCapabilities/devices/*").map((d) => ({
      name: d.name,
      supported: isYes(d),
      enums: Object.fromEntries(
        elements(d, "enum").map((e) => [selectString(e, "@name"), texts(e, "value")]),
      ),
    })),
    features: elements(doc, "/domainCapabilities/features/*").map((f) => ({
      name: f.name,
      supported: isYes(f),
    })),
  };
}

export function domainCapsRoutes(conn: Connection): RouteDef[] {
  const get = (req: FastifyRequest): Promise<string> => {
    const q = req.query as { emulator?: string; arch?: string; machine?: string; virttype?: string };
    return conn.getDomainCapabilities({
      ...(q.emulator !== undefined ? { emulatorbin: q.emulator } : {}),
      ...(q.arch !== undefined ? { arch: q.arch } : {}),
      ...(q.machine !== undefined ? { machine: q.machine } : {}),
      ...(q.virttype !== undefined ? { virttype: q.virttype } : {}),
    });
  };
  return [
    {
      method: "GET",
      url: "/api/domcapabilities",
      write: false,
      summary:
        "Domain capabilities of an emulator, arch, machine and virttype, as `domcapabilities` " +
        "(Accept: application/xml gives the XML)",
      query: DomainCapsQuery,
      ok: { status: 200, schema: DomainCapsSchema },
      handler: async (req) => domainCapsSummary(await get(req)),
      xml: get,
    },
  ];
}
