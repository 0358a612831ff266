// Filters from grid cells: click adds `field:value`, Ctrl+click adds `NOT field:value`.

/** A value as the query language reads it: bare when it is a plain word, else double-quoted;
 * a `*` is escaped (it would be a wildcard), as are `"` and `\\` inside quotes. */
export function quoteValue(value: string): string {
  const plain = /^[A-Za-z0-9_./:@%=&?,+-]+$/.test(value) && !/^(AND|OR|NOT|TO)$/.test(value) && !/^[-]/.test(value);
  if (plain) return value;
  return `"${value.replace(/[\\"*]/g, (c) => `\\${c}`)}"`;
}

/** The term for one cell. */
export function term(field: string, value: string, exclude: boolean): string {
  const base = `${field}:${quoteValue(value)}`;
  return exclude ? `NOT ${base}` : base;
}

/** The query with one more term, joined by AND; an existing identical term is not repeated. */
export function addTerm(query: string, field: string, value: string, exclude: boolean): string {
  const next = term(field, value, exclude);
  const current = query.trim();
  if (current === '') return next;
  if (current === next || current.endsWith(` AND ${next}`) || current.startsWith(`${next} AND `)) return current;
  const needsParens = /\bOR\b/i.test(current);
  return `${needsParens ? `(${current})` : current} AND ${next}`;
}

/** Applies a completion: replaces characters [start, end) of `input` with `text`. */
export function applyCompletion(input: string, text: string, replace: [number, number]): { value: string; cursor: number } {
  const chars = Array.from(input);
  const [start, end] = replace;
  const value = chars.slice(0, start).join('') + text + chars.slice(end).join('');
  return { value, cursor: Array.from(text).length + start };
}
