import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { authError, decryptV1, KDF_HEADER_LEN, kdfHeader, readParams, TAG_LEN, type KdfParams } from './crypto.js';
import { TimeSlice } from './time-slice.js';

// The store file ("BBSTORE3"; integers big-endian): a sealed snapshot of the whole document, then the
// changes made since, each sealed on its own and appended (a journal). A write appends one change and
// fsyncs it; compaction (journal-adapter.ts) folds the changes into a new snapshot, replacing the file.
//
//   kdf header (28): magic "BBSTORE3" | kdf | log2N | r | p | salt (16)            see crypto.ts
//   snapshot:        generation (16) | iv (12) | length (8) | tag (16) | ciphertext (length)
//                    additional data: the file's first 64 bytes (kdf header … length)
//   change, each:    length (4) | check (16) | iv (12) | tag (16) | ciphertext (length)
//                    check: HMAC-SHA256 (a key derived from the store key) of kdf header | generation |
//                    change number (4, from 1) | length, cut to 16 bytes
//                    additional data: kdf header | generation | change number | length (4)
//
// Everything is authenticated; a flipped bit anywhere fails the open loudly (STORE_AUTH), never garbage
// and never a silent rollback. The generation (random per snapshot) keeps a change from an older copy of
// the file from being spliced in; the change number keeps changes from being reordered or dropped from the
// middle; the check makes each change's length trustworthy before it is used, so a damaged length is
// told apart from a change cut short. The only bytes ever ignored are a torn tail: the last change, cut
// short while it was being appended (so never acknowledged), recognised by an authentic header with too
// few bytes after it, a header itself cut short, or a tail of zeros (a filesystem that extended the file
// but never got the data). The next write overwrites it. Cutting the file exactly between two changes
// cannot be seen from inside it: `audit verify --expect-head` against a head kept elsewhere catches that.
//
// "BBSTORE2" files (the same without the check) and "BBSTORE1" files (one sealed document) are still read;
// the first write turns them into this layout.

const SNAP_HEAD = KDF_HEADER_LEN + 16 + 12 + 8; // 64: the snapshot's additional data
const SNAP_BODY = SNAP_HEAD + TAG_LEN; // 80: where the snapshot's ciphertext starts
const CHECK_LEN = 16;
const CHANGE_HEAD_V2 = 4 + 12 + TAG_LEN; // 32
const CHANGE_HEAD = 4 + CHECK_LEN + 12 + TAG_LEN; // 48
/** a torn tail of zeros at least this long (a filesystem block's worth would be more) */
const ZERO_TAIL = 16;
/** 256 KiB: gathered before each cipher call when sealing or opening a snapshot */
const BATCH = 256 * 1024;

const checkKeys = new WeakMap<Buffer, Buffer>();
function checkKey(key: Buffer): Buffer {
  let k = checkKeys.get(key);
  if (!k) {
    k = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'billboard store change check', 32));
    checkKeys.set(key, k);
  }
  return k;
}

function changeCheck(key: Buffer, aad: Buffer): Buffer {
  return createHmac('sha256', checkKey(key)).update(aad).digest().subarray(0, CHECK_LEN);
}

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

function changeAad(kdfHead: Buffer, generation: Buffer, n: number, length: number): Buffer {
  const aad = Buffer.alloc(KDF_HEADER_LEN + 16 + 8);
  kdfHead.copy(aad, 0, 0, KDF_HEADER_LEN);
  generation.copy(aad, KDF_HEADER_LEN);
  aad.writeUInt32BE(n, KDF_HEADER_LEN + 16);
  aad.writeUInt32BE(length, KDF_HEADER_LEN + 20);
  return aad;
}

