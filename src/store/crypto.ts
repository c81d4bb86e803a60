import { createDecipheriv, hkdfSync, randomBytes, scrypt } from 'node:crypto';
import { BillboardError } from '../model/errors.js';

// The key: scrypt of the passphrase, or HKDF of a 32-byte key file, with parameters and salt from the
// file's first 28 bytes (store-file.ts has the whole layout):
//   magic (8: "BBSTORE3"; "BBSTORE2" and "BBSTORE1" for older layouts) | kdf (1: 1 = scrypt(passphrase),
//   2 = HKDF(key file)) | log2N (1) | r (1) | p (1) | salt (16)
// Each store keeps the scrypt cost it was made with, so a store made under older guidance still opens.

export const MAGIC_V1 = Buffer.from('BBSTORE1', 'ascii');
export const MAGIC_V2 = Buffer.from('BBSTORE2', 'ascii');
export const MAGIC_V3 = Buffer.from('BBSTORE3', 'ascii');
export const KDF_HEADER_LEN = 28;
export const TAG_LEN = 16;

export type KeySource = { kind: 'passphrase'; passphrase: string } | { kind: 'keyfile'; key: Buffer; file: string };

export interface KdfParams {
  kdf: 1 | 2;
  log2N: number;
  r: number;
  p: number;
  salt: Buffer;
}

/** New stores: scrypt N=2^17, r=8, p=1 (OWASP's current minimum; 128 MiB, about 0.4 s here). */
export function newKdfParams(source: KeySource): KdfParams {
  return { kdf: source.kind === 'passphrase' ? 1 : 2, log2N: 17, r: 8, p: 1, salt: randomBytes(16) };
}

/** scrypt's memory need (128·N·r bytes), with room for the rest of its state. */
const scryptMaxmem = (p: KdfParams): number => 2 * 128 * 2 ** p.log2N * p.r + (1 << 20);
/** the most a header may ask of the machine: 1 GiB of scrypt memory */
const MAX_SCRYPT_BYTES = 1 << 30;

export async function deriveKey(source: KeySource, params: KdfParams): Promise<Buffer> {
  if (params.kdf === 1) {
    if (source.kind !== 'passphrase') {
      throw new BillboardError('STORE_AUTH', 'this store is protected by a passphrase: set BILLBOARD_PASSPHRASE (not store.keyFile)');
    }
    const N = 2 ** params.log2N;
    return new Promise((resolve, reject) => {
      // async scrypt runs on the libuv pool: the event loop never stalls on the KDF
      scrypt(source.passphrase, params.salt, 32, { N, r: params.r, p: params.p, maxmem: scryptMaxmem(params) }, (err, key) =>
        err ? reject(new BillboardError('STORE_OPEN', `key derivation failed: ${err.message}`)) : resolve(key),
      );
    });
  }
  if (source.kind !== 'keyfile') {
    throw new BillboardError('STORE_AUTH', 'this store is protected by a key file: set store.keyFile in the config');
  }
  return Buffer.from(hkdfSync('sha256', source.key, params.salt, 'billboard store v1', 32));
}

/** The 28-byte key-derivation header of a new file. */
export function kdfHeader(params: KdfParams): Buffer {
  const h = Buffer.alloc(KDF_HEADER_LEN);
  MAGIC_V3.copy(h, 0);
  h[8] = params.kdf;
  h[9] = params.log2N;
  h[10] = params.r;
  h[11] = params.p;
  params.salt.copy(h, 12);
  return h;
}

/** The file's layout version and key-derivation parameters; refuses anything that is not a store. */
export function readParams(file: Buffer, path: string): KdfParams & { version: 1 | 2 | 3 } {
  const magic = file.subarray(0, 8);
  const version = magic.equals(MAGIC_V3) ? 3 : magic.equals(MAGIC_V2) ? 2 : magic.equals(MAGIC_V1) ? 1 : 0;
  if (!version || file.length < KDF_HEADER_LEN + 12 + TAG_LEN) {
    throw new BillboardError('STORE_OPEN', `${path} is not a billboard store (bad header)`);
  }
  const kdf = file[8];
  if (kdf !== 1 && kdf !== 2) throw new BillboardError('STORE_OPEN', `${path}: unknown key derivation ${kdf}`);
  const log2N = file[9]!;
  const r = file[10]!;
  const p = file[11]!;
  // checked before anything is derived: a damaged header must not make the open take minutes or gigabytes
  if (log2N < 10 || log2N > 22 || r < 1 || r > 32 || p < 1 || p > 4 || 128 * 2 ** log2N * r > MAX_SCRYPT_BYTES) {
    throw new BillboardError('STORE_OPEN', `${path}: implausible scrypt cost (N=2^${log2N}, r=${r}, p=${p}) in its header`);
  }
  return { version, kdf, log2N, r, p, salt: Buffer.from(file.subarray(12, 28)) };
}

export function authError(path: string, where = ''): BillboardError {
  return new BillboardError(
    'STORE_AUTH',
    `cannot decrypt ${path}${where}: wrong passphrase or key file, or the file has been tampered with`,
  );
}

/**
 * The older layout ("BBSTORE1"): header (28) | iv (12) | tag (16) | ciphertext of the whole document, the
 * 40-byte header as additional data. Still read; the first write turns it into the current layout.
 */
export function decryptV1(file: Buffer, key: Buffer, path: string): Buffer {
  const h = file.subarray(0, KDF_HEADER_LEN + 12);
  const d = createDecipheriv('aes-256-gcm', key, h.subarray(KDF_HEADER_LEN));
  d.setAAD(h);
  d.setAuthTag(file.subarray(h.length, h.length + TAG_LEN));
  try {
    return Buffer.concat([d.update(file.subarray(h.length + TAG_LEN)), d.final()]);
  } catch {
    throw authError(path);
  }
}
