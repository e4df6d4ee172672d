import { TRPCError } from '@trpc/server';
import type { z } from 'zod';
import { schemaNode } from './library-internals';
import { Answer, escapeKey } from './transformer';

/*
 * Writes an answer's JSON text straight from what a service returned, checking it against the procedure's answer
 * schema as it goes: one walk where there were four (a copy into plain objects, zod's check, which copies again,
 * the walk that finds the dates superjson marks, and `JSON.stringify`). It checks each value's kind (string,
 * number, boolean, date, null, an enum's or literal's values), which properties must be there, and, where a string
 * or number has rules of its own (a format, a length, a range), those rules through zod. It writes only the
 * properties the schema names, in the schema's order, as zod's parse would leave them; a property the schema does
 * not name is left out, where zod's strict objects refuse the whole answer.
 */

/** A value the writer will not write: zod decides instead (and answers 500 if zod refuses it too). */
export class NotWritten extends Error {}

/** The JSON text of an answer, and the superjson paths of the dates in it. */
export interface WrittenAnswer {
  text: string;
  dates: string[];
}

type Write = (value: unknown, path: string | undefined, dates: string[]) => string;

interface Writer {
  write: Write;
  /** Whether a missing property is left out rather than refused. */
  optional: boolean;
}

const refuse = (): never => {
  throw new NotWritten();
};

/** What an object schema reads properties of: any object but an array, as zod's (so a model instance too). */
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** What a record or a JSON object is: a plain object, as zod's record and JSON schemas take. */
const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (!isObject(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

const childPath = (path: string | undefined, key: string) => (path === undefined ? key : `${path}.${key}`);

const leaf = (accepts: (value: unknown) => boolean, text: (value: never) => string): Writer => ({
  optional: false,
  write: (value) => (accepts(value) ? text(value as never) : refuse()),
});

const isFiniteNumber = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0);

/** JSON values of unknown shape (`z.json()`, `z.unknown()`): plain JSON only, no dates or undefined inside. */
const writeJson: Write = (value) => {
  if (!isPlainJson(value)) refuse();
  return JSON.stringify(value);
};

function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return isFiniteNumber(value);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      if (!(index in value) || !isPlainJson(value[index])) return false;
    }
    return true;
  }
  if (!isPlainObject(value)) return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key) || !isPlainJson(value[key])) return false;
  }
  return true;
}

const jsonKinds: ReadonlySet<string> = new Set(['string', 'number', 'boolean', 'null', 'array', 'record']);
const compiled = new WeakMap<z.core.$ZodType, Writer>();

function writerOf(schema: z.core.$ZodType): Writer {
  const known = compiled.get(schema);
  if (known) return known;
  // Filled in place once built, so a schema that refers to itself (through `lazy`) finds its own writer.
  const writer: Writer = { optional: false, write: refuse };
  compiled.set(schema, writer);
  Object.assign(writer, build(schema));
  return writer;
}

function build(schema: z.core.$ZodType): Writer {
  const node = schemaNode(schema);
  switch (node.kind) {
    case 'string':
      return leaf((value) => typeof value === 'string' && held(schema, node.checked, value), JSON.stringify);
    case 'number':
      return leaf((value) => isFiniteNumber(value) && held(schema, node.checked, value), String);
    case 'boolean':
      return leaf((value) => typeof value === 'boolean', String);
    case 'null':
      return leaf(
        (value) => value === null,
        () => 'null',
      );
    case 'values': {
      const values = new Set(node.values);
      return leaf(
        (value) => values.has(value) && (value === null || typeof value !== 'object'),
        JSON.stringify,
      );
    }
    case 'date': {
      const accepts = (value: unknown) =>
        value instanceof Date &&
        Object.getPrototypeOf(value) === Date.prototype &&
        !Number.isNaN(value.getTime());
      return {
        optional: false,
        write: (value, path, dates) => {
          if (!accepts(value) || path === undefined) return refuse();
          dates.push(path);
          return `"${(value as Date).toISOString()}"`;
        },
      };
    }
    case 'nullable': {
      const of = writerOf(node.inner());
      return {
        optional: of.optional,
        write: (value, path, dates) => (value === null ? 'null' : of.write(value, path, dates)),
      };
    }
    case 'optional': {
      const of = writerOf(node.inner());
      return { optional: true, write: (...args) => of.write(...args) };
    }
    case 'nonoptional': {
      const of = writerOf(node.inner());
      return { optional: false, write: (...args) => of.write(...args) };
    }
    case 'same':
      return writerOf(node.inner());
    case 'array': {
      const item = writerOf(node.element);
      return {
        optional: false,
        write: (value, path, dates) => {
          if (!Array.isArray(value)) return refuse();
          let text = '[';
          for (let index = 0; index < value.length; index += 1) {
            if (!(index in value) || value[index] === undefined) refuse();
            if (index > 0) text += ',';
            text += item.write(value[index], childPath(path, String(index)), dates);
          }
          return `${text}]`;
        },
      };
    }
    case 'object':
      return objectWriter(node.shape, node.catchall);
    case 'record': {
      const item = writerOf(node.value);
      return {
        optional: false,
        write: (value, path, dates) => {
          if (!isPlainObject(value)) return refuse();
          const fields: string[] = [];
          for (const key of Object.keys(value)) {
            if (value[key] === undefined) refuse();
            fields.push(
              `${JSON.stringify(key)}:${item.write(value[key], childPath(path, escapeKey(key)), dates)}`,
            );
          }
          return `{${fields.join(',')}}`;
        },
      };
    }
    case 'union': {
      // `z.json()`: any JSON value, written as JSON writes it once it holds nothing else.
      const kinds = new Set<string>(node.options.map((option) => schemaNode(option).kind));
      if (kinds.size === jsonKinds.size && [...jsonKinds].every((kind) => kinds.has(kind)))
        return { optional: false, write: writeJson };
      return unionWriter(node.options);
    }
    case 'unknown':
      return { optional: true, write: writeJson };
    default:
      return { optional: false, write: refuse };
  }
}

