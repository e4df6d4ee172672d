/** Rows in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash escapes. */

const escapes: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const special = /[\\\n\r\t]/;

// Most values hold nothing to escape, and a test is much cheaper than a replace that finds nothing.
const escapeText = (text: string) =>
  special.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => escapes[c]!) : text;

/** A text[] literal: every element quoted, quotes and backslashes escaped inside. */
const arrayLiteral = (items: readonly unknown[]) =>
  `{${items.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return escapeText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return escapeText(arrayLiteral(value));
  if (typeof value === 'object') return escapeText(JSON.stringify(value));
  return escapeText(String(value));
}

export function copyLine(values: readonly unknown[]): string {
  let line = field(values[0]);
  for (let index = 1; index < values.length; index += 1) line += `\t${field(values[index])}`;
  return `${line}\n`;
}
