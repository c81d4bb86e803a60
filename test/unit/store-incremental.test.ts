// The store's write cost follows the change: findings, jobs and replay marks are appended only when their
// content changed (and removals by id); compaction folds them; a reopen sees exactly what was saved.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/model/types.js';
import type { KeySource } from '../../src/store/crypto.js';
import { createStore, openStore } from '../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'bb-store-inc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key: KeySource = { kind: 'keyfile', key: Buffer.alloc(32, 3), file: '/k' };
let n = 0;
const freshPath = () => join(root, `s${++n}`, 'store.db');

const finding = (i: number, evidence = `evidence for finding ${i}, long enough to weigh something on disk`): Finding =>
  Object.freeze({
    id: `F-${i}`,
    key: `UNREGISTERED:${i}`,
    code: 'UNREGISTERED',
    severity: 'critical',
    vm: `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
    hosts: ['lab-a'],
    evidence,
    firstSeen: 1,
    lastSeen: 2,
    count: 1,
    state: 'open',
  }) as Finding;

const size = (p: string) => statSync(p).size;

describe('store writes cost the change', () => {
  it('saving 3,000 findings then changing one grows the file by about one finding, not 3,000', async () => {
    const path = freshPath();
    const s = await createStore(path, key, { journal: { compactMinBytes: 1 << 30 } });
    const all = Array.from({ length: 3000 }, (_, i) => finding(i));
    await s.saveFindings(all);
    const one = Buffer.byteLength(JSON.stringify(all[0]));
    const before = size(path);
    const changed = [...all];
    changed[1234] = finding(1234, 'changed evidence');
    await s.saveFindings(changed);
    const growth = size(path) - before;
    expect(growth).toBeLessThan(one * 3 + 200);
    // the same list again writes nothing; a removal costs its id
    const t0 = size(path);
    await s.saveFindings(changed);
    expect(size(path)).toBe(t0);
    const fewer = changed.filter((f) => f.id !== 'F-7');
    await s.saveFindings(fewer);
    expect(size(path) - t0).toBeLessThan(200);
    await s.close();

    const again = await openStore(path, key);
    expect(again.findings()).toHaveLength(2999);
    expect(again.findings().find((f) => f.id === 'F-1234')?.evidence).toBe('changed evidence');
    expect(again.findings().some((f) => f.id === 'F-7')).toBe(false);
    await again.compact();
    await again.close();
    const third = await openStore(path, key);
    expect(new Map(third.findings().map((f) => [f.id, f]))).toEqual(new Map(fewer.map((f) => [f.id, f])));
    await third.close();
  });

  it('a finding edited in place is still saved (content, not identity, tells)', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    const f = { ...finding(1) };
    await s.saveFindings([f]);
    f.evidence = 'edited in place';
    await s.saveFindings([f]);
    await s.close();
    const again = await openStore(path, key);
    expect(again.findings()[0]?.evidence).toBe('edited in place');
    await again.close();
  });

  it('a job update appends that job only', async () => {
    const path = freshPath();
    const s = await createStore(path, key, { journal: { compactMinBytes: 1 << 30 } });
    for (let i = 0; i < 200; i++) await s.saveJob({ id: `J-${i}`, vmName: 'web-01', state: 'completed', note: 'x'.repeat(200) } as never);
    const before = size(path);
    await s.saveJob({ id: 'J-5', vmName: 'web-01', state: 'failed', note: 'x'.repeat(200) } as never);
    expect(size(path) - before).toBeLessThan(700);
    await s.close();
    const again = await openStore(path, key);
    expect(again.jobs()).toHaveLength(200);
    expect(again.jobs()[5]).toMatchObject({ id: 'J-5', state: 'failed' });
    await again.close();
  });
});

describe('replay marks (beaconMarks / saveBeaconMarks)', () => {
  const U = (i: number) => `${i.toString(16).padStart(8, '0')}-aaaa-4000-8000-000000000000`;

  it('merge the marks passed, survive a reopen and a compaction, and cost only the changed ones', async () => {
    const path = freshPath();
    const s = await createStore(path, key, { journal: { compactMinBytes: 1 << 30 } });
    expect(s.beaconMarks().size).toBe(0);
    await s.saveBeaconMarks(new Map(Array.from({ length: 1000 }, (_, i) => [U(i), { bootId: `boot-${i}`, seq: i, at: 1000 + i }])));
    const before = size(path);
    await s.saveBeaconMarks(new Map([[U(3).toUpperCase(), { bootId: 'boot-3', seq: 99, at: 5000 }]]));
    expect(size(path) - before).toBeLessThan(200);
    // unchanged marks write nothing
    const t0 = size(path);
    await s.saveBeaconMarks(new Map([[U(4), { bootId: 'boot-4', seq: 4, at: 1004 }]]));
    expect(size(path)).toBe(t0);
    expect(s.beaconMarks().get(U(3))).toEqual({ bootId: 'boot-3', seq: 99, at: 5000 });
    await s.close();

    const again = await openStore(path, key);
    expect(again.beaconMarks().size).toBe(1000);
    expect(again.beaconMarks().get(U(3))).toEqual({ bootId: 'boot-3', seq: 99, at: 5000 });
    expect(again.auditLog()).toHaveLength(0); // not audited
    await again.compact();
    await again.close();
    const third = await openStore(path, key);
    expect(third.beaconMarks().get(U(999))).toEqual({ bootId: 'boot-999', seq: 999, at: 1999 });
    expect(third.beaconMarks().get(U(3))?.seq).toBe(99);
    await third.close();
  });

  it('refuses a mark that is not keyed by a UUID or has no usable seq, writing nothing', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    const t0 = size(path);
    await expect(s.saveBeaconMarks(new Map([['web-01', { bootId: 'b', seq: 1, at: 1 }]]))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(s.saveBeaconMarks(new Map([[U(1), { bootId: 'b', seq: -1, at: 1 }]]))).rejects.toMatchObject({ code: 'USAGE' });
    await expect(s.saveBeaconMarks(new Map([[U(1), { bootId: 'b', seq: 1.5, at: 1 }]]))).rejects.toMatchObject({ code: 'USAGE' });
    expect(size(path)).toBe(t0);
    expect(s.beaconMarks().size).toBe(0);
    await s.close();
  });
});
