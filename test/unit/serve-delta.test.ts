// src/serve/delta.ts and the feed's row codec: what a sender encodes, a receiver applies, and ends with the same list
// (same items, same order) over a sequence of snapshots — adds, field changes, removed fields, removed rows, reorders,
// keys that come back, and rows whose only news is a beacon (the compact [id, Δat, Δseq] form).
import { describe, expect, it } from 'vitest';
import { applyPatch, ListReceiver, ListSender, patchOf, type ListDelta } from '../../src/serve/delta.js';
import { Feed, FeedState, ROW_CODEC, type FeedMessage, type FeedSource } from '../../src/serve/feed.js';
import { NO_BEACON_COUNTERS, type BillboardSnapshot, type VmRow } from '../../src/model/types.js';

const UUID = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

function row(i: number, over: Partial<VmRow> = {}): VmRow {
  return Object.freeze({
    uuid: UUID(i),
    name: `vm-${i}`,
    instances: [],
    ips: [`10.0.0.${i}`],
    openFindings: 0,
    status: 'ok',
    lastBeacon: {
      at: 1_700_000_000_000 + i,
      from: `10.0.0.${i}:40000`,
      bootId: `boot-${i}`,
      seq: 1,
      ips: [`10.0.0.${i}`],
      macs: ['52:54:00:00:00:01'],
      os: 'Debian GNU/Linux 12',
      keyFp: `SHA256:key${i}`,
    },
    ...over,
  } as VmRow);
}

/** the same row, one beacon later */
const beat = (r: VmRow, dAt = 1000): VmRow =>
  Object.freeze({ ...r, lastBeacon: { ...r.lastBeacon!, at: r.lastBeacon!.at + dAt, seq: r.lastBeacon!.seq + 1 } });

/** a delta through JSON, as it travels */
const wire = (d: ListDelta | undefined): ListDelta | undefined => (d ? (JSON.parse(JSON.stringify(d)) as ListDelta) : undefined);

function pair() {
  const tx = new ListSender<VmRow>((r) => r.uuid, ROW_CODEC);
  const rx = new ListReceiver<VmRow>(ROW_CODEC);
  const send = (items: VmRow[]) => {
    const d = wire(tx.diff(items));
    if (d) rx.apply(d);
    return d;
  };
  return { tx, rx, send };
}

