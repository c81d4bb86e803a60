import type { AuditEntry, Finding, MigrationJob, Registration } from '../model/types.js';
import type { BeaconMark } from './api.js';
import { AuditTrail } from './audit-trail.js';
import { TimeSlice } from './time-slice.js';

/** The whole store document (what is encrypted). In the file, `audit` is a plain array of entries. */
export interface StoreDoc {
  format: 1;
  createdAt: string;
  registrations: Registration[];
  audit: AuditTrail;
  findings: Finding[];
  jobs: MigrationJob[];
  /** replay marks by identity (in the file: an object keyed by UUID) */
  beacons: Map<string, BeaconMark>;
}

// Why this file exists: with 10,000 registrations the document is several MiB, and every write re-encrypts
// all of it. Re-stringifying every record on every write, and one JSON.parse of the whole text at open,
// each block the event loop for well over 50 ms. So:
//  - the text is laid out one registration / audit entry per line (still plain JSON: JSON.parse reads it):
//      {"format":1,…,"findings":[…],"jobs":[…],
//      "registrations":[
//      {…},
//      {…}
//      ],
//      "audit":[
//      {…}
//      ]}
//  - each record's UTF-8 bytes are cached by object identity, and the record is frozen when cached, so
//    cached bytes can never go stale (the store replaces records, it never edits them); a write is then
//    one Buffer.concat of cached pieces;
//  - decoding parses line by line and yields to the event loop every few milliseconds;
//  - audit entries are not parsed at all when decoding: each keeps its line, parsed when first asked for
//    (see audit-trail.ts). Only registrations, findings and jobs are needed to open the store.
// Findings and jobs are small and may be edited by their owners: they are stringified on every write.

const bytesOf = new WeakMap<object, Buffer>();
const SEP = Buffer.from(',\n');
const NL = Buffer.from('\n');
const REG_OPEN = '"registrations":[';
const AUDIT_OPEN = '"audit":[';

function deepFreeze<T>(o: T): T {
  if (typeof o !== 'object' || o === null || Object.isFrozen(o)) return o;
  Object.freeze(o);
  // for…in and a type test per value: no array of values allocated, no call for primitives (10,000s of records at open)
  for (const k in o) {
    const v = o[k];
    if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return o;
}

function recordBytes(o: object): Buffer {
  let b = bytesOf.get(o);
  if (b === undefined) {
    b = Buffer.from(JSON.stringify(o), 'utf8');
    deepFreeze(o);
    bytesOf.set(o, b);
  }
  return b;
}

function pushSection(parts: Buffer[], records: readonly object[]): void {
  for (let i = 0; i < records.length; i++) {
    if (i) parts.push(SEP);
    parts.push(recordBytes(records[i]!));
  }
  if (records.length) parts.push(NL);
}

function pushAudit(parts: Buffer[], audit: AuditTrail): void {
  for (let i = 0; i < audit.length; i++) {
    if (i) parts.push(SEP);
    const x = audit.raw(i);
    parts.push(Buffer.isBuffer(x) ? x : recordBytes(x));
  }
  if (audit.length) parts.push(NL);
}

/** An audit line read from the file, parsed when first needed; it keeps its line as its cached bytes. */
export function parseAuditLine(line: Buffer): AuditEntry {
  const e = JSON.parse(line.toString('utf8')) as AuditEntry;
  if (!e || typeof e !== 'object' || Array.isArray(e)) throw new SyntaxError('an audit line is not an entry');
  bytesOf.set(deepFreeze(e), line);
  return e;
}

/** Replay marks as the file holds them (an object keyed by UUID), as a map; anything malformed is left out. */
export function marksFrom(x: unknown): Map<string, BeaconMark> {
  if (x instanceof Map) return x as Map<string, BeaconMark>;
  const out = new Map<string, BeaconMark>();
  if (!x || typeof x !== 'object' || Array.isArray(x)) return out;
  for (const [uuid, m] of Object.entries(x as Record<string, BeaconMark>)) {
    if (m && typeof m.bootId === 'string' && Number.isSafeInteger(m.seq) && Number.isFinite(m.at)) out.set(uuid, m);
  }
  return out;
}

/** A document from its plain-JSON form (any layout), audit entries as given. */
export function docFromJson(json: unknown): StoreDoc {
  const doc = json as Omit<StoreDoc, 'audit'> & { audit: AuditEntry[] };
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.audit)) throw new SyntaxError('no audit array');
  return { ...doc, audit: AuditTrail.of([...doc.audit], parseAuditLine), beacons: marksFrom(doc.beacons) };
}

export function encodeDoc(doc: StoreDoc): Buffer {
  return Buffer.concat(encodeDocPieces(doc));
}

