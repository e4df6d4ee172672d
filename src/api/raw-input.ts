/**
 * Checks on a call's input before any schema or transformer walks it: those walk recursively, so input nested
 * thousands of levels deep would overflow the stack, and PostgreSQL cannot store a NUL character in text or JSONB.
 */

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
 * The path of the first string or object key holding a NUL character, or undefined. Walks with its own stack, so
 * no input can overflow it.
 */
export function pathOfNul(input: unknown): PropertyKey[] | undefined {
  const pending: { value: unknown; path: PropertyKey[] }[] = [{ value: input, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, path: [...path, index] }));
    } else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\u0000')) return [...path, key];
        pending.push({ value: item, path: [...path, key] });
      }
    }
  }
  return undefined;
}
