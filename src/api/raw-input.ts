import { InvalidInputError } from '../services/errors';

/**
 * Checks on a call's input as `JSON.parse` left it, before any schema or transformer walks it: those walk
 * recursively, so input nested thousands of levels deep would overflow the stack, PostgreSQL cannot store a NUL
 * character in text or JSONB, and a `__proto__` key means something else to JavaScript than to JSON.
 */

/** Largest request body accepted: room for a 1,000,000-character transcript in multi-byte UTF-8. */
export const bodyLimitBytes = 5 * 1024 * 1024;

/** Deeper than any input of ours needs (a metadata object inside a batch item is about six levels). */
export const maxJsonDepth = 100;

export const tooDeepMessage = `the JSON is nested more than ${maxJsonDepth} levels deep`;

/** Rejects input that opens more than `maxJsonDepth` objects or arrays at once; walks with its own stack. */
export function rejectTooDeep(input: unknown): void {
  const pending: { value: unknown; depth: number }[] = [{ value: input, depth: 0 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (value === null || typeof value !== 'object' || value instanceof Date) continue;
    if (depth + 1 > maxJsonDepth) throw new InvalidInputError(tooDeepMessage);
    for (const item of Object.values(value)) pending.push({ value: item, depth: depth + 1 });
  }
}

/**
 * The path of the first object key, or string too with `values`, that `faulty` picks; undefined when none does.
 * Walks with its own stack, so no input can overflow it.
 */
function pathWhere(
  input: unknown,
  faulty: (text: string) => boolean,
  values: boolean,
): PropertyKey[] | undefined {
  const pending: { value: unknown; path: PropertyKey[] }[] = [{ value: input, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      if (values && faulty(value)) return path;
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, path: [...path, index] }));
    } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const [key, item] of Object.entries(value)) {
        if (faulty(key)) return [...path, key];
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
}

const dotted = (path: PropertyKey[]) => path.map(String).join('.') || 'input';

/** PostgreSQL stores no NUL character in text or JSONB: a string or key holding one is rejected, naming it. */
export function rejectNul(input: unknown): void {
  const path = pathWhere(input, (text) => text.includes('\u0000'), true);
  if (path) throw new InvalidInputError(`${dotted(path)}: must not contain a NUL character`, dotted(path));
}

/** Keys that name an object's prototype machinery rather than data. */
const reservedKeys = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * `JSON.parse` keeps a key named `__proto__` as a plain key, and assigning it replaces an object's prototype;
 * superjson, in which the typed client writes its inputs, refuses to write any of the three reserved keys, so a row
 * holding one could not be updated over tRPC. Each is rejected wherever it appears, naming it, on both transports alike.
 */
export function rejectReservedKeys(input: unknown): void {
  let key = '';
  const path = pathWhere(input, (name) => reservedKeys.has(name) && Boolean((key = name)), false);
  if (path) throw new InvalidInputError(`${dotted(path)}: \`${key}\` is not an accepted key`, dotted(path));
}
