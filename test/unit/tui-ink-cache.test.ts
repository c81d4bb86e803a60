import { describe, expect, it } from 'vitest';
import { Generations, installInkLineCache, LineCache } from '../../src/tui/ink-line-cache.js';

// a small deterministic PRNG so a failure names a reproducible case
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface InkLike {
  getStyledChars(line: string): unknown;
}

const RED = (s: string) => `\x1b[31m${s}\x1b[39m`;
const INV = (s: string) => `\x1b[7m${s}\x1b[27m`;
const DIM = (s: string) => `\x1b[2m${s}\x1b[22m`;
const WORDS = [
  'web-01',
  'lab-a',
  '  ',
  '漢字',
  '✓ ok',
  '█░░',
  '»',
  '',
  'x'.repeat(130),
  'a\nb',
  RED('ghost'),
  INV('> sel'),
  DIM('~ quiet'),
  RED(INV('both')),
  '🙂',
  'e\u0301',
];

describe('Ink line/row caches', () => {
  it('install on the installed Ink (an Ink upgrade that breaks the patch fails here, not silently)', async () => {
    const caches = await installInkLineCache();
    expect(caches).toBeDefined();
    expect(await installInkLineCache()).toBe(caches); // idempotent
  });

  it('patched Output.get() returns exactly what Ink computes, frame after frame (hits and misses)', async () => {
    const c = (await installInkLineCache())!;
    const rand = prng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const transformers = [(l: string) => RED(l), (l: string, i: number) => (i ? DIM(l) : l), (l: string) => l.toUpperCase()];
    const hits0 = c.rowHits;
    for (let frame = 0; frame < 300; frame++) {
      const width = pick([20, 40, 80]);
      const height = pick([1, 3, 6]);
      const ops: { x: number; y: number; text: string; transformers: ((l: string, i: number) => string)[] }[] = [];
      const n = Math.floor(rand() * 8);
      for (let i = 0; i < n; i++) {
        const text = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(WORDS)).join(pick([' ', '', '\n']));
        ops.push({
          x: Math.floor(rand() * (width + 4)),
          y: Math.floor(rand() * (height + 2)) - 1,
          text,
          transformers: rand() < 0.3 ? [pick(transformers)] : [],
        });
      }
      const patched = new c.Output({ width, height });
      const plain = new c.Output({ width, height });
      for (const o of ops) {
        for (const out of [patched, plain]) if (o.text) out.operations.push({ type: 'write', ...o });
      }
      expect(patched.get(), `frame ${frame}`).toEqual(c.original.call(plain));
    }
    expect(c.rowHits).toBeGreaterThan(hits0); // the cached path was exercised, not only misses
  });

  it("keeps a line's characters compact: Ink's content, one styles array per run of equal styles", async () => {
    const c = (await installInkLineCache())!;
    const Inner = (new c.Output({ width: 0, height: 0 }) as unknown as { caches: { constructor: new () => InkLike } }).caches.constructor;
    const line = `${RED('ghost')} web-01 ${INV('> sel')}${DIM('~ quiet')} 漢字 🙂 ${'x'.repeat(40)}`;
    const chars = c.lines.getStyledChars(line) as { value: string; styles: unknown[] }[];
    expect(chars).toEqual(new Inner().getStyledChars(line)); // what Ink computes, field by field
    const red = chars.slice(0, 5);
    expect(red.map((ch) => ch.value).join('')).toBe('ghost');
    for (const ch of red) expect(ch.styles).toBe(red[0]!.styles); // not a copy per character
    expect(chars[5]!.styles).not.toBe(red[0]!.styles);
    const plain = chars.slice(-40);
    for (const ch of plain) expect(ch.styles).toBe(plain[0]!.styles);
    expect(c.lines.getStyledChars(line)).toBe(chars); // and cached
  });

  it('frames with clipping go through Ink unchanged', async () => {
    const c = (await installInkLineCache())!;
    const a = new c.Output({ width: 10, height: 2 });
    const b = new c.Output({ width: 10, height: 2 });
    for (const o of [a, b]) {
      o.operations.push({ type: 'clip', clip: { x1: 2, x2: 6, y1: 0, y2: 1 } } as never);
      o.operations.push({ type: 'write', x: 0, y: 0, text: 'abcdefghij\nklmnop', transformers: [] });
      o.operations.push({ type: 'unclip' } as never);
    }
    expect(a.get()).toEqual(c.original.call(b));
  });

  it('stay bounded: two generations, oldest dropped, recent entries promoted', () => {
    const g = new Generations(3);
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) g.set(k, k.toUpperCase());
    expect(g.size).toBeLessThanOrEqual(6);
    expect(g.get('a')).toBeUndefined();
    expect(g.get('g')).toBe('G');
    let computed = 0;
    const lc = new LineCache(
      () => ({ getStyledChars: (l) => (computed++, [l]), getStringWidth: (t) => t.length, getWidestLine: (t) => t.length }),
      10,
    );
    for (let i = 0; i < 1000; i++) lc.getStyledChars('line ' + (i % 50));
    expect(lc.size).toBeLessThanOrEqual(20);
    for (let i = 0; i < 100; i++) expect(lc.getStyledChars('same')).toEqual(['same']);
    expect(lc.hits).toBeGreaterThanOrEqual(99);
    expect(computed).toBe(lc.misses);
  });
});
