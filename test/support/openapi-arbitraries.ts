import fc from 'fast-check';
import type { OpenAPIObject } from 'trpc-to-openapi';

/*
 * Requests generated from an OpenAPI document: values that fit each operation's parameter and body schemas, and
 * the same requests broken one way at a time, as a client that misreads the document would send them.
 */

type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
};

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

/** A request to one operation as it goes on the wire, before the server's prefix. */
export interface GeneratedRequest {
  /** The path with its parameters filled in and encoded. */
  path: string;
  query: [string, string][];
  /** The body's text, or undefined for none. */
  body: string | undefined;
  contentType: string | undefined;
  /** What was broken, or undefined for a request that fits the document. */
  broken: string | undefined;
}

/** Known values to draw from, by property or parameter name, so generated requests find rows as well as miss them. */
export type Pools = Record<string, readonly unknown[]>;

/** Values that stand in for a property's or parameter's schema, by name: a claim that waits less than its limit. */
export type Overrides = Record<string, fc.Arbitrary<unknown>>;

/** How deep a recursive schema (a JSON value) is followed before only its leaves are generated. */
const maxDepth = 3;

/** Values no schema of a well-kept API takes as they are, or only at its limits. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 0, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308),
  fc.constantFrom(
    '',
    ' ',
    '   ',
    '\u0000',
    'nul\u0000byte',
    "'; DROP TABLE channels; --",
    '%_\\',
    'not-a-uuid',
  ),
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff'),
  fc.constantFrom(
    'ftp://example.com/',
    'javascript:alert(1)',
    'HTTP://EXAMPLE.COM/',
    ' https://example.com/',
  ),
  fc.constantFrom('2020-02-30T00:00:00Z', '2020-01-01', '+275760-09-13T00:00:01Z', 'yesterday'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('x'.repeat(2_049), '🎬'.repeat(1_001)),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** Text a path or query parameter might carry instead of what its schema wants; short enough for one URL. */
const nastyText: fc.Arbitrary<string> = fc.oneof(
  nasty.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))),
  fc.constantFrom('a'.repeat(5_001), '%', '..', '?', '#', 'true', '-1', '1e3'),
);

const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

export class RequestArbitraries {
  constructor(
    private readonly document: OpenAPIObject,
    private readonly pools: Pools = {},
    private readonly overrides: Overrides = {},
  ) {}

  private operation(method: string, template: string): Operation {
    const operation = (this.document.paths as Record<string, Record<string, Operation>>)[template]?.[method];
    if (!operation) throw new Error(`no operation ${method} ${template}`);
    return operation;
  }

