// Ink 6 turns every line it draws into one object per character (Intl.Segmenter, ANSI tokenizer, a styles array
// each) and keeps those in a cache that lives for ONE frame: each render builds a new Output with fresh caches. The
// profile of bench/tui put ~50% of a frame's CPU there, for lines that were mostly identical to the last frame's
// (header, column titles, hints, unchanged rows). This gives every Output one shared, bounded cache instead.
//
// Why it is safe: Output.get() only reads the cached arrays (it copies references into its cell grid and builds a
// string from them; it never mutates a cached character), exactly as it already does when one line repeats within
// a frame. Keys are the final ANSI-styled line text, so a cached value can never belong to a different line.
// Why it is guarded: Output is an internal module of Ink. When its shape is not the expected one (another Ink
// version), nothing is patched and Ink runs as shipped; installInkLineCache() says which (a unit test checks it
// against the installed Ink, so an upgrade that breaks the patch is noticed). It patches the Ink that
// import.meta.resolve('ink') finds: a bundle that inlines Ink would need to patch its own copy.

/** the three look-ups Output.get() makes on its caches (Ink 6.x OutputCaches) */
interface OutputCachesLike {
  getStyledChars(line: string): unknown;
  getStringWidth(text: string): number;
  getWidestLine(text: string): number;
}

type Kind = keyof OutputCachesLike;
const KINDS: readonly Kind[] = ['getStyledChars', 'getStringWidth', 'getWidestLine'];

/** two generations: hits in the older one are promoted; when the current one is full it becomes the older one */
export class Generations {
  private cur = new Map<string, unknown>();
  private old = new Map<string, unknown>();

  constructor(private readonly limit: number) {}

  get(key: string): unknown {
    const v = this.cur.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: string, v: unknown): void {
    if (this.cur.size >= this.limit) {
      this.old = this.cur;
      this.cur = new Map();
    }
    this.cur.set(key, v);
  }

  get size(): number {
    return this.cur.size + this.old.size;
  }
}

/** the shared cache: bounded memory, and lines seen in the last frames stay hot */
export class LineCache implements OutputCachesLike {
  private readonly gens: Record<Kind, Generations>;
  private inner: OutputCachesLike;
  private computed = 0;
  hits = 0;
  misses = 0;

  /**
   * @param makeInner builds one of Ink's own per-frame caches, used only to compute values (renewed now and then
   *   so its own maps stay small)
   * @param limit entries per generation; a styled line of 120 cells is ~15 KB, so 600 lines ≈ 9 MB per generation
   */
  constructor(
    private readonly makeInner: () => OutputCachesLike,
    private readonly limit = 600,
  ) {
    this.inner = makeInner();
    this.gens = {
      getStyledChars: new Generations(limit),
      getStringWidth: new Generations(limit * 4),
      getWidestLine: new Generations(limit),
    };
  }

  getStyledChars(line: string): unknown {
    return this.look('getStyledChars', line);
  }

  getStringWidth(text: string): number {
    return this.look('getStringWidth', text) as number;
  }

  getWidestLine(text: string): number {
    return this.look('getWidestLine', text) as number;
  }

  /** entries held, all kinds */
  get size(): number {
    return KINDS.reduce((n, k) => n + this.gens[k].size, 0);
  }

  private look(kind: Kind, key: string): unknown {
    const g = this.gens[kind];
    let v = g.get(key);
    if (v !== undefined) {
      this.hits++;
      return v;
    }
    this.misses++;
    // a line's characters are computed on a cache of their own, dropped at once: Ink's cache would keep its copy
    v = kind === 'getStyledChars' ? compactChars(this.makeInner().getStyledChars(key)) : this.inner[kind](key);
    g.set(key, v);
    if (++this.computed >= this.limit) {
      this.computed = 0;
      this.inner = this.makeInner();
    }
    return v;
  }
}

/** one cell as ansi-tokenize's styledCharsFromTokens makes it */
interface StyledChar {
  type: string;
  value: string;
  fullWidth: boolean;
  styles: readonly unknown[];
}

function isStyledChar(c: unknown): c is StyledChar {
  if (typeof c !== 'object' || c === null || Object.keys(c).length !== 4) return false;
  const o = c as Record<string, unknown>;
  return typeof o.type === 'string' && typeof o.value === 'string' && typeof o.fullWidth === 'boolean' && Array.isArray(o.styles);
}

/**
 * A line's styled characters as the cache keeps them. Ink builds each one as `{...token, styles: [...codes]}`, and
 * V8 gives the objects that spread makes a hidden class each: about 300 bytes a character with its map and
 * descriptors, 37 KB for a line of 120 cells, tens of MB in a full cache. The copies share one hidden class, and
 * neighbours whose styles are the same codes share one styles array: about 60 bytes a character. Output.get() only
 * reads characters and their styles. A character of another shape (another ansi-tokenize) leaves the line as Ink
 * made it.
 */
