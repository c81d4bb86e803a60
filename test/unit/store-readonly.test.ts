// openStore(path, key, { readOnly: true }): for --read-only sessions. No writer lock, no write of any kind
// (not even a torn tail cleared or a compaction), and every mutating call rejects with READ_ONLY.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeySource } from '../../src/store/crypto.js';
import { createStore, openStore } from '../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'bb-store-ro-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key: KeySource = { kind: 'keyfile', key: Buffer.alloc(32, 5), file: '/k' };
const U1 = '11111111-2222-3333-4444-555555555555';

describe('read-only open', () => {
  it('reads beside a running writer, takes no lock, writes nothing, and refuses every change with READ_ONLY', async () => {
    const path = join(root, 'a', 'store.db');
    const w = await createStore(path, key);
    await w.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'alice');
    await w.saveFindings([
      {
        id: 'F-1',
        key: 'k',
        code: 'SILENT',
        severity: 'low',
        vm: U1,
        hosts: [],
        evidence: 'e',
        firstSeen: 1,
        lastSeen: 1,
        count: 1,
        state: 'open',
      },
    ]);
    // a change cut short at the end: a writer would cut it off before its next append; a reader leaves it
    appendFileSync(path, Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    const lockBefore = readFileSync(`${path}.lock`, 'utf8');
    const bytes = readFileSync(path);

    const r = await openStore(path, key, { readOnly: true });
    expect(r.registration(U1)?.name).toBe('web-01');
    expect(r.findings()).toHaveLength(1);
    expect(r.verifyAudit()).toMatchObject({ ok: true, entries: 1 });
    const refused = [
      r.register({ uuid: '22222222-2222-3333-4444-555555555555', name: 'x', origin: 'operator' }, 'eve'),
      r.decide(U1, 'approved', 'eve'),
      r.updateRegistration(U1, { homeHost: 'lab-b' }, 'eve', 'rehome'),
      r.audit('eve', 'stop', U1),
      r.saveFindings([]),
      r.saveJob({ id: 'J-1' } as never),
      r.saveBeaconMarks(new Map([[U1, { bootId: 'b', seq: 1, at: 1 }]])),
      r.compact(),
    ];
    for (const p of refused) await expect(p).rejects.toMatchObject({ code: 'READ_ONLY' });
    expect(r.registration(U1)?.state).toBe('pending');
    await r.close();
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(lockBefore); // the writer's lock, untouched
    await w.close();

    // with no writer either: still no lock file, still nothing written
    const r2 = await openStore(path, key, { readOnly: true });
    expect(existsSync(`${path}.lock`)).toBe(false);
    await r2.close();
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('never creates a store: a missing one is STORE_OPEN, and no folder is made', async () => {
    const dir = join(root, 'missing');
    await expect(openStore(join(dir, 'store.db'), key, { readOnly: true, create: true })).rejects.toMatchObject({ code: 'STORE_OPEN' });
    expect(existsSync(dir)).toBe(false);
  });
});