describe('delta: ListSender → ListReceiver', () => {
  it('round-trips a sequence of snapshots: adds, changes, removed fields, removed rows, reorders, keys that return', () => {
    const { rx, send } = pair();
    let rows = [row(1), row(2), row(3)];
    const steps: VmRow[][] = [];
    steps.push(rows);
    rows = [rows[0]!, Object.freeze({ ...rows[1]!, name: 'renamed', status: 'suspect' } as VmRow), rows[2]!, row(4)];
    steps.push(rows);
    // a field goes away (no registration state any more), and a sub-object field changes beside at/seq
    const { lastBeacon: _gone, ...noBeacon } = rows[0]!;
    rows = [Object.freeze({ ...noBeacon, registration: 'approved' } as VmRow), rows[1]!, rows[2]!, rows[3]!];
    steps.push(rows);
    rows = [rows[0]!, rows[2]!, rows[3]!]; // vm-2 removed
    steps.push(rows);
    rows = [rows[2]!, rows[0]!, rows[1]!]; // reordered
    steps.push(rows);
    rows = [...rows, row(2, { name: 'back again' })]; // vm-2's key returns
    steps.push(rows);
    rows = [];
    steps.push(rows);
    rows = [row(5)];
    steps.push(rows);
    for (const s of steps) {
      send(s);
      expect(rx.get()).toEqual(s);
    }
  });

  it('a field removed from an item, and one removed from a sub-object, are removed on the receiver', () => {
    const { rx, send } = pair();
    const a = row(1, { worstSeverity: 'high', registration: 'approved' });
    send([a]);
    const { worstSeverity: _w, ...rest } = a;
    const { os: _os, ...beacon } = a.lastBeacon!;
    const b = Object.freeze({ ...rest, lastBeacon: { ...beacon, seq: 9 } } as VmRow);
    const d = send([b])!;
    expect(d.patch).toHaveLength(1);
    expect(d.patch![0]![1]).toEqual({ worstSeverity: null, lastBeacon: { $: { seq: 9, os: null } } });
    expect(rx.get()[0]).toEqual(b);
    expect('worstSeverity' in rx.get()[0]!).toBe(false);
    expect('os' in rx.get()[0]!.lastBeacon!).toBe(false);
  });

  it('a row whose only news is a beacon travels as [id, Δat, Δseq]; anything more is a patch', () => {
    const { rx, send } = pair();
    const rows = Array.from({ length: 100 }, (_, i) => row(i));
    send(rows);
    const next = rows.map((r, i) => (i % 2 ? beat(r, 990 + i) : r));
    const d = send(next)!;
    expect(d.patch).toBeUndefined();
    expect(d.add).toBeUndefined();
    expect(d.order).toBeUndefined();
    // flat: each row's id as a step from the one before, then the time since its last beacon
    expect(d.packed).toHaveLength(100);
    expect(d.packed!.slice(0, 4)).toEqual([2, 991, 2, 993]);
    expect(rx.get()).toEqual(next);
    // 50 beacons in a few bytes each, not 50 rows
    expect(JSON.stringify(d).length).toBeLessThan(50 * 8);
    // a beacon that also changed the source address is not only a beacon: a patch
    const moved = next.map((r, i) => (i === 3 ? Object.freeze({ ...beat(r), lastBeacon: { ...beat(r).lastBeacon!, from: 'x:1' } }) : r));
    const d2 = send(moved)!;
    expect(d2.packed).toBeUndefined();
    expect(d2.patch).toEqual([[4, { lastBeacon: { $: { at: moved[3]!.lastBeacon!.at, from: 'x:1', seq: 3 } } }]]);
    expect(rx.get()).toEqual(moved);
    // a beacon that skipped a sequence number (one was lost, or two came between flushes) is a patch
    const skipped = moved.map((r, i) => (i === 5 ? beat(beat(r)) : r));
    const d4 = send(skipped)!;
    expect(d4.packed).toBeUndefined();
    expect(d4.patch).toHaveLength(1);
    expect(rx.get()).toEqual(skipped);
    // the first beacon of a row that had none is a patch too (nothing to step from)
    const silent = row(200, { lastBeacon: undefined });
    send([...skipped, silent]);
    const first = [...skipped, row(200)];
    const d3 = send(first)!;
    expect(d3.packed).toBeUndefined();
    expect(rx.get()).toEqual(first);
  });

  it('unchanged items keep their identity on the receiver; changed ones are new frozen objects', () => {
    const { rx, send } = pair();
    const rows = [row(1), row(2), row(3)];
    send(rows);
    const before = rx.get();
    send([rows[0]!, beat(rows[1]!), rows[2]!]);
    const after = rx.get();
    expect(after[0]).toBe(before[0]);
    expect(after[2]).toBe(before[2]);
    expect(after[1]).not.toBe(before[1]);
    expect(Object.isFrozen(after[1])).toBe(true);
    expect(Object.isFrozen(after)).toBe(true);
  });

  it('nothing changed: no delta; the same object again is not even compared', () => {
    const { tx, send } = pair();
    const rows = [row(1), row(2)];
    send(rows);
    expect(tx.diff(rows)).toBeUndefined();
    expect(tx.diff(rows.map((r) => Object.freeze({ ...r })))).toBeUndefined();
    // equal as JSON says: a field set to undefined is no field; arrays and sub-objects compare by value
    const copies = rows.map((r) => Object.freeze({ ...r, worstSeverity: undefined, ips: [...r.ips], lastBeacon: { ...r.lastBeacon! } }));
    expect(tx.diff(copies)).toBeUndefined();
  });

  it('a receiver that joins late starts from full() and then follows the same deltas', () => {
    const { tx, rx, send } = pair();
    let rows = [row(1), row(2), row(3)];
    send(rows);
    rows = [beat(rows[0]!), rows[2]!];
    send(rows);
    const late = new ListReceiver<VmRow>(ROW_CODEC);
    late.apply(wire(tx.full())!);
    expect(late.get()).toEqual(rows);
    rows = [rows[1]!, beat(rows[0]!), row(9)];
    const d = wire(tx.diff(rows))!;
    rx.apply(d);
    late.apply(d);
    expect(rx.get()).toEqual(rows);
    expect(late.get()).toEqual(rows);
    late.reset();
    expect(late.get()).toEqual([]);
  });

  it('a duplicate key is sent once (the first)', () => {
    const { rx, send } = pair();
    send([row(1), row(1, { name: 'dup' }), row(2)]);
    expect(rx.get().map((r) => r.name)).toEqual(['vm-1', 'vm-2']);
  });

  it('a long random walk ends equal, and a receiver joining at any point from full() too', () => {
    const { tx, rx, send } = pair();
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let rows = Array.from({ length: 50 }, (_, i) => row(i));
    let next = 50;
    for (let step = 0; step < 300; step++) {
      rows = rows.flatMap((r) => {
        const x = rand(20);
        if (x === 0) return [];
        if (x < 8) return [beat(r, 900 + rand(200))];
        if (x === 8) return [Object.freeze({ ...r, openFindings: r.openFindings + 1, status: 'suspect' } as VmRow)];
        return [r];
      });
      if (rand(3) === 0) rows.push(row(next++));
      if (rand(10) === 0) rows.reverse();
      send(rows);
      expect(rx.get()).toEqual(rows);
      if (step % 25 === 0) {
        const late = new ListReceiver<VmRow>(ROW_CODEC);
        late.apply(wire(tx.full())!);
        expect(late.get()).toEqual(rows);
      }
    }
  });
});

