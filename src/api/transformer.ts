import superjson, { type SuperJSONResult } from 'superjson';

type Annotation = ['Date'] | ['undefined'];

/** What a subtree the fast serializer does not take is replaced by: the whole answer goes to superjson instead. */
const notPlain = Symbol('not plain');

/** superjson's escaping of a key inside an annotation path. */
const escapeKey = (key: string) =>
  key.includes('.') || key.includes('\\') ? key.replace(/\\/g, '\\\\').replace(/\./g, '\\.') : key;

const reservedKeys = new Set(['__proto__', 'constructor', 'prototype']);

const isPlainObject = (value: object) => {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

class PlainWalk {
  readonly values: Record<string, Annotation> = {};
  private readonly seen = new Set<object>();
  /** The annotation path of the value being walked, as superjson writes it; undefined at the root. */
  private path: string | undefined;

  private annotate(annotation: Annotation): void {
    this.values[this.path ?? ''] = annotation;
  }

  private child(key: string, value: unknown): unknown {
    const parent = this.path;
    this.path = parent === undefined ? escapeKey(key) : `${parent}.${escapeKey(key)}`;
    const json = this.walk(value);
    this.path = parent;
    return json;
  }

  walk(value: unknown): unknown {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0) ? value : notPlain;
    if (value === undefined) {
      this.annotate(['undefined']);
      return null;
    }
    if (typeof value !== 'object' || this.seen.has(value)) return notPlain;
    this.seen.add(value);
    if (Object.getPrototypeOf(value) === Date.prototype) {
      if (Number.isNaN((value as Date).getTime())) return notPlain;
      this.annotate(['Date']);
      return (value as Date).toISOString();
    }
    if (Array.isArray(value)) {
      const json: unknown[] = [];
      for (let index = 0; index < value.length; index += 1) {
        if (!(index in value)) return notPlain;
        const item = this.child(String(index), value[index]);
        if (item === notPlain) return notPlain;
        json.push(item);
      }
      return json;
    }
    if (!isPlainObject(value)) return notPlain;
    const json: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      if (reservedKeys.has(key)) return notPlain;
      const item = this.child(key, (value as Record<string, unknown>)[key]);
      if (item === notPlain) return notPlain;
      json[key] = item;
    }
    return json;
  }
}

/**
 * superjson's `serialize`, with the same output (annotations may come in another order), for what the API
 * answers: trees of plain objects, arrays, JSON values, dates and undefined, no object twice. It writes those in a
 * single pass where superjson's general walk costs about five times `JSON.stringify` (1.5 ms for a page of 50
 * videos); anything else, such as a repeated object, a Map or a non-finite number, goes to superjson itself.
 */
export function serializeAnswer(value: unknown): SuperJSONResult {
  const walk = new PlainWalk();
  const json = walk.walk(value);
  if (json === notPlain || value === undefined || value instanceof Date) return superjson.serialize(value);
  const annotations = Object.keys(walk.values).length > 0;
  return (annotations ? { json, meta: { values: walk.values, v: 1 } } : { json }) as SuperJSONResult;
}

/**
 * superjson both ways, so any superjson client reads the answers; answers are written by `serializeAnswer`, which
 * writes what superjson would, faster.
 */
export const transformer = {
  input: superjson,
  output: { serialize: serializeAnswer, deserialize: superjson.deserialize.bind(superjson) },
};
