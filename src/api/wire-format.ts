import type { TRPCCombinedDataTransformer } from '@trpc/server';
import superjson from 'superjson';

/** Where a response holds a date: the keys and array indexes from its root. */
type DatePath = (string | number)[];

/** A response on the wire: its JSON (dates as ISO strings, by `Date.prototype.toJSON`) and where its dates were. */
export interface WireOutput {
  json: unknown;
  dates?: DatePath[];
}

function datePaths(value: unknown): DatePath[] {
  const paths: DatePath[] = [];
  const path: DatePath = [];
  const visit = (key: string | number, child: unknown) => {
    if (child === null || typeof child !== 'object') return;
    path.push(key);
    walk(child);
    path.pop();
  };
  const walk = (node: object) => {
    if (node instanceof Date) paths.push([...path]);
    else if (Array.isArray(node)) node.forEach((child, index) => visit(index, child));
    else for (const [key, child] of Object.entries(node)) visit(key, child);
  };
  if (value !== null && typeof value === 'object') walk(value);
  return paths;
}

const isPath = (path: unknown): path is DatePath =>
  Array.isArray(path) && path.every((key) => typeof key === 'string' || typeof key === 'number');

/** Turns each path's ISO string back into a date, following own properties only; a malformed path is skipped. */
function reviveDates(json: unknown, listed: unknown[]): unknown {
  const paths = listed.filter(isPath);
  if (paths.some((path) => path.length === 0)) return typeof json === 'string' ? new Date(json) : json;
  for (const path of paths) {
    let node: unknown = json;
    for (const key of path.slice(0, -1)) {
      node =
        node !== null && typeof node === 'object' && Object.hasOwn(node, key)
          ? (node as never)[key]
          : undefined;
    }
    const last = path.at(-1)!;
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, last)) continue;
    const holder = node as Record<string | number, unknown>;
    if (typeof holder[last] === 'string') holder[last] = new Date(holder[last]);
  }
  return json;
}

/**
 * Responses hold only what their zod output schemas let through: JSON values and dates. superjson walks and copies
 * every value of a response to find what JSON cannot carry, about four times the cost of `JSON.stringify` itself
 * for a page of 50 videos (BENCHMARKS.md); here a walk that copies nothing records where the dates are, JSON writes
 * them as ISO strings, and the client turns those back into dates. Inputs keep superjson: the server checks them as
 * superjson reads them (`src/api/trpc.ts`).
 */
export const responseDates = {
  serialize: (value: unknown): WireOutput => {
    const dates = datePaths(value);
    return dates.length > 0 ? { json: value, dates } : { json: value };
  },
  deserialize: (payload: unknown): unknown => {
    const { json, dates } = (payload ?? {}) as Partial<WireOutput>;
    return Array.isArray(dates) ? reviveDates(json, dates) : json;
  },
};

/** The client's side of the wire: superjson for what it sends, dates revived in what it receives. */
export const clientTransformer: TRPCCombinedDataTransformer = {
  input: superjson,
  output: responseDates,
};