describe('delta: patchOf / applyPatch', () => {
  it('patches one level into plain sub-objects, arrays whole', () => {
    const a = { x: 1, arr: [1, 2], sub: { p: 1, q: { deep: 1 } } };
    const b = { x: 1, arr: [1, 2, 3], sub: { p: 2, q: { deep: 2 } } };
    const p = patchOf(a, b)!;
    expect(p).toEqual({ arr: [1, 2, 3], sub: { $: { p: 2, q: { deep: 2 } } } });
    expect(applyPatch(a, p)).toEqual(b);
    expect(patchOf(a, { ...a })).toBeUndefined();
  });
});

describe('feed: the service side to an attached console', () => {
  function source(rows: VmRow[]) {
    const s = {
      snap: { version: 1, at: 1, rows, findings: [], hosts: [], beacons: { ...NO_BEACON_COUNTERS, perSecond: 0 } } as BillboardSnapshot,
      attached: ['alice'],
    };
    const src: FeedSource = {
      snapshot: () => s.snap,
      jobs: () => [],
      pending: () => [],
      auditLog: () => [],
      attached: () => s.attached,
    };
    return { s, src };
  }

  it('a subscriber gets the whole state, then deltas, and rebuilds the same rows', async () => {
    let rows = Array.from({ length: 20 }, (_, i) => row(i));
    const { s, src } = source(rows);
    const feed = new Feed(src, 5);
    const lines: string[] = [];
    const state = new FeedState();
    const off = feed.subscribe((l) => {
      lines.push(l);
      state.apply(JSON.parse(l) as FeedMessage);
    });
    expect((JSON.parse(lines[0]!) as FeedMessage).t).toBe('full');
    expect(state.rows.get()).toEqual(rows);
    expect(state.attached).toEqual(['alice']);
    rows = rows.filter((_, i) => i !== 3).map((r, i) => (i % 3 ? beat(r) : r));
    s.snap = { ...s.snap, version: 2, at: 2, rows };
    s.attached = ['alice', 'bob'];
    feed.poke();
    await new Promise((r) => setTimeout(r, 30));
    const d = JSON.parse(lines[1]!) as FeedMessage;
    expect(d.t).toBe('d');
    expect(d.rows!.del).toEqual([4]);
    expect(d.rows!.packed!.length).toBeGreaterThan(10);
    expect(state.rows.get()).toEqual(rows);
    expect(state.attached).toEqual(['alice', 'bob']);
    expect(state.version).toBe(2);
    off();
    feed.close();
  });
});
