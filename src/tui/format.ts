// Pure text helpers for the TUI: fixed-width cells, ages, sizes, bars and sparklines. No React, no I/O.

/** pad or cut `s` to exactly `w` columns (ellipsis when cut) */
export function fit(s: string, w: number): string {
  if (w <= 0) return '';
  if (s.length === w) return s;
  if (s.length < w) return s + ' '.repeat(w - s.length);
  return w === 1 ? s.slice(0, 1) : s.slice(0, w - 1) + '…';
}

/** right-aligned variant of fit */
export function fitRight(s: string, w: number): string {
  if (s.length >= w) return fit(s, w);
  return ' '.repeat(w - s.length) + s;
}

/** "4s", "12m", "3h", "2d"; "-" when unknown */
export function age(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

export function rate(bps: number | undefined): string {
  return bps === undefined ? '-' : `${bytes(bps)}/s`;
}

export function ms(n: number | undefined): string {
  return n === undefined ? '-' : `${Math.round(n)} ms`;
}

export function shortUuid(uuid: string): string {
  return uuid.slice(0, 8);
}

/** a bar of `width` cells, `frac` (0..1) of it filled */
export function bar(frac: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(frac) ? frac : 0));
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(Math.max(0, width - full));
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** the last `width` values as a sparkline scaled to `max` (shared scale lets two lines be compared) */
export function sparkline(values: readonly number[], width: number, max?: number): string {
  const vs = values.slice(-width);
  const top = max ?? Math.max(1, ...vs);
  let out = '';
  for (const v of vs) {
    const i = top > 0 ? Math.round((Math.max(0, v) / top) * (SPARKS.length - 1)) : 0;
    out += SPARKS[Math.min(SPARKS.length - 1, i)];
  }
  return out.padEnd(width, ' ');
}

/** one-line JSON of details, for the audit table */
export function compactJson(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined || s === '{}' ? '' : s;
  } catch {
    return String(v);
  }
}

/** ISO time without the date when it is today relative to `now` */
export function clockTime(iso: string): string {
  const t = iso.indexOf('T');
  return t < 0 ? iso : iso.slice(0, 10) + ' ' + iso.slice(t + 1, t + 9);
}

/** lines wrapped to `width` columns, breaking at spaces where it can; a wrapped part is indented under its line */
export function wrapLines(lines: readonly string[], width: number, indent = 4): string[] {
  const out: string[] = [];
  const w = Math.max(8, width);
  for (const line of lines) {
    let rest = line;
    let first = true;
    while (rest.length > (first ? w : w - indent)) {
      const room = first ? w : w - indent;
      let cut = rest.lastIndexOf(' ', room);
      if (cut < room / 2) cut = room;
      out.push((first ? '' : ' '.repeat(indent)) + rest.slice(0, cut).trimEnd());
      rest = rest.slice(cut).trimStart();
      first = false;
    }
    out.push((first ? '' : ' '.repeat(indent)) + rest);
  }
  return out;
}
