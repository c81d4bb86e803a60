import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import { deriveKey, newKdfParams, readParams, type KdfParams, type KeySource } from '../../src/store/crypto.js';
import { openFile, sealChange, sealSnapshot } from '../../src/store/store-file.js';
import { sealFile } from '../support/store-files.js';

// The documented layout (store-file.ts): kdf header 28 | generation 16 | iv 12 | length 8 | tag 16 | snapshot,
// then changes: length 4 | check 16 | iv 12 | tag 16 | ciphertext.
const SNAP_BODY = 80;
const CHANGE_HEAD = 48;
const pass: KeySource = { kind: 'passphrase', passphrase: 'correct horse battery staple' };
const keyfile: KeySource = { kind: 'keyfile', key: randomBytes(32), file: '/k' };

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(BillboardError);
    return (e as BillboardError).code;
  }
  return undefined;
}

const snapshotPlain = Buffer.from(JSON.stringify({ registrations: [{ name: 'web-01', uuid: '11111111-2222-3333-4444-555555555555' }] }));
const changePlain = (i: number) => Buffer.from(JSON.stringify({ a: [{ seq: i, actor: 'alice' }] }));

/** a file: snapshot + n changes */
async function journal(n: number, source: KeySource = pass) {
  const params = newKdfParams(source);
  const key = await deriveKey(source, params);
  const gen = randomBytes(16);
  const parts = await sealSnapshot([snapshotPlain.subarray(0, 20), snapshotPlain.subarray(20)], key, params, gen, 1);
  for (let i = 1; i <= n; i++) parts.push(sealChange(changePlain(i), key, params, gen, i));
  return { params, key, gen, file: Buffer.concat(parts) };
}

