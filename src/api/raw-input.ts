import { InvalidInputError } from '../services/errors';

/**
 * Checks on a call's input before any schema or transformer walks it: those walk recursively, so input nested
 * thousands of levels deep would overflow the stack, PostgreSQL cannot store a NUL character in text or JSONB, and
 * a `__proto__` key means something else to JavaScript than to JSON.
 */

/** Largest request body accepted: room for a 1,000,000-character transcript in multi-byte UTF-8. */
export const bodyLimitBytes = 5 * 1024 * 1024;

/** Deeper than any input of ours needs (a metadata object inside a batch item is about six levels). */
export const maxJsonDepth = 100;

/** Whether JSON text opens more than `maxJsonDepth` objects or arrays at once; one pass, brackets in strings skipped. */
export function jsonTooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index += 1;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      depth += 1;
      if (depth > maxJsonDepth) return true;
    } else if (char === 0x7d || char === 0x5d) depth -= 1;
  }
  return false;
}

export const tooDeepMessage = `the JSON is nested more than ${maxJsonDepth} levels deep`;

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

/**
 * `JSON.parse` keeps a key named `__proto__` as a plain key, superjson drops it, and assigning it replaces an
 * object's prototype: rejected wherever it appears, naming it, on both transports alike.
 */
export function rejectProtoKey(input: unknown): void {
  const path = pathWhere(input, (key) => key === '__proto__', false);
  if (path)
    throw new InvalidInputError(`${dotted(path)}: \`__proto__\` is not an accepted key`, dotted(path));
}
