import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import { decrypt, decryptAsync, deriveKey, encrypt, encryptAsync, encryptPieces, newKdfParams, readParams, type KeySource } from '../../src/store/crypto.js';

const HEADER_LEN = 40; // magic 8 | kdf, log2N, r, p | salt 16 | iv 12
const TAG_LEN = 16;
const pass: KeySource = { kind: 'passphrase', passphrase: 'correct horse battery staple' };
const keyfile: KeySource = { kind: 'keyfile', key: randomBytes(32), file: '/k' };

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    return (e as BillboardError).code;
  }
  return undefined;
}

async function sealed(plain: Buffer, source: KeySource = pass) {
  const params = newKdfParams(source);
  const key = await deriveKey(source, params);
  return { params, key, file: encrypt(plain, key, params) };
}

describe('store crypto', () => {
  const plain = Buffer.from(JSON.stringify({ registrations: [{ name: 'web-01', uuid: '11111111-2222-3333-4444-555555555555' }] }));

  it('round-trips with the passphrase (scrypt) and with a key file (HKDF)', async () => {
    for (const src of [pass, keyfile]) {
      const { file } = await sealed(plain, src);
      const params = readParams(file, 'store.db');
      const key = await deriveKey(src, params);
      expect(decrypt(file, key, 'store.db').equals(plain)).toBe(true);
    }
  });

  it('writes the documented header: magic, kdf, scrypt cost, salt, iv; no plaintext', async () => {
    const { file, params } = await sealed(plain);
    expect(file.subarray(0, 8).toString('ascii')).toBe('BBSTORE1');
    expect(file[8]).toBe(1);
    expect(2 ** file[9]!).toBeGreaterThanOrEqual(2 ** 14);
    expect(file.subarray(12, 28).equals(params.salt)).toBe(true);
    expect(file.length).toBe(HEADER_LEN + TAG_LEN + plain.length);
    expect(file.includes('web-01')).toBe(false);
    expect(file.includes('11111111-2222')).toBe(false);
  });

  it('uses a fresh salt per store and a fresh iv per write', async () => {
    const a = await sealed(plain);
    const b = await sealed(plain);
    expect(a.params.salt.equals(b.params.salt)).toBe(false);
    const again = encrypt(plain, a.key, a.params);
    expect(again.subarray(28, 40).equals(a.file.subarray(28, 40))).toBe(false);
  });

  it('a wrong passphrase is STORE_AUTH with a message that does not leak the passphrase', async () => {
    const { file } = await sealed(plain);
    const wrong = await deriveKey({ kind: 'passphrase', passphrase: 'wrong' }, readParams(file, 'store.db'));
    let msg = '';
    try {
      decrypt(file, wrong, 'store.db');
    } catch (e) {
      expect((e as BillboardError).code).toBe('STORE_AUTH');
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/wrong passphrase or key file, or the file has been tampered with/);
    expect(msg).not.toContain('correct horse');
  });

  it('a flipped byte anywhere — header, tag or ciphertext — is STORE_AUTH, never garbage', async () => {
    const { file, key } = await sealed(plain);
    // every header byte after the magic (kdf params, salt, iv), the tag, and a few ciphertext bytes
    const positions = [8, 9, 10, 11, 12, 20, 27, 28, 35, 39, 40, 47, 55, 56, 56 + Math.floor(plain.length / 2), file.length - 1];
    for (const pos of positions) {
      const bad = Buffer.from(file);
      bad[pos]! ^= 0x01;
      expect(code(() => decrypt(bad, key, 'store.db')), `byte ${pos}`).toBe('STORE_AUTH');
    }
  });

  it('a flipped magic byte or a short file is "not a billboard store" (STORE_OPEN)', async () => {
    const { file, key } = await sealed(plain);
    const bad = Buffer.from(file);
    bad[0] ^= 0x20;
    expect(code(() => readParams(bad, 'x'))).toBe('STORE_OPEN');
    expect(code(() => decrypt(bad, key, 'x'))).toBe('STORE_AUTH'); // the magic is authenticated too
    expect(code(() => readParams(file.subarray(0, 50), 'x'))).toBe('STORE_OPEN');
    expect(code(() => readParams(Buffer.from('{"format":1}'), 'x'))).toBe('STORE_OPEN');
  });

  it('refuses an implausible scrypt cost or unknown kdf in the header before deriving anything', async () => {
    const { file } = await sealed(plain);
    const huge = Buffer.from(file);
    huge[9] = 40;
    expect(code(() => readParams(huge, 'x'))).toBe('STORE_OPEN');
    const kdf = Buffer.from(file);
    kdf[8] = 7;
    expect(code(() => readParams(kdf, 'x'))).toBe('STORE_OPEN');
  });

  it('a key file cannot open a passphrase store and vice versa (STORE_AUTH, says which is needed)', async () => {
    const p = newKdfParams(pass);
    await expect(deriveKey(keyfile, p)).rejects.toThrow(/protected by a passphrase/);
    await expect(deriveKey(pass, newKdfParams(keyfile))).rejects.toMatchObject({ code: 'STORE_AUTH' });
  });

  it('a wrong key file is STORE_AUTH', async () => {
    const { file } = await sealed(plain, keyfile);
    const other = await deriveKey({ kind: 'keyfile', key: randomBytes(32), file: '/o' }, readParams(file, 'x'));
    expect(code(() => decrypt(file, other, 'x'))).toBe('STORE_AUTH');
  });
});

describe('store crypto: pieces', () => {
  it('encryptPieces writes the same layout: the one-buffer decrypt opens it, and a flipped byte is STORE_AUTH', async () => {
    const params = newKdfParams(pass);
    const key = await deriveKey(pass, params);
    const pieces = Array.from({ length: 3000 }, (_, i) => Buffer.from(`{"n":${i},"pad":"${'x'.repeat(i % 300)}"},\n`));
    const file = Buffer.concat(await encryptPieces(pieces, key, params, 1));
    expect(readParams(file, 'x')).toMatchObject({ kdf: 1, log2N: params.log2N });
    expect(decrypt(file, key, 'x').equals(Buffer.concat(pieces))).toBe(true);
    expect((await decryptAsync(file, key, 'x')).equals(Buffer.concat(pieces))).toBe(true);
    file[file.length - 5]! ^= 1;
    expect(code(() => decrypt(file, key, 'x'))).toBe('STORE_AUTH');
    await expect(decryptAsync(file, key, 'x')).rejects.toMatchObject({ code: 'STORE_AUTH' });
  });

  it('encryptAsync and decrypt agree both ways', async () => {
    const params = newKdfParams(keyfile);
    const key = await deriveKey(keyfile, params);
    const plain = Buffer.from('hello store');
    expect(decrypt(await encryptAsync(plain, key, params), key, 'x').equals(plain)).toBe(true);
    expect((await decryptAsync(encrypt(plain, key, params), key, 'x')).equals(plain)).toBe(true);
  });
});