/** The document as pieces (mostly cached record bytes), to be encrypted without concatenating them first. */
export function encodeDocPieces(doc: StoreDoc): Buffer[] {
  const { registrations, audit, beacons, ...rest } = doc;
  const head = JSON.stringify({ ...rest, beacons: beacons instanceof Map ? Object.fromEntries(beacons) : (beacons ?? {}) });
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},\n${REG_OPEN}\n`)];
  pushSection(parts, registrations);
  parts.push(Buffer.from(`],\n${AUDIT_OPEN}\n`));
  pushAudit(parts, audit);
  parts.push(Buffer.from(']}'));
  return parts;
}

/**
 * encodeDocPieces for a background job: records without cached bytes (replayed from the journal, or new)
 * are serialized a slice at a time, yielding to the event loop between slices.
 */
export async function encodeDocPiecesAsync(doc: StoreDoc, sliceMs = 4): Promise<Buffer[]> {
  const slice = new TimeSlice(sliceMs);
  const warm = async (n: number, item: (i: number) => object | Buffer) => {
    for (let i = 0; i < n; i++) {
      const x = item(i);
      if (!Buffer.isBuffer(x)) recordBytes(x);
      if ((i & 255) === 255 && slice.due()) await slice.pause();
    }
  };
  await warm(doc.registrations.length, (i) => doc.registrations[i]!);
  await warm(doc.audit.length, (i) => doc.audit.raw(i));
  return encodeDocPieces(doc);
}

/**
 * Parse a document written by encodeDoc without blocking the event loop for long (each record's bytes are
 * kept as its cache: the first write after opening re-serializes nothing). Any other JSON is parsed whole.
 */
export async function decodeDoc(plain: Buffer, sliceMs = 4): Promise<StoreDoc> {
  try {
    return await decodeLines(plain, sliceMs);
  } catch (e) {
    if (!(e instanceof LayoutMismatch)) throw e;
    return docFromJson(JSON.parse(plain.toString('utf8')));
  }
}

class LayoutMismatch extends Error {}

async function decodeLines(plain: Buffer, sliceMs: number): Promise<StoreDoc> {
  let pos = 0;
  const nextLine = (): Buffer | undefined => {
    if (pos > plain.length) return undefined;
    let end = plain.indexOf(10, pos);
    if (end < 0) end = plain.length;
    const line = plain.subarray(pos, end);
    pos = end + 1;
    return line;
  };
  const head = nextLine();
  if (!head || head[0] !== 0x7b /* { */ || head[head.length - 1] !== 0x2c /* , */) throw new LayoutMismatch();
  if (nextLine()?.toString() !== REG_OPEN) throw new LayoutMismatch();
  const doc = JSON.parse(head.subarray(0, head.length - 1).toString('utf8') + '}') as StoreDoc;
  const slice = new TimeSlice(sliceMs);
  // Records are parsed a batch at a time: the batch's bytes ("{…},\n{…},\n{…}") wrapped in [ ] are one
  // JSON array, so one toString and one JSON.parse serve the whole batch; each record keeps its own line.
  const BATCH = 256;
  const readSection = async (closing: string): Promise<object[]> => {
    const out: object[] = [];
    for (;;) {
      const lines: Buffer[] = [];
      const start = pos;
      let closed = false;
      while (lines.length < BATCH) {
        const line = nextLine();
        if (line === undefined) throw new SyntaxError('the store document is truncated');
        if (line.length === closing.length && line.toString() === closing) {
          closed = true;
          break;
        }
        lines.push(line[line.length - 1] === 0x2c ? line.subarray(0, line.length - 1) : line);
      }
      if (lines.length) {
        const last = lines[lines.length - 1]!;
        const end = last.byteOffset - plain.byteOffset + last.length;
        const recs = JSON.parse(`[${plain.toString('utf8', start, end)}]`) as object[];
        if (recs.length !== lines.length) throw new SyntaxError('a store record spans more than one line');
        for (let i = 0; i < recs.length; i++) {
          bytesOf.set(deepFreeze(recs[i]!), lines[i]!);
          out.push(recs[i]!);
        }
      }
      if (closed) return out;
      if (slice.due()) await slice.pause();
    }
  };
  doc.registrations = (await readSection('],')) as Registration[];
  if (nextLine()?.toString() !== AUDIT_OPEN) throw new SyntaxError('the store document has no audit section');
  // audit: only cut into lines (each must look like one entry); parsed on demand
  const lines: Buffer[] = [];
  for (;;) {
    const line = nextLine();
    if (line === undefined) throw new SyntaxError('the store document is truncated');
    if (line.length === 2 && line[0] === 0x5d /* ] */ && line[1] === 0x7d /* } */) break;
    const rec = line[line.length - 1] === 0x2c ? line.subarray(0, line.length - 1) : line;
    if (rec[0] !== 0x7b || rec[rec.length - 1] !== 0x7d) throw new SyntaxError('an audit line is not one entry');
    lines.push(rec);
    if ((lines.length & 1023) === 0 && slice.due()) await slice.pause();
  }
  doc.audit = AuditTrail.of(lines, parseAuditLine);
  doc.beacons = marksFrom(doc.beacons);
  if (pos <= plain.length) throw new SyntaxError('trailing data after the store document');
  return doc;
}
