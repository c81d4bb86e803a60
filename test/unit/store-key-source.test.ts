import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import { keySourceFrom, requireKeySource } from '../../src/store/key-source.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-keysrc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: Buffer | string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode); // whatever the umask
  return p;
}

function failure(f: () => unknown): BillboardError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    return e as BillboardError;
  }
  throw new Error('expected a BillboardError');
}

describe('key source', () => {
  const key = randomBytes(32);

  it('BILLBOARD_PASSPHRASE wins over a key file', () => {
    const k = keySourceFrom({ BILLBOARD_PASSPHRASE: 's3cret' }, file('raw.key', key));
    expect(k).toEqual({ kind: 'passphrase', passphrase: 's3cret' });
  });

  it('an empty BILLBOARD_PASSPHRASE counts as unset', () => {
    expect(keySourceFrom({ BILLBOARD_PASSPHRASE: '' })).toBeUndefined();
    const k = keySourceFrom({ BILLBOARD_PASSPHRASE: '' }, file('raw2.key', key));
    expect(k?.kind).toBe('keyfile');
  });

  it('reads 32 raw bytes', () => {
    const p = file('raw3.key', key);
    const k = keySourceFrom({}, p);
    expect(k).toMatchObject({ kind: 'keyfile', file: p });
    expect(k?.kind === 'keyfile' && k.key.equals(key)).toBe(true);
  });

  it('reads 64 hex characters, with or without a trailing newline', () => {
    for (const text of [key.toString('hex'), key.toString('hex').toUpperCase() + '\n']) {
      const k = keySourceFrom({}, file('hex.key', text));
      expect(k?.kind === 'keyfile' && k.key.equals(key)).toBe(true);
    }
  });

  it('reads base64 of 32 bytes', () => {
    const k = keySourceFrom({}, file('b64.key', key.toString('base64') + '\n'));
    expect(k?.kind === 'keyfile' && k.key.equals(key)).toBe(true);
  });

  it('refuses a file of the wrong size with a message saying how to make one (STORE_OPEN)', () => {
    const p = file('short.key', 'too short');
    const e = failure(() => keySourceFrom({}, p));
    expect(e.code).toBe('STORE_OPEN');
    expect(e.message).toContain(p);
    expect(e.message).toMatch(/32 bytes/);
    expect(e.message).toMatch(/head -c 32 \/dev\/urandom/);
    expect(failure(() => keySourceFrom({}, file('31.key', randomBytes(31)))).code).toBe('STORE_OPEN');
    expect(failure(() => keySourceFrom({}, file('big.key', randomBytes(5000)))).message).toMatch(/too large/);
  });

  it('a missing key file names the file (STORE_OPEN)', () => {
    const e = failure(() => keySourceFrom({}, join(dir, 'nope.key')));
    expect(e.code).toBe('STORE_OPEN');
    expect(e.message).toMatch(/cannot read store\.keyFile .*nope\.key/);
  });

  it('no passphrase and no key file: requireKeySource says what to set', () => {
    expect(keySourceFrom({})).toBeUndefined();
    const e = failure(() => requireKeySource({}));
    expect(e.code).toBe('STORE_OPEN');
    expect(e.message).toMatch(/BILLBOARD_PASSPHRASE/);
    expect(e.message).toMatch(/store\.keyFile/);
  });

  it('refuses a key file readable or writable by group or others, naming the file and its mode (OpenSSH style)', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666]) {
      const p = file(`open-${mode.toString(8)}.key`, key, mode);
      const e = failure(() => keySourceFrom({}, p));
      expect(e.code).toBe('STORE_OPEN');
      expect(e.message).toBe(
        `store.keyFile ${p} has mode 0${mode.toString(8)}: a key must not be accessible by group or others (chmod 600 ${p})`,
      );
    }
    for (const mode of [0o600, 0o400]) expect(keySourceFrom({}, file(`ok-${mode.toString(8)}.key`, key, mode))?.kind).toBe('keyfile');
  });

  it('refuses a key file owned by another user, and one that is not a regular file', () => {
    const p = file('foreign.key', key);
    chownSync(p, 4242, 4242);
    const e = failure(() => keySourceFrom({}, p));
    expect(e.code).toBe('STORE_OPEN');
    expect(e.message).toMatch(new RegExp(`store\\.keyFile ${p} is owned by uid 4242, not by this user`));
    expect(failure(() => keySourceFrom({}, dir)).message).toMatch(/is not a regular file/);
    // a symlink is judged by the file it names
    const link = join(dir, 'link.key');
    symlinkSync(file('lax.key', key, 0o644), link);
    expect(failure(() => keySourceFrom({}, link)).message).toMatch(/has mode 0644/);
  });
});

describe('passphrases for a new store', () => {
  it('refuses short, repetitive and all-digit passphrases, naming why; accepts a few words', async () => {
    const { passphraseProblem } = await import('../../src/store/key-source.js');
    expect(passphraseProblem('x')).toMatch(/1 characters; use at least 12/);
    expect(passphraseProblem('aaaaaaaaaaaaaaaa')).toMatch(/repeats too few/);
    expect(passphraseProblem('123456789012345')).toMatch(/only digits/);
    expect(passphraseProblem('correct horse battery staple')).toBeUndefined();
  });
});