/** Seal change number `n` (from 1) of the snapshot `generation`, as appended to the file. */
export function sealChange(plain: Buffer, key: Buffer, params: KdfParams, generation: Buffer, n: number): Buffer {
  const iv = randomBytes(12);
  const aad = changeAad(kdfHeader(params), generation, n, plain.length);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const out = Buffer.allocUnsafe(CHANGE_HEAD + ct.length);
  out.writeUInt32BE(ct.length, 0);
  changeCheck(key, aad).copy(out, 4);
  iv.copy(out, 4 + CHECK_LEN);
  c.getAuthTag().copy(out, 4 + CHECK_LEN + 12);
  ct.copy(out, CHANGE_HEAD);
  return out;
}

export interface OpenedFile {
  version: 1 | 2 | 3;
  /** the snapshot's plaintext (the document as of the last compaction) */
  snapshot: Buffer;
  /** each appended change's plaintext, in order */
  changes: Buffer[];
  /** the snapshot's; undefined for an older layout (the next write makes a snapshot in the current one) */
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
  const read = (params.version === 2 ? readChangesV2 : readChanges)(file, key, path, generation, snapEnd);
  return {
    version: params.version,
    snapshot,
    ...read,
    ...(params.version === 3 ? { generation } : {}),
    snapshotBytes: snapEnd,
    tornBytes: file.length - read.end,
  };
}

const allZero = (b: Buffer): boolean => b.every((x) => x === 0);

/** The changes after the snapshot; only a torn tail (see the layout above) stops the reading quietly. */
function readChanges(file: Buffer, key: Buffer, path: string, generation: Buffer, from: number): { changes: Buffer[]; end: number } {
  const changes: Buffer[] = [];
  // a change whose end the filesystem never got reads as zeros up to the end of the file
  const zeroTail = file.length - from >= ZERO_TAIL && allZero(file.subarray(file.length - ZERO_TAIL));
  let at = from;
  for (let n = 1; at < file.length; n++) {
    const rest = file.subarray(at);
    if (rest.length < CHANGE_HEAD || allZero(rest)) break; // torn: never acknowledged
    const len = file.readUInt32BE(at);
    const aad = changeAad(file, generation, n, len);
    if (!timingSafeEqual(changeCheck(key, aad), file.subarray(at + 4, at + 4 + CHECK_LEN))) {
      if (zeroTail) break;
      throw authError(path, ` (the header of change #${n} at byte ${at} is damaged)`);
    }
    const stop = at + CHANGE_HEAD + len;
    if (stop > file.length) break; // an authentic header, its change cut short: torn
    const dc = createDecipheriv('aes-256-gcm', key, file.subarray(at + 4 + CHECK_LEN, at + 4 + CHECK_LEN + 12));
    dc.setAAD(aad);
    dc.setAuthTag(file.subarray(at + 4 + CHECK_LEN + 12, at + CHANGE_HEAD));
    try {
      changes.push(Buffer.concat([dc.update(file.subarray(at + CHANGE_HEAD, stop)), dc.final()]));
    } catch {
      if (zeroTail && stop === file.length) break;
      throw authError(path, ` (change #${n} at byte ${at})`);
    }
    at = stop;
  }
  return { changes, end: at };
}

/** "BBSTORE2" changes: no check on the length, so anything that does not fit is taken as torn. */
function readChangesV2(file: Buffer, key: Buffer, path: string, generation: Buffer, from: number): { changes: Buffer[]; end: number } {
  const changes: Buffer[] = [];
  let at = from;
  for (let n = 1; file.length - at >= CHANGE_HEAD_V2; n++) {
    const len = file.readUInt32BE(at);
    if (at + CHANGE_HEAD_V2 + len > file.length) break;
    const dc = createDecipheriv('aes-256-gcm', key, file.subarray(at + 4, at + 16));
    dc.setAAD(changeAad(file, generation, n, len));
    dc.setAuthTag(file.subarray(at + 16, at + CHANGE_HEAD_V2));
    try {
      changes.push(Buffer.concat([dc.update(file.subarray(at + CHANGE_HEAD_V2, at + CHANGE_HEAD_V2 + len)), dc.final()]));
    } catch {
      throw authError(path, ` (change #${n} at byte ${at})`);
    }
    at += CHANGE_HEAD_V2 + len;
  }
  return { changes, end: at };
}
