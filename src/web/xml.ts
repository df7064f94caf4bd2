/**
 * XML over HTTP: libvirt's objects are XML documents, so the API takes and gives them raw as
 * well as wrapped in JSON. `Content-Type: application/xml` (or `text/xml`) bodies are read as
 * text; `Accept: application/xml` asks a resource for its XML document.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";

export const XML_TYPES = ["application/xml", "text/xml"] as const;

/** Reads XML bodies as strings (the routes that take them wrap them: `wrapXmlBody`). */
export function registerXmlBodies(app: FastifyInstance, bodyLimit = 16 * 1024 * 1024): void {
  app.addContentTypeParser([...XML_TYPES], { parseAs: "string", bodyLimit }, (_req, body, done) => {
    done(null, body);
  });
}

/** `?validate=false` beside a raw XML body (JSON bodies say it in the body). */
export const XmlQuery = {
  type: "object",
  properties: {
    validate: {
      type: "string",
      enum: ["true", "false"],
      description: "with an XML body: validate against libvirt's schema (default true)",
    },
  },
} as const;

/** preValidation of a route with `xmlBody`: a raw XML body becomes `{ xml, validate }`. */
export function wrapXmlBody(req: FastifyRequest): void {
  if (typeof req.body !== "string") return;
  const q = req.query as { validate?: string };
  req.body = { xml: req.body, ...(q.validate !== undefined ? { validate: q.validate !== "false" } : {}) };
}

/**
 * Whether the `Accept` header prefers XML to JSON: the highest quality wins, and at equal
 * quality the one named first. No header, or one naming neither, gets JSON.
 */
export function prefersXml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let best: { xml: boolean; q: number; at: number } | undefined;
  accept.split(",").forEach((part, at) => {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const xml = (XML_TYPES as readonly string[]).includes(type);
    if (!xml && type !== "application/json") return;
    const qp = params.find((p) => p.startsWith("q="));
    const q = qp === undefined ? 1 : Number(qp.slice(2));
    if (!Number.isFinite(q) || q <= 0) return;
    if (best === undefined || q > best.q) best = { xml, q, at };
  });
  return best?.xml ?? false;
}
