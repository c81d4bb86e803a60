import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import { keySourceFrom, requireKeySource } from '../../src/store/key-source.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-keysrc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
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
});