/** A string's or number's own rules (a format, a length, a range), held by zod itself where it has any. */
const held = (schema: z.core.$ZodType, checked: boolean, value: unknown) =>
  !checked || (schema as z.ZodType).safeParse(value).success;

function objectWriter(shape: Record<string, z.core.$ZodType>, catchall: z.core.$ZodType | undefined): Writer {
  const fields = Object.entries(shape).map(([key, field]) => ({
    key,
    name: JSON.stringify(key),
    segment: escapeKey(key),
    writer: writerOf(field),
  }));
  const known = new Set(fields.map((field) => field.key));
  // Keys the shape does not name are left out, unless the object takes any key (a JSON column with known keys).
  const rest = catchall ? writerOf(catchall) : undefined;
  return {
    optional: false,
    write: (value, path, dates) => {
      if (!isObject(value)) return refuse();
      let text = '';
      for (const field of fields) {
        const item = value[field.key];
        if (item === undefined) {
          if (field.writer.optional) continue;
          refuse();
        }
        text += `${text ? ',' : ''}${field.name}:${field.writer.write(item, childPath(path, field.segment), dates)}`;
      }
      if (rest) {
        for (const key of Object.keys(value)) {
          if (known.has(key) || value[key] === undefined) continue;
          text += `${text ? ',' : ''}${JSON.stringify(key)}:${rest.write(value[key], childPath(path, escapeKey(key)), dates)}`;
        }
      }
      return `{${text}}`;
    },
  };
}

/** The first member that writes the value, as zod takes the first member that parses it. */
function unionWriter(options: readonly z.core.$ZodType[]): Writer {
  const members = options.map(writerOf);
  return {
    optional: members.some((member) => member.optional),
    write: (value, path, dates) => {
      const mark = dates.length;
      for (const member of members.slice(0, -1)) {
        try {
          return member.write(value, path, dates);
        } catch (error) {
          if (!(error instanceof NotWritten)) throw error;
          dates.length = mark;
        }
      }
      return members.at(-1)!.write(value, path, dates);
    },
  };
}

/**
 * The writer of a procedure's answer schema: the JSON text of a value it fits, or NotWritten for anything else
 * (a value of another kind, a missing property, something JSON does not carry as it is).
 */
export function compileAnswer(schema: z.core.$ZodType): (value: unknown) => WrittenAnswer {
  const root = writerOf(schema);
  return (value) => {
    if (value === undefined) refuse();
    const dates: string[] = [];
    const text = root.write(value, undefined, dates);
    return { text, dates };
  };
}

type CheckResult = { ok: true; data: unknown } | { ok: false };

/**
 * What stands in for tRPC's output check on each procedure (see `library-internals.ts`): the answer is written by
 * the compiled writer, which checks it on the way. What the writer will not write goes to zod, as tRPC's check
 * would: refused there too, it is a 500 "Output validation failed"; accepted, it is answered as zod leaves it.
 */
export function answerCheck(schema: z.ZodType) {
  const write = compileAnswer(schema);
  return async <R extends CheckResult>({ next }: { next: () => Promise<R> }): Promise<R> => {
    const result = await next();
    if (!result.ok) return result;
    try {
      const { text, dates } = write(result.data);
      return { ...result, data: new Answer(text, dates) };
    } catch (error) {
      if (!(error instanceof NotWritten)) throw error;
    }
    const parsed = await schema.safeParseAsync(result.data);
    if (!parsed.success)
      throw new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'Output validation failed',
        cause: parsed.error,
      });
    return { ...result, data: parsed.data };
  };
}
