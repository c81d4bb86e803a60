import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/tui/filter.js';
import { createFakeConsole } from '../support/fake-console.js';
import { SortedList } from '../../src/tui/sorted-list.js';
import { formatted, totalOrder, VIEWS, visibleItems } from '../../src/tui/views.js';
import type { VmRow } from '../../src/model/types.js';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Item {
  id: number;
  k: number;
  tag: string;
}
const cmp = (a: Item, b: Item) => a.k - b.k || a.id - b.id;

describe('SortedList', () => {
  it('equals a full filter+sort after every kind of change (replace, reorder, add, remove, key moves)', () => {
    const rand = prng(3);
    for (const keep of [undefined, (it: Item) => it.tag !== 'b']) {
      let items: Item[] = Array.from({ length: 200 }, (_, id) => ({ id, k: Math.floor(rand() * 50), tag: rand() < 0.3 ? 'b' : 'a' }));
      let nextId = 200;
      const list = new SortedList<Item>(cmp, keep);
      for (let step = 0; step < 400; step++) {
        const r = rand();
        items = items.slice();
        if (r < 0.6) {
          // a few rows replaced by new objects (sort key and filter may change)
          for (let n = Math.floor(rand() * 20); n > 0; n--) {
            const i = Math.floor(rand() * items.length);
            items[i] = { ...items[i]!, k: Math.floor(rand() * 50), tag: rand() < 0.3 ? 'b' : 'a' };
          }
        } else if (r < 0.7) {
          // swap-remove, as the engine does
          const i = Math.floor(rand() * items.length);
          items[i] = items[items.length - 1]!;
          items.pop();
        } else if (r < 0.8) items.push({ id: nextId++, k: Math.floor(rand() * 50), tag: 'a' });
        else if (r < 0.9) {
          // same objects, moved around
          const i = Math.floor(rand() * items.length);
          const j = Math.floor(rand() * items.length);
          [items[i], items[j]] = [items[j]!, items[i]!];
        } else if (r < 0.95) items = items.map((x) => ({ ...x })); // everything new: the full path
        // else: a new array with the same objects
        const before = list.update(items);
        const copy = before.slice();
        const expected = (keep ? items.filter(keep) : items.slice()).sort(cmp);
        expect(before, `step ${step}`).toEqual(expected);
        expect(before.every((x, i) => x === expected[i])).toBe(true);
        // a later update never mutates an array handed out earlier (React props hold it)
        list.update(items.slice());
        expect(before).toEqual(copy);
      }
      expect(list.stats.incremental).toBeGreaterThan(100);
      expect(list.stats.full).toBeGreaterThan(5);
    }
  });

  it('nearly sorted input: full sorts or the input itself, still exact', () => {
    const rand = prng(9);
    let items: Item[] = Array.from({ length: 300 }, (_, id) => ({ id, k: id, tag: 'a' }));
    const list = new SortedList<Item>(cmp);
    for (let step = 0; step < 200; step++) {
      items = items.slice();
      for (let n = Math.floor(rand() * 10); n > 0; n--) {
        const i = Math.floor(rand() * items.length);
        // the same key (a beacon); after step 30 sometimes a key that moves the row
        items[i] = { ...items[i]!, k: step < 30 || rand() < 0.8 ? items[i]!.k : Math.floor(rand() * 300) };
      }
      const got = list.update(items);
      const expected = items.slice().sort(cmp);
      expect(got.length).toBe(expected.length);
      expect(
        got.every((x, i) => x === expected[i]),
        `step ${step}`,
      ).toBe(true);
    }
    // moved rows accumulate, so the input drifts from nearly sorted (full sorts, the input as is) to shuffled (merges)
    expect(list.stats.inOrder).toBeGreaterThan(0);
    expect(list.stats.full).toBeGreaterThan(5);
    expect(list.stats.incremental).toBeGreaterThan(5);
  });

  it('returns the same array when nothing in it changed', () => {
    const items = [
      { id: 1, k: 2, tag: 'a' },
      { id: 2, k: 1, tag: 'a' },
    ];
    const list = new SortedList<Item>(cmp);
    const a = list.update(items);
    expect(list.update(items)).toBe(a);
    expect(list.update(items.slice())).toBe(a);
    expect(a.map((x) => x.id)).toEqual([2, 1]);
  });
});

describe('visibleItems over live snapshots', () => {
  it('matches a full sort and filter for every sort while beacons replace rows, and is incremental', async () => {
    const api = await createFakeConsole({ vms: 600 });
    const view = VIEWS.billboard;
    // the engine keeps rows in discovery order, not sorted: a fixed shuffle of the fake's rows
    const rand = prng(5);
    const perm = api.snapshot().rows.map((_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    for (const filter of [undefined, parseFilter('lab-b'), parseFilter('!vm-001')]) {
      for (let sort = 0; sort < view.sorts.length; sort++) {
        for (let step = 0; step < 6; step++) {
          api.beaconUpdates(40);
          if (step === 3) api.setHostUp('lab-a', false);
          const live = api.snapshot().rows as readonly VmRow[];
          const rows = perm.map((i) => live[i]!);
          const got = visibleItems(view, rows, filter, sort);
          const keep = filter && filter.ok ? rows.filter((r) => filter.test(formatted(view, r).fields)) : rows.slice();
          const expected = keep.sort(totalOrder(view, sort));
          expect(got.map((r) => r.uuid)).toEqual(expected.map((r) => r.uuid));
          expect(got.every((r, i) => r === expected[i])).toBe(true); // the current objects, never stale ones
        }
      }
    }
  });
});
