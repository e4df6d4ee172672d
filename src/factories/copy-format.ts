/** Rows in PostgreSQL's COPY text format: tab-separated, `\N` for NULL, backslash escapes. */

const escapes: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escapeText = (text: string) => text.replace(/[\\\n\r\t]/g, (c) => escapes[c]!);

/** A text[] literal: every element quoted, quotes and backslashes escaped inside. */
const arrayLiteral = (items: readonly unknown[]) =>
  `{${items.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;

function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return escapeText(arrayLiteral(value));
  if (typeof value === 'object') return escapeText(JSON.stringify(value));
  return escapeText(String(value));
}

export function copyLine(values: readonly unknown[]): string {
  return `${values.map(field).join('\t')}\n`;
}
