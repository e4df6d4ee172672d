import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import type { OpenAPIObject } from 'trpc-to-openapi';

/** A REST response as a client sees it: the operation it responds to, its status, headers and parsed JSON body. */
export interface RestResponse {
  method: string;
  /** The operation's path as the document writes it, without the server's prefix: `/channels/{id}`. */
  path: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON body, or undefined when there was none. */
  body: unknown;
}

interface HeaderSpec {
  required?: boolean;
  schema?: Record<string, unknown>;
}

interface ResponseSpec {
  $ref?: string;
  description?: string;
  headers?: Record<string, HeaderSpec>;
  content?: Record<string, { schema?: unknown }>;
}

type Operations = Record<string, Record<string, { responses?: Record<string, ResponseSpec> }>>;

/** A JSON pointer segment (RFC 6901) inside a URI fragment. */
const pointer = (segments: string[]) =>
  segments.map((segment) => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/**
 * Holds REST responses to an OpenAPI 3.1 document: a status the operation does not document, a body that does not
 * fit the documented schema (JSON Schema 2020-12, formats included), another content type, or a documented
 * header missing or malformed is a mismatch. Schemas are compiled once per response and kept.
 */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: { method: string; template: string; pattern: RegExp }[];

  constructor(private readonly document: OpenAPIObject) {
    addFormats(this.ajv);
    // The document is registered whole under an id, so its own `#/components/...` references resolve in it; its
    // top-level fields are OpenAPI's, not schema keywords, and are only walked through.
    this.ajv.addVocabulary(Object.keys(document));
    this.ajv.addSchema(document as object, 'openapi.json');
    const paths = Object.entries(document.paths as Operations);
    this.templates = paths
      .flatMap(([template, item]) =>
        Object.keys(item).map((method) => ({
          method: method.toUpperCase(),
          template,
          pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
          parameters: (template.match(/\{/g) ?? []).length,
        })),
      )
      // A literal segment wins over a parameter (`/jobs/claim` before `/jobs/{id}`), as the router decides.
      .sort((a, b) => a.parameters - b.parameters);
  }

  /** The operation's path template a request's path (under the server's prefix, query string or not) falls under. */
  templateOf(method: string, url: string): string | undefined {
    const prefix = this.document.servers?.[0]?.url ?? '';
    const path = url.split('?')[0]!;
    if (!path.startsWith(`${prefix}/`)) return undefined;
    const relative = path.slice(prefix.length);
    return this.templates.find(
      (candidate) => candidate.method === method.toUpperCase() && candidate.pattern.test(relative),
    )?.template;
  }

  /** What in the response the document does not describe; empty when it describes all of it. */
  mismatches(response: RestResponse): string[] {
    const method = response.method.toLowerCase();
    const where = `${response.method.toUpperCase()} ${response.path} ${response.status}`;
    const operation = (this.document.paths as Operations)[response.path]?.[method];
    if (!operation) return [`${where}: no such operation in the document`];
    const { spec, pointer: at } = this.responseSpec(
      response.path,
      method,
      operation.responses ?? {},
      response.status,
    );
    if (!spec) return [`${where}: the operation documents no ${response.status} response`];

    const found: string[] = [];
    for (const [name, header] of Object.entries(spec.headers ?? {})) {
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) {
        if (header.required) found.push(`${where}: header ${name} is missing`);
        continue;
      }
      if (header.schema && !this.ajv.validate(header.schema, headerValue(String(value), header.schema)))
        found.push(`${where}: header ${name} ${JSON.stringify(value)} ${this.ajv.errorsText()}`);
    }

    const content = spec.content ?? {};
    const mediaType = String(response.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (Object.keys(content).length === 0) return found;
    if (!(mediaType in content)) {
      found.push(
        `${where}: content type ${mediaType || '(none)'} is not one of ${Object.keys(content).join(', ')}`,
      );
      return found;
    }
    const validate = this.validator(`${at}/content/${pointer([mediaType])}/schema`);
    if (!validate(response.body)) {
      const errors = (validate.errors ?? [])
        .slice(0, 5)
        .map((error) => `${error.instancePath || '(body)'} ${error.message ?? ''}`);
      found.push(`${where}: body does not fit the schema: ${errors.join('; ')}`);
    }
    return found;
  }

  /** The response object for a status, references followed, and where its schema lives. */
  private responseSpec(
    path: string,
    method: string,
    responses: Record<string, ResponseSpec>,
    status: number,
  ): { spec: ResponseSpec | undefined; pointer: string } {
    const key = String(status);
    const spec = responses[key];
    if (spec?.$ref) {
      const name = spec.$ref.replace('#/components/responses/', '');
      return {
        spec: this.document.components?.responses?.[name] as ResponseSpec | undefined,
        pointer: `#/${pointer(['components', 'responses', name])}`,
      };
    }
    return { spec, pointer: `#/${pointer(['paths', path, method, 'responses', key])}` };
  }

  private validator(at: string): ValidateFunction {
    let validate = this.compiled.get(at);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi.json${at}` });
      this.compiled.set(at, validate);
    }
    return validate;
  }
}

/** A header's text as its schema types it: digits as a number where an integer is wanted. */
function headerValue(text: string, schema: Record<string, unknown>): unknown {
  return schema.type === 'integer' && /^\d+$/.test(text) ? Number(text) : text;
}

/**
 * Holds every response an app sends under `prefix` to the document, as tests run: the mismatches are collected in
 * the array returned, for the caller to assert there are none. The validator is asked for at the first such
 * response, so an app that serves none pays nothing for it.
 */
export function watchResponses(
  app: FastifyInstance,
  prefix: string,
  validator: () => OpenApiValidator,
): string[] {
  const found: string[] = [];
  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.url.startsWith(`${prefix}/`)) return payload;
    const template = validator().templateOf(request.method, request.url);
    if (template === undefined) return payload;
    let body: unknown;
    try {
      body = typeof payload === 'string' ? JSON.parse(payload) : undefined;
    } catch {
      body = payload;
    }
    const headers = reply.getHeaders() as Record<string, string | string[] | undefined>;
    found.push(
      ...validator().mismatches({
        method: request.method,
        path: template,
        status: reply.statusCode,
        headers,
        body,
      }),
    );
    return payload;
  });
  return found;
}
