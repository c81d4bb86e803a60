import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt, webcrypto } from 'node:crypto';
import { BillboardError } from '../model/errors.js';

// File layout (all integers big-endian):
//   magic "BBSTORE1" (8) | kdf (1: 1 = scrypt(passphrase), 2 = HKDF(key file)) | log2N (1) | r (1) | p (1)
//   | salt (16) | iv (12) | tag (16) | ciphertext
// The header (everything before the tag) is authenticated as AES-GCM additional data, so a flipped
// header byte fails like a flipped ciphertext byte: "wrong key or tampered", never garbage.

const MAGIC = Buffer.from('BBSTORE1', 'ascii');
const HEADER_LEN = 8 + 4 + 16 + 12;
const TAG_LEN = 16;

export type KeySource = { kind: 'passphrase'; passphrase: string } | { kind: 'keyfile'; key: Buffer; file: string };

export interface KdfParams {
  kdf: 1 | 2;
  log2N: number;
  r: number;
  p: number;
  salt: Buffer;
}

/** scrypt N=2^15, r=8 (32 MiB, ~80 ms here): costly to brute-force, still under the 300 ms open budget. */
export function newKdfParams(source: KeySource): KdfParams {
  return { kdf: source.kind === 'passphrase' ? 1 : 2, log2N: 15, r: 8, p: 1, salt: randomBytes(16) };
}

export async function deriveKey(source: KeySource, params: KdfParams): Promise<Buffer> {
  if (params.kdf === 1) {
    if (source.kind !== 'passphrase') {
      throw new BillboardError('STORE_AUTH', 'this store is protected by a passphrase: set BILLBOARD_PASSPHRASE (not store.keyFile)');
    }
    const N = 2 ** params.log2N;
    return new Promise((resolve, reject) => {
      // async scrypt runs on the libuv pool: the event loop never stalls on the KDF
      scrypt(source.passphrase, params.salt, 32, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r }, (err, key) =>
        err ? reject(new BillboardError('STORE_OPEN', `key derivation failed: ${err.message}`)) : resolve(key),
      );
    });
  }
  if (source.kind !== 'keyfile') {
    throw new BillboardError('STORE_AUTH', 'this store is protected by a key file: set store.keyFile in the config');
  }
  return Buffer.from(hkdfSync('sha256', source.key, params.salt, 'billboard store v1', 32));
}

function header(params: KdfParams, iv: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_LEN);
  MAGIC.copy(h, 0);
  h[8] = params.kdf;
  h[9] = params.log2N;
  h[10] = params.r;
  h[11] = params.p;
  params.salt.copy(h, 12);
  iv.copy(h, 28);
  return h;
}

export function readParams(file: Buffer, path: string): KdfParams {
  if (file.length < HEADER_LEN + TAG_LEN || !file.subarray(0, 8).equals(MAGIC)) {
    throw new BillboardError('STORE_OPEN', `${path} is not a billboard store (bad header)`);
  }
  const kdf = file[8];
  if (kdf !== 1 && kdf !== 2) throw new BillboardError('STORE_OPEN', `${path}: unknown key derivation ${kdf}`);
  const log2N = file[9]!;
  if (log2N < 10 || log2N > 22) throw new BillboardError('STORE_OPEN', `${path}: implausible scrypt cost 2^${log2N}`);
  return { kdf, log2N, r: file[10]!, p: file[11]!, salt: Buffer.from(file.subarray(12, 28)) };
}

export function encrypt(plain: Buffer, key: Buffer, params: KdfParams): Buffer {
  const iv = randomBytes(12);
  const h = header(params, iv);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(h);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([h, c.getAuthTag(), body]);
}

export function decrypt(file: Buffer, key: Buffer, path: string): Buffer {
  const h = file.subarray(0, HEADER_LEN);
  const iv = h.subarray(28, 40);
  const tag = file.subarray(HEADER_LEN, HEADER_LEN + TAG_LEN);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(h);
  d.setAuthTag(tag);
  try {
    return Buffer.concat([d.update(file.subarray(HEADER_LEN + TAG_LEN)), d.final()]);
  } catch {
    throw new BillboardError(
      'STORE_AUTH',
      `cannot decrypt ${path}: wrong passphrase or key file, or the file has been tampered with`,
    );
  }
}

// The same layout through WebCrypto, whose AES-GCM runs on the libuv thread pool: sealing or opening a
// store of several MiB never blocks the event loop (the synchronous pair above would, for tens of ms).

async function gcmKey(key: Buffer) {
  return webcrypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

export async function encryptAsync(plain: Buffer, key: Buffer, params: KdfParams): Promise<Buffer> {
  const iv = randomBytes(12);
  const h = header(params, iv);
  const sealed = Buffer.from(
    await webcrypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: h, tagLength: TAG_LEN * 8 }, await gcmKey(key), plain),
  );
  // WebCrypto returns ciphertext ‖ tag; the file keeps the tag before the ciphertext
  const out = Buffer.allocUnsafe(h.length + sealed.length);
  h.copy(out, 0);
  sealed.copy(out, HEADER_LEN, sealed.length - TAG_LEN);
  sealed.copy(out, HEADER_LEN + TAG_LEN, 0, sealed.length - TAG_LEN);
  return out;
}

export async function decryptAsync(file: Buffer, key: Buffer, path: string): Promise<Buffer> {
  const h = file.subarray(0, HEADER_LEN);
  const iv = h.subarray(28, 40);
  const sealed = Buffer.allocUnsafe(file.length - HEADER_LEN);
  file.copy(sealed, 0, HEADER_LEN + TAG_LEN);
  file.copy(sealed, sealed.length - TAG_LEN, HEADER_LEN, HEADER_LEN + TAG_LEN);
  try {
    return Buffer.from(
      await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: h, tagLength: TAG_LEN * 8 }, await gcmKey(key), sealed),
    );
  } catch {
    throw new BillboardError(
      'STORE_AUTH',
      `cannot decrypt ${path}: wrong passphrase or key file, or the file has been tampered with`,
    );
  }
}

/**
 * Seal a document given as many pieces, without one big copy and without blocking the event loop for long:
 * pieces are gathered into ~256 KiB batches, each encrypted with the (fast, synchronous) AES-GCM cipher,
 * yielding between batches once a time slice is used up. Returns the file as buffers, ready for writev.
 */
export async function encryptPieces(pieces: readonly Buffer[], key: Buffer, params: KdfParams, sliceMs = 4): Promise<Buffer[]> {
  const iv = randomBytes(12);
  const h = header(params, iv);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(h);
  const body: Buffer[] = [];
  let batch: Buffer[] = [];
  let batchLen = 0;
  let sliceStart = performance.now();
  for (const piece of pieces) {
    batch.push(piece);
    batchLen += piece.length;
    if (batchLen < 256 * 1024) continue;
    body.push(c.update(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchLen)));
    batch = [];
    batchLen = 0;
    if (performance.now() - sliceStart > sliceMs) {
      await new Promise((r) => setImmediate(r));
      sliceStart = performance.now();
    }
  }
  if (batchLen) body.push(c.update(Buffer.concat(batch, batchLen)));
  const fin = c.final();
  if (fin.length) body.push(fin);
  return [h, c.getAuthTag(), ...body];
}
