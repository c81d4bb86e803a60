import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { authError, decryptV1, KDF_HEADER_LEN, kdfHeader, readParams, TAG_LEN, type KdfParams } from './crypto.js';
import { TimeSlice } from './time-slice.js';

// The store file ("BBSTORE2"; integers big-endian): a sealed snapshot of the whole document, then the
// changes made since, each sealed on its own and appended (a journal). A write appends one change and
// fsyncs it; compaction (journal-adapter.ts) folds the changes into a new snapshot, replacing the file.
//
//   kdf header (28): magic "BBSTORE2" | kdf | log2N | r | p | salt (16)            see crypto.ts
//   snapshot:        generation (16) | iv (12) | length (8) | tag (16) | ciphertext (length)
//                    additional data: the file's first 64 bytes (kdf header … length)
//   change, each:    length (4) | iv (12) | tag (16) | ciphertext (length)
//                    additional data: kdf header | generation | change number (4, from 1) | length (4)
//
// Everything is AES-256-GCM; a flipped byte anywhere fails as "wrong key or tampered", never garbage.
// The generation (random per snapshot) keeps a change from an older copy of the file from being spliced
// in; the change number keeps changes from being reordered or dropped from the middle. A change cut short
// at the end of the file (the process died while appending it: it was never acknowledged) is ignored,
// and overwritten by the next write.

const SNAP_HEAD = KDF_HEADER_LEN + 16 + 12 + 8; // 64: the snapshot's additional data
const SNAP_BODY = SNAP_HEAD + TAG_LEN; // 80: where the snapshot's ciphertext starts
const CHANGE_HEAD = 4 + 12 + TAG_LEN; // 32
/** 256 KiB: gathered before each cipher call when sealing or opening a snapshot */
const BATCH = 256 * 1024;

/**
 * Seal a document given as pieces into a new file's bytes (kdf header + snapshot), ready for writev.
 * The cipher runs in batches, yielding to the event loop once a time slice is used up: sealing several MiB
 * never stalls the console.
 */
export async function sealSnapshot(
  pieces: readonly Buffer[],
  key: Buffer,
  params: KdfParams,
  generation: Buffer,
  sliceMs = 4,
): Promise<Buffer[]> {
  const length = pieces.reduce((n, b) => n + b.length, 0);
  const head = Buffer.alloc(SNAP_HEAD);
  kdfHeader(params).copy(head, 0);
  generation.copy(head, KDF_HEADER_LEN);
  const iv = randomBytes(12);
  iv.copy(head, KDF_HEADER_LEN + 16);
  head.writeBigUInt64BE(BigInt(length), KDF_HEADER_LEN + 28);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(head);
  const body: Buffer[] = [];
  let batch: Buffer[] = [];
  let batchLen = 0;
  const slice = new TimeSlice(sliceMs);
  for (const piece of pieces) {
    batch.push(piece);
    batchLen += piece.length;
    if (batchLen < BATCH) continue;
    body.push(c.update(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchLen)));
    batch = [];
    batchLen = 0;
    if (slice.due()) await slice.pause();
  }
  if (batchLen) body.push(c.update(Buffer.concat(batch, batchLen)));
  const fin = c.final();
  if (fin.length) body.push(fin);
  return [head, c.getAuthTag(), ...body];
}

function changeAad(params: KdfParams, generation: Buffer, n: number, length: number): Buffer {
  const aad = Buffer.alloc(KDF_HEADER_LEN + 16 + 8);
  kdfHeader(params).copy(aad, 0);
  generation.copy(aad, KDF_HEADER_LEN);
  aad.writeUInt32BE(n, KDF_HEADER_LEN + 16);
  aad.writeUInt32BE(length, KDF_HEADER_LEN + 20);
  return aad;
}

