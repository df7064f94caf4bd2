/**
 * A route of the REST API: its schemas are both Fastify's (validation) and the OpenAPI
 * operation's (server.ts `openApiDocument`), so the two cannot drift apart.
 */
import type { FastifyReply, FastifyRequest } from "fastify";

export interface RouteDef {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly url: string;
  /** Changes something: refused for read-only tokens, audited. */
  readonly write: boolean;
  readonly summary: string;
  readonly params?: object;
  /** Query string parameters (an object schema of strings). */
  readonly query?: object;
  readonly body?: object;
  /**
   * The body may also be raw XML (`Content-Type: application/xml`): it is validated as
   * `{ xml: BODY, validate }`, with `validate` from the query string (xml.ts).
   */
  readonly xmlBody?: boolean;
  readonly ok: { readonly status: number; readonly schema?: object; readonly contentType?: string };
  readonly handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** The resource as XML, for `Accept: application/xml` (xml.ts `prefersXml`). */
  readonly xml?: (req: FastifyRequest) => Promise<string>;
}