  private resolve(schema: Schema): Schema {
    let resolved = schema;
    while (resolved.$ref) {
      const path = resolved.$ref.replace(/^#\//, '').split('/');
      resolved = path.reduce<unknown>(
        (node, key) => (node as Record<string, unknown>)[key.replace(/~1/g, '/').replace(/~0/g, '~')],
        this.document,
      ) as Schema;
    }
    return resolved;
  }

  /** Values that fit the schema: drawn from the pools where its name has one, otherwise built from its keywords. */
  value(schema: Schema, name?: string, depth = 0): fc.Arbitrary<unknown> {
    const override = name === undefined ? undefined : this.overrides[name];
    if (override) return override;
    const pool = name === undefined ? undefined : this.pools[name];
    const built = this.build(this.resolve(schema), depth);
    if (!pool?.length) return built;
    return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: built });
  }

  private build(schema: Schema, depth: number): fc.Arbitrary<unknown> {
    if ('const' in schema) return fc.constant(schema.const);
    if (schema.enum) return fc.constantFrom(...schema.enum);
    const branches = schema.anyOf ?? (schema.type === undefined ? schema.oneOf : undefined);
    if (branches) {
      // Past the depth, only branches that do not nest: a JSON value ends in a string, a number, and so on.
      const usable =
        depth < maxDepth
          ? branches
          : branches.filter((branch) => !['array', 'object'].includes(String(branch.type)));
      return fc.oneof(...usable.map((branch) => this.value(branch, undefined, depth + 1)));
    }
    if (Array.isArray(schema.type))
      return fc.oneof(...schema.type.map((type) => this.build({ ...schema, type }, depth)));
    switch (schema.type) {
      case 'string':
        return this.string(schema);
      case 'integer':
        return fc.integer({
          min: Math.max(schema.minimum ?? -1_000_000, Number.MIN_SAFE_INTEGER),
          max: Math.min(schema.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER),
        });
      case 'number':
        return fc.double({
          min: schema.minimum ?? -1e9,
          max: schema.maximum ?? 1e9,
          noNaN: true,
          noDefaultInfinity: true,
        });
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        const minLength = schema.minItems ?? 0;
        return fc.array(this.value(schema.items ?? {}, undefined, depth + 1), {
          minLength,
          maxLength: Math.min(schema.maxItems ?? 3, Math.max(minLength, 3)),
        });
      }
      case 'object':
        return this.object(schema, depth);
      default:
        return fc.jsonValue({ maxDepth: 1 });
    }
  }

  private string(schema: Schema): fc.Arbitrary<string> {
    const fitting = (value: string) =>
      value.length >= (schema.minLength ?? 0) &&
      value.length <= (schema.maxLength ?? Infinity) &&
      (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value));
    switch (schema.format) {
      case 'uuid':
        return fc.uuid().filter(fitting);
      case 'date-time':
        // Moments of the data's own past, fixed so a seed replays: the time rules stated in words (not before
        // YouTube, not in the future) hold for them.
        return fc
          .date({
            min: new Date('2006-01-01T00:00:00Z'),
            max: new Date('2024-12-31T23:59:59Z'),
            noInvalidDate: true,
          })
          .map((date) => date.toISOString());
      case 'uri':
        return fc.webUrl({ validSchemes: ['http', 'https'] }).filter(fitting);
      default:
        break;
    }
    const maxLength = Math.min(schema.maxLength ?? 24, 24);
    const base =
      schema.pattern === undefined
        ? fc.string({ minLength: Math.min(schema.minLength ?? 0, maxLength), maxLength })
        : fc.stringMatching(new RegExp(schema.pattern, 'u'), { size: 'xsmall' });
    return base.filter(fitting);
  }

  private object(schema: Schema, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const branches = schema.oneOf ?? [{}];
    return fc.constantFrom(...branches).chain((branch) => {
      const properties = { ...schema.properties };
      for (const [key, narrowed] of Object.entries(branch.properties ?? {}))
        properties[key] = { ...properties[key], ...narrowed };
      const required = [...(schema.required ?? []), ...(branch.required ?? [])];
      const known = fc.record(
        Object.fromEntries(
          Object.entries(properties).map(([key, property]) => [key, this.value(property, key, depth + 1)]),
        ),
        { requiredKeys: required.filter((key) => key in properties) },
      );
      const extra = schema.additionalProperties;
      if (typeof extra !== 'object') return known;
      const rest = fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }),
        this.value(extra, undefined, depth + 1),
        {
          maxKeys: 3,
        },
      );
      return fc.tuple(rest, known).map(([more, named]) => ({ ...more, ...named }));
    });
  }

  /** Requests that fit an operation's document: path and query parameters, and its JSON body. */
  fitting(method: string, template: string): fc.Arbitrary<GeneratedRequest> {
    const operation = this.operation(method, template);
    const parameters = operation.parameters ?? [];
    const values = fc.record(
      Object.fromEntries(
        parameters.map((parameter) => [parameter.name, this.value(parameter.schema, parameter.name)]),
      ),
      {
        requiredKeys: parameters.filter((parameter) => parameter.required).map((parameter) => parameter.name),
      },
    );
    const bodySchema = operation.requestBody?.content['application/json']?.schema;
    const body = bodySchema
      ? this.value(bodySchema).map((value) => JSON.stringify(value))
      : fc.constant(undefined);
    return fc.tuple(values, body).map(([params, bodyText]) => ({
      ...this.wire(template, parameters, params),
      body: bodyText,
      contentType: bodyText === undefined ? undefined : 'application/json',
      broken: undefined,
    }));
  }

  /** Requests that fit the document but for one thing: a value, a missing or unknown field, the body or its type. */
  broken(method: string, template: string): fc.Arbitrary<GeneratedRequest> {
    const parameters = this.operation(method, template).parameters ?? [];
    return fc
      .tuple(this.fitting(method, template), fc.nat(), fc.nat(), nasty, nastyText)
      .map(([request, which, pick, value, raw]) => {
        // Each way of breaking the request, built only when chosen: one of them is a body of five megabytes.
        const breakings: (() => GeneratedRequest)[] = [
          () => ({
            ...request,
            query: [...request.query, ['unknownParameter', raw]],
            broken: 'unknown parameter',
          }),
        ];
        if (parameters.length > 0)
          breakings.push(() =>
            this.withParameter(template, request, parameters[pick % parameters.length]!, raw),
          );
        if (request.body !== undefined) {
          const body = JSON.parse(request.body) as Record<string, unknown>;
          const key = Object.keys(body)[pick % Math.max(Object.keys(body).length, 1)];
          const bodyWith = (changed: unknown, broken: string) => () => ({
            ...request,
            body: JSON.stringify(changed),
            broken,
          });
          if (key !== undefined) {
            const { [key]: _left, ...rest } = body;
            breakings.push(
              bodyWith({ ...body, [key]: value }, `body.${key} replaced`),
              bodyWith(rest, `body.${key} left out`),
            );
          }
          const contentType = ['text/plain', 'application/xml', 'application/x-www-form-urlencoded'][
            pick % 3
          ]!;
          breakings.push(
            bodyWith({ ...body, unknownProperty: value }, 'unknown property'),
            bodyWith(value, 'body not an object'),
            () => ({ ...request, body: `${request.body!.slice(0, -1)},`, broken: 'malformed JSON' }),
            () => ({ ...request, contentType, broken: `content type ${contentType}` }),
            () => ({
              ...request,
              body: `{"padding":"${'x'.repeat(5 * 1024 * 1024)}"}`,
              broken: 'body too large',
            }),
          );
        } else if (method !== 'get') {
          breakings.push(() => ({
            ...request,
            body: 'stray',
            contentType: 'text/plain',
            broken: 'stray body',
          }));
        }
        return breakings[which % breakings.length]!();
      });
  }

  private withParameter(
    template: string,
    request: GeneratedRequest,
    parameter: Parameter,
    raw: string,
  ): GeneratedRequest {
    if (parameter.in === 'query') {
      const query = request.query.filter(([key]) => key !== parameter.name);
      return { ...request, query: [...query, [parameter.name, raw]], broken: `query ${parameter.name}` };
    }
    // The same path with this one parameter replaced: the others keep the values they were given.
    const segments = template.split('/');
    const filled = request.path.split('/');
    const index = segments.indexOf(`{${parameter.name}}`);
    filled[index] = encodeURIComponent(raw) || '%20';
    return { ...request, path: filled.join('/'), broken: `path ${parameter.name}` };
  }

  private wire(template: string, parameters: Parameter[], values: Record<string, unknown>) {
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(text(values[name])));
    const query: [string, string][] = [];
    for (const parameter of parameters) {
      const value = values[parameter.name];
      if (parameter.in !== 'query' || value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) query.push([parameter.name, text(item)]);
    }
    return { path, query };
  }
}
