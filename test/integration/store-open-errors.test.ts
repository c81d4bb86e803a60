// Opening a store that cannot be opened — wrong passphrase, tampered bytes, wrong key file — is one line on
// stderr, exit 2, and the file is left exactly as it was.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_CONFIG, requireDist, runBillboard, sha256File, stderrLines, tempLab, type TempLab } from './script-harness.js';

const labs: TempLab[] = [];
beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

async function populated(): Promise<TempLab> {
  const l = tempLab();
  labs.push(l);
  const r = await runBillboard(
    ['script', '--json'],
    l.env,
    'register web-01 --uuid 11111111-2222-3333-4444-555555555555\napprove web-01\n',
  );
  expect(r.code).toBe(0);
  return l;
}

describe('store open errors', () => {
  it('a wrong passphrase: exit 2, exactly one line on stderr, store bytes unchanged', async () => {
    const l = await populated();
    const before = sha256File(l.storePath);
    for (const cmd of [['script', '--json'], ['script'], ['script', '--read-only']]) {
      const r = await runBillboard(
        cmd,
        { ...l.env, BILLBOARD_PASSPHRASE: 'not the passphrase' },
        'pending\nregister x --uuid 22222222-2222-3333-4444-555555555555\n',
      );
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = stderrLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^billboard: cannot decrypt .*store\.db: wrong passphrase or key file, or the file has been tampered with$/);
      expect(lines[0]).not.toContain('not the passphrase');
      expect(sha256File(l.storePath)).toBe(before);
    }
    // and the right passphrase still opens it
    const ok = await runBillboard(['script', '--json'], l.env, 'audit verify\n');
    expect(ok.json()[0]).toMatchObject({ ok: true, data: { entries: 2 } });
  });

  it('a flipped ciphertext or header byte: exit 2, one line, file untouched', async () => {
    const l = await populated();
    const orig = readFileSync(l.storePath);
    for (const pos of [20, 30, 45, orig.length - 10]) {
      const bad = Buffer.from(orig);
      bad[pos]! ^= 0x04;
      writeFileSync(l.storePath, bad);
      const before = sha256File(l.storePath);
      const r = await runBillboard(['script', '--json'], l.env, 'pending\n');
      expect(r.code, `byte ${pos}`).toBe(2);
      expect(stderrLines(r.stderr)).toHaveLength(1);
      expect(r.stderr).toMatch(/tampered|not a billboard store/);
      expect(sha256File(l.storePath)).toBe(before);
    }
  });

  it('a file that is not a store at all: exit 2, one line, untouched', async () => {
    const l = await populated();
    writeFileSync(l.storePath, '{"format":1,"registrations":[]}');
    const before = sha256File(l.storePath);
    const r = await runBillboard(['script', '--json'], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/not a billboard store/)]);
    expect(sha256File(l.storePath)).toBe(before);
  });

  it('store.keyFile works without a passphrase, and another key file is refused (exit 2, untouched)', async () => {
    const l = tempLab(null);
    labs.push(l);
    const keyA = join(l.dir, 'a.key');
    const keyB = join(l.dir, 'b.key');
    writeFileSync(keyA, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    writeFileSync(keyB, randomBytes(32), { mode: 0o600 });
    const cfgA = join(l.dir, 'a.json');
    const cfgB = join(l.dir, 'b.json');
    writeFileSync(cfgA, JSON.stringify({ ...LAB_CONFIG, store: { path: 'kf/store.db', keyFile: 'a.key' } }));
    writeFileSync(cfgB, JSON.stringify({ ...LAB_CONFIG, store: { path: 'kf/store.db', keyFile: 'b.key' } }));
    const storePath = join(l.dir, 'kf', 'store.db');
    expect((await runBillboard(['init', '--config', cfgA], l.env)).code).toBe(0);
    const r = await runBillboard(
      ['script', '--json', '--config', cfgA],
      l.env,
      'register web-01 --uuid 11111111-2222-3333-4444-555555555555\naudit verify\n',
    );
    expect(r.code).toBe(0);
    const before = sha256File(storePath);
    const wrong = await runBillboard(['script', '--json', '--config', cfgB], l.env, 'pending\n');
    expect(wrong.code).toBe(2);
    expect(stderrLines(wrong.stderr)).toHaveLength(1);
    expect(sha256File(storePath)).toBe(before);
    // a passphrase cannot open a key-file store either
    const pass = await runBillboard(['script', '--json', '--config', cfgA], { ...l.env, BILLBOARD_PASSPHRASE: 'x' }, 'pending\n');
    expect(pass.code).toBe(2);
    expect(stderrLines(pass.stderr)).toEqual([expect.stringMatching(/key file/)]);
    expect(sha256File(storePath)).toBe(before);
  });

  it('a store.keyFile open to group or others is refused: exit 2, one line naming the file and its mode', async () => {
    const l = tempLab(null);
    labs.push(l);
    const keyFile = join(l.dir, 'store.key');
    writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
    const cfg = join(l.dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ ...LAB_CONFIG, store: { path: 'kf/store.db', keyFile: 'store.key' } }));
    expect((await runBillboard(['init', '--config', cfg], l.env)).code).toBe(0);
    const storePath = join(l.dir, 'kf', 'store.db');
    const before = sha256File(storePath);
    chmodSync(keyFile, 0o644);
    const r = await runBillboard(['script', '--json', '--config', cfg], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([
      `billboard: store.keyFile ${keyFile} has mode 0644: a key must not be accessible by group or others (chmod 600 ${keyFile})`,
    ]);
    expect(sha256File(storePath)).toBe(before);
  });
});