describe('store file', () => {
  it('round-trips a snapshot and its changes, with the passphrase (scrypt) and with a key file (HKDF)', async () => {
    for (const src of [pass, keyfile]) {
      const { file } = await journal(3, src);
      const params = readParams(file, 'store.db');
      const key = await deriveKey(src, params);
      const f = await openFile(file, key, 'store.db');
      expect(f.snapshot.equals(snapshotPlain)).toBe(true);
      expect(f.changes.map(String)).toEqual([1, 2, 3].map((i) => String(changePlain(i))));
      expect(f).toMatchObject({ version: 3, end: file.length, tornBytes: 0 });
    }
  });

  it('writes the documented header (magic, kdf, scrypt cost, salt) and no plaintext', async () => {
    const { file, params } = await journal(2);
    expect(file.subarray(0, 8).toString('ascii')).toBe('BBSTORE3');
    expect(file[8]).toBe(1);
    expect([file[9], file[10], file[11]]).toEqual([17, 8, 1]); // scrypt N=2^17, r=8, p=1 (OWASP)
    expect(file.subarray(12, 28).equals(params.salt)).toBe(true);
    expect(Number(file.readBigUInt64BE(56))).toBe(snapshotPlain.length);
    expect(file.readUInt32BE(SNAP_BODY + snapshotPlain.length)).toBe(changePlain(1).length);
    expect(file.includes('web-01')).toBe(false);
    expect(file.includes('alice')).toBe(false);
  });

  it('uses a fresh salt per store and a fresh iv per seal', async () => {
    const a = await journal(0);
    const b = await journal(0);
    expect(a.params.salt.equals(b.params.salt)).toBe(false);
    const again = await sealFile(snapshotPlain, a.key, a.params);
    expect(again.subarray(44, 56).equals(a.file.subarray(44, 56))).toBe(false);
    const c1 = sealChange(changePlain(1), a.key, a.params, a.gen, 1);
    const c2 = sealChange(changePlain(1), a.key, a.params, a.gen, 1);
    expect(c1.subarray(20, 32).equals(c2.subarray(20, 32))).toBe(false);
  });

  it('a wrong passphrase is STORE_AUTH with a message that does not leak the passphrase', async () => {
    const { file } = await journal(1);
    const wrong = await deriveKey({ kind: 'passphrase', passphrase: 'wrong' }, readParams(file, 'store.db'));
    const err = await openFile(file, wrong, 'store.db').catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'STORE_AUTH' });
    expect((err as Error).message).toMatch(/wrong passphrase or key file, or the file has been tampered with/);
    expect((err as Error).message).not.toContain('correct horse');
  });

  it('a flipped byte anywhere — header, snapshot, any change — is STORE_AUTH, never garbage', async () => {
    const { file, key } = await journal(3);
    const snapEnd = SNAP_BODY + snapshotPlain.length;
    const positions = [8, 9, 10, 11, 12, 27, 28, 43, 44, 55, 56, 63, 64, 79, 80, snapEnd - 1];
    // each change: its length, iv, tag and ciphertext
    for (let at = snapEnd, i = 0; i < 3; i++) {
      const len = file.readUInt32BE(at);
      positions.push(at, at + 3, at + 4, at + 19, at + 20, at + 32, at + 48, at + 48 + len - 1);
      at += CHANGE_HEAD + len;
    }
    for (const pos of positions) {
      const bad = Buffer.from(file);
      bad[pos]! ^= 0x01;
      // kdf parameters are checked before anything is derived (STORE_OPEN when implausible); all else is authenticated
      expect(await codeOf(openFile(bad, key, 'store.db')), `byte ${pos}`).toMatch(pos < 12 ? /^STORE_(AUTH|OPEN)$/ : /^STORE_AUTH$/);
    }
  });

  it('changes cannot be reordered, dropped from the middle, or spliced in from another snapshot', async () => {
    const { file, key, params } = await journal(3);
    const snapEnd = SNAP_BODY + snapshotPlain.length;
    const cut: Buffer[] = [];
    for (let at = snapEnd; at < file.length;) {
      const len = file.readUInt32BE(at);
      cut.push(file.subarray(at, at + CHANGE_HEAD + len));
      at += CHANGE_HEAD + len;
    }
    const head = file.subarray(0, snapEnd);
    expect(await codeOf(openFile(Buffer.concat([head, cut[1]!, cut[0]!, cut[2]!]), key, 'x'))).toBe('STORE_AUTH');
    expect(await codeOf(openFile(Buffer.concat([head, cut[0]!, cut[2]!]), key, 'x'))).toBe('STORE_AUTH');
    const foreign = sealChange(changePlain(4), key, params, randomBytes(16), 4);
    expect(await codeOf(openFile(Buffer.concat([file, foreign]), key, 'x'))).toBe('STORE_AUTH');
  });

  it('a change cut short at the end (a crash while appending) is ignored and reported as torn bytes', async () => {
    const { file, key, params, gen } = await journal(2);
    const next = sealChange(changePlain(3), key, params, gen, 3);
    for (const keep of [1, 3, 4, 31, 32, 47, 48, next.length - 1]) {
      const f = await openFile(Buffer.concat([file, next.subarray(0, keep)]), key, 'x');
      expect(f.changes).toHaveLength(2);
      expect(f).toMatchObject({ end: file.length, tornBytes: keep });
    }
  });

  it('a flipped magic byte or a short file is "not a billboard store" (STORE_OPEN)', async () => {
    const { file, key } = await journal(0);
    const bad = Buffer.from(file);
    bad[0] ^= 0x20;
    expect(await codeOf(() => readParams(bad, 'x'))).toBe('STORE_OPEN');
    expect(await codeOf(openFile(bad, key, 'x'))).toBe('STORE_OPEN');
    expect(await codeOf(() => readParams(file.subarray(0, 50), 'x'))).toBe('STORE_OPEN');
    expect(await codeOf(() => readParams(Buffer.from('{"format":1}'), 'x'))).toBe('STORE_OPEN');
    expect(await codeOf(openFile(file.subarray(0, SNAP_BODY + 3), key, 'x'))).toBe('STORE_AUTH');
  });

  it('refuses an implausible scrypt cost or unknown kdf in the header before deriving anything', async () => {
    const { file } = await journal(0);
    const huge = Buffer.from(file);
    huge[9] = 40;
    expect(await codeOf(() => readParams(huge, 'x'))).toBe('STORE_OPEN');
    const kdf = Buffer.from(file);
    kdf[8] = 7;
    expect(await codeOf(() => readParams(kdf, 'x'))).toBe('STORE_OPEN');
  });

  it('a key file cannot open a passphrase store and vice versa (STORE_AUTH, says which is needed)', async () => {
    const p = newKdfParams(pass);
    await expect(deriveKey(keyfile, p)).rejects.toThrow(/protected by a passphrase/);
    await expect(deriveKey(pass, newKdfParams(keyfile))).rejects.toMatchObject({ code: 'STORE_AUTH' });
  });

  it('a wrong key file is STORE_AUTH', async () => {
    const { file } = await journal(1, keyfile);
    const other = await deriveKey({ kind: 'keyfile', key: randomBytes(32), file: '/o' }, readParams(file, 'x'));
    expect(await codeOf(openFile(file, other, 'x'))).toBe('STORE_AUTH');
  });

  it('still reads the older whole-file layout (BBSTORE1)', async () => {
    const params: KdfParams = newKdfParams(pass);
    const key = await deriveKey(pass, params);
    const head = Buffer.alloc(40);
    Buffer.from('BBSTORE1').copy(head, 0);
    head[8] = params.kdf;
    head[9] = params.log2N;
    head[10] = params.r;
    head[11] = params.p;
    params.salt.copy(head, 12);
    randomBytes(12).copy(head, 28);
    const c = createCipheriv('aes-256-gcm', key, head.subarray(28));
    c.setAAD(head);
    const body = Buffer.concat([c.update(snapshotPlain), c.final()]);
    const v1 = Buffer.concat([head, c.getAuthTag(), body]);
    const f = await openFile(v1, key, 'x');
    expect(f).toMatchObject({ version: 1, changes: [] });
    expect(f.generation).toBeUndefined();
    expect(f.snapshot.equals(snapshotPlain)).toBe(true);
    v1[v1.length - 1]! ^= 1;
    expect(await codeOf(openFile(v1, key, 'x'))).toBe('STORE_AUTH');
  });

  it('every single flipped bit of a journal (snapshot and changes) fails the open; none reads as a torn tail', async () => {
    const { file, key } = await journal(3, keyfile);
    for (let bit = 0; bit < file.length * 8; bit++) {
      const bad = Buffer.from(file);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(await codeOf(openFile(bad, key, 'x')), `bit ${bit}`).toMatch(/^STORE_(AUTH|OPEN)$/);
    }
  });

  it("the high bit of a change's length flipped is STORE_AUTH naming the change, not a torn tail that drops it", async () => {
    const { file, key } = await journal(3, keyfile);
    const second = SNAP_BODY + snapshotPlain.length + CHANGE_HEAD + changePlain(1).length;
    const bad = Buffer.from(file);
    bad[second]! ^= 0x80;
    await expect(openFile(bad, key, 'store.db')).rejects.toMatchObject({ code: 'STORE_AUTH', message: expect.stringMatching(/change #2/) });
  });

  it('a tail of zeros (a filesystem that extended the file but never got the change) is torn, not damage', async () => {
    const { file, key, params, gen } = await journal(2, keyfile);
    const next = sealChange(changePlain(3), key, params, gen, 3);
    for (const zeros of [next.length, 100]) {
      const f = await openFile(Buffer.concat([file, Buffer.alloc(zeros)]), key, 'x');
      expect(f).toMatchObject({ end: file.length, tornBytes: zeros });
    }
    const partial = Buffer.concat([file, next.subarray(0, 60), Buffer.alloc(next.length - 60)]);
    expect(await openFile(partial, key, 'x')).toMatchObject({ end: file.length, tornBytes: next.length });
    const headerHalf = Buffer.concat([file, next.subarray(0, 10), Buffer.alloc(next.length - 10)]);
    expect(await openFile(headerHalf, key, 'x')).toMatchObject({ end: file.length, tornBytes: next.length });
  });

  it('still reads the previous layout (BBSTORE2, scrypt N=2^15): snapshot and changes', async () => {
    const params: KdfParams = { ...newKdfParams(pass), log2N: 15 };
    const key = await deriveKey(pass, params);
    const gen = randomBytes(16);
    const head = Buffer.alloc(64);
    Buffer.from('BBSTORE2').copy(head, 0);
    head[8] = 1;
    head[9] = 15;
    head[10] = 8;
    head[11] = 1;
    params.salt.copy(head, 12);
    gen.copy(head, 28);
    randomBytes(12).copy(head, 44);
    head.writeBigUInt64BE(BigInt(snapshotPlain.length), 56);
    const c = createCipheriv('aes-256-gcm', key, head.subarray(44, 56));
    c.setAAD(head);
    const body = Buffer.concat([c.update(snapshotPlain), c.final()]);
    const parts = [head, c.getAuthTag(), body];
    for (let n = 1; n <= 2; n++) {
      const aad = Buffer.alloc(52);
      head.copy(aad, 0, 0, 28);
      gen.copy(aad, 28);
      aad.writeUInt32BE(n, 44);
      aad.writeUInt32BE(changePlain(n).length, 48);
      const iv = randomBytes(12);
      const cc = createCipheriv('aes-256-gcm', key, iv);
      cc.setAAD(aad);
      const ct = Buffer.concat([cc.update(changePlain(n)), cc.final()]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(ct.length);
      parts.push(len, iv, cc.getAuthTag(), ct);
    }
    const v2 = Buffer.concat(parts);
    expect(readParams(v2, 'x')).toMatchObject({ version: 2, log2N: 15, r: 8, p: 1 });
    const again = await deriveKey(pass, readParams(v2, 'x'));
    const f = await openFile(v2, again, 'x');
    expect(f).toMatchObject({ version: 2, tornBytes: 0 });
    expect(f.generation).toBeUndefined(); // the next write makes a snapshot in the current layout
    expect(f.changes.map(String)).toEqual([1, 2].map((i) => String(changePlain(i))));
  });

  it('refuses scrypt parameters that would take gigabytes or minutes, before deriving anything', async () => {
    const { file } = await journal(0, keyfile);
    for (const [i, v] of [
      [10, 0],
      [10, 200],
      [11, 0],
      [11, 9],
      [9, 21],
    ] as const) {
      const bad = Buffer.from(file);
      bad[i] = v;
      expect(await codeOf(() => readParams(bad, 'x')), `byte ${i} = ${v}`).toBe('STORE_OPEN');
    }
  });
});
