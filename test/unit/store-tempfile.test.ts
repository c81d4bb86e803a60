// The store's temp files (durableWrite's and the compaction's) have unguessable names and are created
// exclusively, never through a symlink, mode 0600: a planted symlink at the predictable old name
// (`.store.db.<pid>.tmp`) or at any name is never written through.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeySource } from '../../src/store/crypto.js';
import { createTemp, durableWrite, tempPath } from '../../src/store/durable-write.js';
import { createStore, openStore } from '../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'bb-store-tmp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key: KeySource = { kind: 'keyfile', key: Buffer.alloc(32, 4), file: '/k' };
let n = 0;
const freshDir = () => {
  const d = join(root, `d${++n}`);
  mkdirSync(d, { mode: 0o700 });
  return d;
};

describe('store temp files', () => {
  it('a symlink planted at the pid-named temp path is not followed: its target keeps its bytes', async () => {
    const dir = freshDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const path = join(dir, 'store.db');
    for (const kind of ['tmp', 'compact']) symlinkSync(victim, join(dir, `.store.db.${process.pid}.${kind}`));
    await durableWrite(path, Buffer.from('new content'));
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readFileSync(path, 'utf8')).toBe('new content');
    expect(statSync(path).mode & 0o777).toBe(0o600);

    // a whole store: a snapshot (durableWrite) and a compaction, with the links still planted
    const spath = join(dir, 'real.db');
    for (const kind of ['tmp', 'compact']) symlinkSync(victim, join(dir, `.real.db.${process.pid}.${kind}`));
    const s = await createStore(spath, key);
    await s.audit('a', 'ack', 'F-1');
    await s.compact();
    await s.close();
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(statSync(spath).mode & 0o777).toBe(0o600);
    const again = await openStore(spath, key);
    expect(again.auditLog()).toHaveLength(1);
    await again.close();
  });

  it('names are random per write, and creation refuses an existing file or symlink at the name', async () => {
    const dir = freshDir();
    const path = join(dir, 'store.db');
    const a = tempPath(path, 'tmp');
    const b = tempPath(path, 'tmp');
    expect(a).not.toBe(b);
    expect(a).toMatch(/\/\.store\.db\.[0-9a-f]{24}\.tmp$/);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, a);
    await expect(createTemp(a)).rejects.toMatchObject({ code: 'EEXIST' });
    writeFileSync(b, 'someone else’s', { mode: 0o666 });
    await expect(createTemp(b)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    const c = tempPath(path, 'compact');
    const fh = await createTemp(c);
    await fh.close();
    expect(lstatSync(c).mode & 0o777).toBe(0o600);
  });

  it('a dead writer’s temp files (random or pid names) are swept at open; nothing else is', async () => {
    const dir = freshDir();
    const path = join(dir, 'store.db');
    await (await createStore(path, key)).close();
    writeFileSync(join(dir, '.store.db.0123456789abcdef01234567.tmp'), 'x');
    writeFileSync(join(dir, '.store.db.4242.compact'), 'x');
    writeFileSync(join(dir, '.store.db.notes'), 'keep');
    await (await openStore(path, key)).close();
    expect(readdirSync(dir).sort()).toEqual(['.store.db.notes', 'store.db']);
  });
});
