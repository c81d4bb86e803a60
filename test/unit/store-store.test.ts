import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeySource } from '../../src/store/crypto.js';
import { createStore, openStore } from '../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'bb-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key: KeySource = { kind: 'passphrase', passphrase: 'unit test passphrase' };
let n = 0;
const freshPath = () => join(root, `s${++n}`, 'store.db');
const U1 = '11111111-2222-3333-4444-555555555555';
const U2 = '11112222-0000-0000-0000-000000000002';

describe('Store', () => {
  it('creates, persists registrations and decisions with their audit entries, and reopens them', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    const r = await s.register({ uuid: U1.toUpperCase(), name: 'web-01', macs: ['52-54-00-AA-BB-01'], origin: 'operator' }, 'alice');
    expect(r).toMatchObject({ uuid: U1, name: 'web-01', macs: ['52:54:00:aa:bb:01'], state: 'pending', createdBy: 'alice' });
    const a = await s.decide(U1, 'approved', 'bob', 'ticket 7');
    expect(a).toMatchObject({ state: 'approved', decidedBy: 'bob', reason: 'ticket 7' });
    await s.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
    const bytes = readFileSync(path);
    expect(bytes.includes('web-01')).toBe(false);

    const again = await openStore(path, key);
    expect(again.registration(U1)).toMatchObject({ state: 'approved', name: 'web-01' });
    expect(again.auditLog().map((e) => [e.seq, e.actor, e.action, e.target])).toEqual([
      [1, 'alice', 'register', U1],
      [2, 'bob', 'approve', U1],
    ]);
    expect(again.auditLog(1)).toHaveLength(1);
    expect(again.verifyAudit()).toMatchObject({ ok: true, entries: 2 });
    await again.close();
  });

  it('createStore refuses to overwrite; openStore without create refuses a missing store', async () => {
    const path = freshPath();
    await (await createStore(path, key)).close();
    await expect(createStore(path, key)).rejects.toMatchObject({ code: 'STORE_EXISTS' });
    await expect(openStore(freshPath(), key)).rejects.toMatchObject({
      code: 'STORE_OPEN',
      message: expect.stringMatching(/billboard init/),
    });
  });

  it('one writer: a second open of the same store is refused naming the holder, and allowed after close', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    await expect(openStore(path, key)).rejects.toMatchObject({
      code: 'STORE_LOCKED',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await s.close();
    const t = await openStore(path, key);
    await t.close();
  });

  it('a wrong passphrase is STORE_AUTH and releases the lock', async () => {
    const path = freshPath();
    await (await createStore(path, key)).close();
    await expect(openStore(path, { kind: 'passphrase', passphrase: 'nope' })).rejects.toMatchObject({ code: 'STORE_AUTH' });
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('resolves VMs by name, full UUID and unique prefix; ambiguity and absence are clear errors', async () => {
    const s = await createStore(freshPath(), key);
    await s.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'a');
    await s.register({ uuid: U2, name: 'db-01', origin: 'operator' }, 'a');
    expect(s.resolveRegistration('web-01').uuid).toBe(U1);
    expect(() => s.resolveRegistration('WEB-01')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' })); // names compare exactly
    expect(s.resolveRegistration(U2).name).toBe('db-01');
    expect(s.resolveRegistration('11111111').uuid).toBe(U1);
    expect(() => s.resolveRegistration('1111')).toThrow(expect.objectContaining({ code: 'AMBIGUOUS' }));
    expect(() => s.resolveRegistration('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    await s.close();
  });

  it('refuses bad input and impossible transitions, writing nothing', async () => {
    const s = await createStore(freshPath(), key);
    await expect(s.register({ uuid: 'not-a-uuid', name: 'x', origin: 'operator' }, 'a')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(s.register({ uuid: U1, name: 'x', macs: ['zz'], origin: 'operator' }, 'a')).rejects.toMatchObject({ code: 'USAGE' });
    await expect(s.register({ uuid: U1, name: 'x', publicKey: 'abc', origin: 'operator' }, 'a')).rejects.toMatchObject({ code: 'USAGE' });
    await s.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'a');
    await expect(s.register({ uuid: U1, name: 'again', origin: 'operator' }, 'a')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(s.register({ uuid: U2, name: 'web-01', origin: 'operator' }, 'a')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(s.decide(U1, 'revoked', 'a')).resolves.toMatchObject({ state: 'revoked' });
    await expect(s.decide(U1, 'approved', 'a')).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/cannot approve "web-01": it is revoked/),
    });
    await expect(s.decide(U2, 'approved', 'a')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(s.auditLog().map((e) => e.action)).toEqual(['register', 'revoke']);
    await s.close();
  });

  it('no log, no action: when the write fails, neither the change nor its audit entry exists', async () => {
    const path = freshPath();
    // the disk fills up half-way through appending a change (part of it reaches the file), then recovers
    let failing = false;
    const io = {
      async append(fh: FileHandle, bytes: Buffer, position: number) {
        if (failing) {
          await fh.write(bytes, 0, 7, position);
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        await fh.write(bytes, 0, bytes.length, position);
        await fh.datasync();
      },
    };
    const s = await createStore(path, key, { journal: { io } });
    await s.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'a');
    failing = true;
    await expect(s.decide(U1, 'approved', 'a')).rejects.toMatchObject({ code: 'AUDIT_FAILED', message: /no space left/ });
    await expect(s.audit('a', 'stop', U1)).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    expect(s.registration(U1)!.state).toBe('pending');
    expect(s.auditLog()).toHaveLength(1);
    failing = false;
    await expect(s.decide(U1, 'approved', 'a')).resolves.toMatchObject({ state: 'approved' });
    expect(s.auditLog().map((e) => e.seq)).toEqual([1, 2]);
    expect(s.verifyAudit().ok).toBe(true);
    await s.close();
    // the torn bytes were cut: the file holds exactly the acknowledged changes
    const again = await openStore(path, key);
    expect(again.registration(U1)!.state).toBe('approved');
    expect(again.auditLog().map((e) => e.action)).toEqual(['register', 'approve']);
    expect(again.verifyAudit().ok).toBe(true);
    await again.close();
  });

  it('no log, no action also when a whole snapshot cannot be written (a new store)', async () => {
    const path = freshPath();
    const replace = () => Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    await expect(createStore(path, key, { journal: { io: { replace } } })).rejects.toMatchObject({ code: 'STORE_WRITE' });
    expect(existsSync(path)).toBe(false);
  });

  it('a write appends only its change; compaction folds changes into a snapshot and loses nothing', async () => {
    const path = freshPath();
    const s = await createStore(path, key, { journal: { compactMinBytes: 1 << 30 } });
    for (let i = 0; i < 40; i++) {
      await s.register({ uuid: `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`, name: `vm-${i}`, origin: 'operator' }, 'a');
    }
    const grown = statSync(path).size;
    await s.audit('a', 'ack', 'F-1');
    const oneMore = statSync(path).size - grown;
    expect(oneMore).toBeGreaterThan(100);
    expect(oneMore).toBeLessThan(1000); // one entry, not the whole document again
    // writes keep landing while a compaction runs, and end up in the new file
    const compacting = s.compact();
    const during = Promise.all([s.decide('00000003-0000-4000-8000-000000000000', 'approved', 'b'), s.audit('b', 'ack', 'F-2')]);
    await compacting;
    await during;
    await s.audit('b', 'ack', 'F-3');
    expect(s.stats().compactions).toBe(1);
    expect(statSync(path).size).toBeLessThan(grown + 40 * oneMore);
    await s.close();
    const again = await openStore(path, key);
    expect(again.registrations()).toHaveLength(40);
    expect(again.registration('00000003-0000-4000-8000-000000000000')!.state).toBe('approved');
    expect(
      again
        .auditLog()
        .map((e) => e.target)
        .slice(-4),
    ).toEqual(['F-1', '00000003-0000-4000-8000-000000000000', 'F-2', 'F-3']);
    expect(again.verifyAudit()).toMatchObject({ ok: true, entries: 44 });
    await again.close();
  });

  it('compacts by itself once the appended changes outgrow the snapshot, without losing a write', async () => {
    const path = freshPath();
    const s = await createStore(path, key, { journal: { compactMinBytes: 2048, compactRatio: 0.5 } });
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.audit('a', 'ack', `F-${i}`)));
    for (let i = 200; i < 300; i++) await s.audit('a', 'ack', `F-${i}`);
    expect(s.stats().compactions).toBeGreaterThan(0);
    await s.close();
    const again = await openStore(path, key);
    expect(again.auditLog().map((e) => e.target)).toEqual(Array.from({ length: 300 }, (_, i) => `F-${i}`));
    expect(again.verifyAudit().ok).toBe(true);
    await again.close();
  });

  it('a change cut short by a crash is ignored at open and overwritten by the next write', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    await s.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'a');
    await s.close();
    appendFileSync(path, Buffer.from([0, 0, 1, 0, 9, 9, 9])); // a change's first bytes, and no more
    // and the half-written compaction of the process that died (pid 999999)
    const leftover = join(dirname(path), `.${basename(path)}.999999.compact`);
    writeFileSync(leftover, 'half a snapshot');
    const torn = readFileSync(path);
    const again = await openStore(path, key);
    expect(readFileSync(path).equals(torn)).toBe(true); // opening changes nothing in the store
    expect(existsSync(leftover)).toBe(false); // and removes what the dead writer left beside it
    await again.decide(U1, 'approved', 'a');
    await again.close();
    const third = await openStore(path, key);
    expect(third.registration(U1)!.state).toBe('approved');
    expect(third.verifyAudit()).toMatchObject({ ok: true, entries: 2 });
    await third.close();
  });

  it('serializes concurrent writes: every entry lands, in order, chain intact', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    await Promise.all(Array.from({ length: 25 }, (_, i) => s.audit('a', 'ack', `F-${i}`)));
    expect(s.auditLog().map((e) => e.target)).toEqual(Array.from({ length: 25 }, (_, i) => `F-${i}`));
    await s.close();
    const again = await openStore(path, key);
    expect(again.verifyAudit()).toMatchObject({ ok: true, entries: 25 });
    await again.close();
  });

  it('keeps findings and jobs across a reopen (not audited)', async () => {
    const path = freshPath();
    const s = await createStore(path, key);
    const f = {
      id: 'F-1',
      code: 'SILENT',
      severity: 'medium',
      vm: U1,
      hosts: ['lab-a'],
      evidence: 'e',
      firstSeen: 1,
      lastSeen: 2,
      state: 'open',
    };
    await s.saveFindings([f as never]);
    await s.saveJob({ id: 'J-1', vmName: 'web-01' } as never);
    await s.saveJob({ id: 'J-1', vmName: 'web-01', state: 'denied' } as never);
    await s.close();
    const again = await openStore(path, key);
    expect(again.findings()).toEqual([f]);
    expect(again.jobs()).toEqual([{ id: 'J-1', vmName: 'web-01', state: 'denied' }]);
    expect(again.auditLog()).toHaveLength(0);
    await again.close();
  });
});