/** Seal change number `n` (from 1) of the snapshot `generation`, as appended to the file. */
export function sealChange(plain: Buffer, key: Buffer, params: KdfParams, generation: Buffer, n: number): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(changeAad(params, generation, n, plain.length));
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const out = Buffer.allocUnsafe(CHANGE_HEAD + ct.length);
  out.writeUInt32BE(ct.length, 0);
  iv.copy(out, 4);
  c.getAuthTag().copy(out, 16);
  ct.copy(out, CHANGE_HEAD);
  return out;
}

export interface OpenedFile {
  version: 1 | 2;
  /** the snapshot's plaintext (the document as of the last compaction) */
  snapshot: Buffer;
  /** each appended change's plaintext, in order */
  changes: Buffer[];
  /** undefined for a v1 file (it has none: the next write makes a v2 snapshot) */
  generation?: Buffer;
  /** bytes of kdf header + snapshot */
  snapshotBytes: number;
  /** where the last complete change ends: the next change is written here */
  end: number;
  /** bytes after `end`: a change cut short by a crash, never acknowledged */
  tornBytes: number;
}

/** Decrypt and authenticate a whole store file. Wrong key or any tampering: STORE_AUTH. */
export async function openFile(file: Buffer, key: Buffer, path: string, sliceMs = 4): Promise<OpenedFile> {
  const params = readParams(file, path);
  if (params.version === 1) {
    const snapshot = decryptV1(file, key, path);
    return { version: 1, snapshot, changes: [], snapshotBytes: file.length, end: file.length, tornBytes: 0 };
  }
  if (file.length < SNAP_BODY) throw authError(path);
  const head = file.subarray(0, SNAP_HEAD);
  const generation = Buffer.from(head.subarray(KDF_HEADER_LEN, KDF_HEADER_LEN + 16));
  const length = Number(head.readBigUInt64BE(KDF_HEADER_LEN + 28));
  const snapEnd = SNAP_BODY + length;
  if (snapEnd > file.length) throw authError(path, ' (the snapshot is cut short)');
  const d = createDecipheriv('aes-256-gcm', key, head.subarray(KDF_HEADER_LEN + 16, KDF_HEADER_LEN + 28));
  d.setAAD(head);
  d.setAuthTag(file.subarray(SNAP_HEAD, SNAP_BODY));
  const snapshot = Buffer.allocUnsafe(length);
  const slice = new TimeSlice(sliceMs);
  for (let at = SNAP_BODY; at < snapEnd; at += BATCH) {
    const out = d.update(file.subarray(at, Math.min(at + BATCH, snapEnd)));
    out.copy(snapshot, at - SNAP_BODY);
    if (slice.due()) await slice.pause();
  }
  try {
    d.final();
  } catch {
    throw authError(path);
  }
  const changes: Buffer[] = [];
  let at = snapEnd;
  for (let n = 1; file.length - at >= CHANGE_HEAD; n++) {
    const len = file.readUInt32BE(at);
    if (at + CHANGE_HEAD + len > file.length) break; // cut short: never acknowledged
    const dc = createDecipheriv('aes-256-gcm', key, file.subarray(at + 4, at + 16));
    dc.setAAD(changeAad(params, generation, n, len));
    dc.setAuthTag(file.subarray(at + 16, at + CHANGE_HEAD));
    try {
      changes.push(Buffer.concat([dc.update(file.subarray(at + CHANGE_HEAD, at + CHANGE_HEAD + len)), dc.final()]));
    } catch {
      throw authError(path, ` (change #${n} at byte ${at})`);
    }
    at += CHANGE_HEAD + len;
  }
  return { version: 2, snapshot, changes, generation, snapshotBytes: snapEnd, end: at, tornBytes: file.length - at };
}

/** A new file with `plain` as its snapshot and no changes (tools and tests that rewrite a store). */
export async function sealFile(plain: Buffer, key: Buffer, params: KdfParams): Promise<Buffer> {
  return Buffer.concat(await sealSnapshot([plain], key, params, randomBytes(16)));
}
