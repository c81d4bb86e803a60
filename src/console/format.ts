import { safeText } from '../model/text.js';

// Plain-text rendering for `script` without --json. Pure functions; no colors (script output is for pipes).
// Every cell may hold outside text (domain names, OS strings, notes, host errors): each one is shown through
// safeText, so an escape sequence in it is printed as `\x1b[…` and never acted on by the terminal.

/** the widest cell a table or key/value list prints (longer text is cut with …) */
export const MAX_CELL_CHARS = 1024;

/** one outside value, safe to print in a cell */
export function cell(v: unknown): string {
  return v === undefined ? '' : safeText(v, MAX_CELL_CHARS);
}

/** text for a terminal: every line through safeText (handlers build their one-line summaries from outside names) */
export function safeLines(text: string, max = 64 * 1024): string {
  return text
    .split('\n')
    .map((l) => safeText(l, max))
    .join('\n');
}

export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

export function age(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function when(ms: number | undefined): string {
  return ms === undefined
    ? '-'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function kv(pairs: [string, string | number | undefined][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v === undefined || v === '' ? '-' : cell(v)}`).join('\n');
}