export function compactChars(chars: unknown): unknown {
  if (!Array.isArray(chars) || !chars.every(isStyledChar)) return chars;
  let was: readonly unknown[] = [];
  let shared: readonly unknown[] = was;
  return (chars as StyledChar[]).map((c) => {
    if (c.styles.length !== was.length || c.styles.some((code, i) => code !== was[i])) shared = was = c.styles;
    return { type: c.type, value: c.value, fullWidth: c.fullWidth, styles: shared };
  });
}

// ─── whole rows ─────────────────────────────────────────────────────────────────────────────────
// After placing characters, Output.get() turns every row of its width×height grid back into a string, cell by
// cell (several small arrays and Sets per cell): ~5,000 cells per 120×40 frame, most of them in rows that did not
// change. A row's string depends only on the frame width and the (x, styled line) pieces written to it, in order,
// so rows are cached under exactly that key; a missed row is computed by Ink's own get() on a one-row Output
// holding the same pieces, so the text is Ink's by construction. Frames with clipping (overflow="hidden"),
// which this console never uses, go through Ink's get() unchanged.

interface WriteOp {
  type: 'write';
  x: number;
  y: number;
  text: string;
  transformers: ((line: string, index: number) => string)[];
}
type Op = WriteOp | { type: 'clip' | 'unclip' };

interface OutputLike {
  width: number;
  height: number;
  operations: Op[];
  caches?: unknown;
  get(): { output: string; height: number };
}

interface OutputClass {
  new (o: { width: number; height: number }): OutputLike;
  prototype: OutputLike & { __billboardLineCache?: InkCaches };
}

export interface InkCaches {
  lines: LineCache;
  rows: Generations;
  /** rows served from the row cache / computed, since start */
  rowHits: number;
  rowMisses: number;
  /** Ink's own Output.get, unpatched (equivalence tests) */
  original: (this: OutputLike) => { output: string; height: number };
  Output: OutputClass;
}

let active: InkCaches | undefined;

function isCaches(c: unknown): c is OutputCachesLike & object {
  return typeof c === 'object' && c !== null && KINDS.every((k) => typeof (c as Record<string, unknown>)[k] === 'function');
}

/** the rows of a frame as [x, line, x, line, …] per row; undefined when the frame needs Ink's own path */
function piecesByRow(out: OutputLike): (number | string)[][] | undefined {
  const rows: (number | string)[][] = Array.from({ length: out.height }, () => []);
  for (const op of out.operations) {
    if (op.type !== 'write') return undefined;
    // Ink places line i of a write at row y+i and stops at the first row outside the grid (so y < 0 places nothing)
    if (op.y < 0 || !Number.isInteger(op.y) || !Number.isInteger(op.x)) {
      if (op.y < 0) continue;
      return undefined;
    }
    const lines = op.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const row = rows[op.y + i];
      if (!row) break;
      let line = lines[i]!;
      for (const t of op.transformers) line = t(line, i);
      if (line.includes('\n')) return undefined;
      row.push(op.x, line);
    }
  }
  return rows;
}

function install(Output: OutputClass): InkCaches | undefined {
  const probe = new Output({ width: 0, height: 0 });
  const Inner = (probe.caches as { constructor?: new () => unknown } | undefined)?.constructor;
  if (!isCaches(probe.caches) || typeof Inner !== 'function' || !Array.isArray(probe.operations)) return undefined;
  const lines = new LineCache(() => new Inner() as OutputCachesLike);
  const original = Output.prototype.get as InkCaches['original'];
  const caches: InkCaches = { lines, rows: new Generations(400), rowHits: 0, rowMisses: 0, original, Output };
  Output.prototype.get = function (this: OutputLike) {
    this.caches = lines;
    const rows = piecesByRow(this);
    if (!rows) return original.call(this);
    const text: string[] = [];
    for (const pieces of rows) {
      let key = String(this.width);
      for (let i = 0; i < pieces.length; i += 2) key += '\u0001' + pieces[i] + '\u0002' + pieces[i + 1];
      let row = caches.rows.get(key) as string | undefined;
      if (row === undefined) {
        caches.rowMisses++;
        const one = new Output({ width: this.width, height: 1 });
        one.caches = lines;
        for (let i = 0; i < pieces.length; i += 2)
          one.operations.push({ type: 'write', x: pieces[i] as number, y: 0, text: pieces[i + 1] as string, transformers: [] });
        row = original.call(one).output;
        caches.rows.set(key, row);
      } else caches.rowHits++;
      text.push(row);
    }
    return { output: text.join('\n'), height: this.height };
  };
  Output.prototype.__billboardLineCache = caches;
  return caches;
}

/** install the shared caches into Ink's Output (idempotent; false when Ink's internals are not the expected ones) */
export async function installInkLineCache(): Promise<InkCaches | undefined> {
  if (active) return active;
  let Output: OutputClass | undefined;
  try {
    const url = new URL('./output.js', import.meta.resolve('ink'));
    Output = ((await import(url.href)) as { default?: OutputClass }).default;
  } catch {
    return undefined;
  }
  if (typeof Output !== 'function' || typeof Output.prototype?.get !== 'function') return undefined;
  active = Output.prototype.__billboardLineCache ?? install(Output);
  return active;
}
