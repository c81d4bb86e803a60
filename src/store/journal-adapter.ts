import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Adapter } from 'lowdb';
import { BillboardError } from '../model/errors.js';
import type { AuditEntry, Finding, MigrationJob, Registration } from '../model/types.js';
import type { BeaconMark } from './api.js';
import type { KdfParams } from './crypto.js';
import { decodeDoc, encodeDocPieces, encodeDocPiecesAsync, type StoreDoc } from './doc-codec.js';
import { createTemp, durableWrite, syncDir, tempPath, writeAll } from './durable-write.js';
import { openFile, sealChange, sealSnapshot, type OpenedFile } from './store-file.js';
import { TimeSlice } from './time-slice.js';

// lowdb adapter over the journaled store file (layout in store-file.ts). lowdb hands `write` the whole
// document; this adapter works out what changed since the last write (records are replaced, never
// edited, so identity tells) and appends just that, sealed, then fsyncs: a write costs the change, not
// the store's size. When the appended changes outgrow a fraction of the snapshot, a compaction runs in the
// background: the current document is sealed into a new file beside the store while writes go on
// appending; at the end the changes made meanwhile are sealed onto the new file too, which is fsynced and
// renamed over the store (then the folder is fsynced). A crash at any point leaves a complete store.

/**
 * One change as appended: replaced/added registrations, appended audit entries, and the findings, jobs and
 * replay marks whose content changed (with the ids of those removed). `f`/`j` (the whole lists) are what
 * older files hold; they are still replayed.
 */
interface Change {
  r?: Registration[];
  a?: AuditEntry[];
  f?: Finding[];
  fu?: Finding[];
  fd?: string[];
  j?: MigrationJob[];
  ju?: MigrationJob[];
  jd?: string[];
  b?: Record<string, BeaconMark>;
}

/** Test seam: how a change reaches the file (unit tests make it fail). */
export interface JournalIo {
  append(fh: FileHandle, bytes: Buffer, position: number): Promise<void>;
  /** replace the whole file (a new snapshot) */
  replace(path: string, pieces: readonly Buffer[]): Promise<void>;
}

const realIo: JournalIo = {
  async append(fh, bytes, position) {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
      done += bytesWritten;
    }
    await fh.datasync();
  },
  replace: (path, pieces) => durableWrite(path, pieces),
};

export interface JournalOptions {
  io?: Partial<JournalIo>;
  /** compact when the appended changes exceed max(minBytes, snapshot bytes × ratio) */
  compactMinBytes?: number;
  compactRatio?: number;
  /** errors of background compaction (the store keeps working: changes keep being appended) */
  onCompactError?: (e: unknown) => void;
  /** never write or compact (a read-only session) */
  readOnly?: boolean;
}

export class JournalAdapter implements Adapter<StoreDoc> {
  /** bytes of the store file: snapshot + appended changes */
  get bytes(): number {
    return this.end;
  }
  lastWriteMs = 0;
  compactions = 0;

  private readonly io: JournalIo;
  private fh: FileHandle | undefined;
  private end = 0;
  private snapshotBytes = 0;
  private generation: Buffer | undefined;
  private changeCount = 0;
  /** the file has bytes past `end` (a torn or failed append): cut them before the next append */
  private dirtyTail = false;
  private written: StoreDoc | undefined;
  /** each finding's and job's JSON as the file holds it: a write appends only those that differ */
  private durable = { f: new Map<string, string>(), j: new Map<string, string>() };
  /** serializes writes with the compaction's final swap */
  private turn: Promise<unknown> = Promise.resolve();
  private compaction: { done: Promise<void>; changes: Buffer[]; cancelled: boolean } | undefined;
  private compactBackoffBytes = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly key: Buffer,
    private readonly params: KdfParams,
    private readonly initial: Buffer | undefined,
    private readonly opts: JournalOptions = {},
  ) {
    this.io = { ...realIo, ...opts.io };
  }

  async read(): Promise<StoreDoc | null> {
    const bytes = this.initial ?? (await readFile(this.path));
    const { doc, file: f } = await readDocument(bytes, this.key, this.path);
    this.end = f.end;
    this.snapshotBytes = f.snapshotBytes;
    this.generation = f.generation; // undefined for an older layout: the first write makes a snapshot in the current one
    this.changeCount = f.changes.length;
    this.dirtyTail = f.tornBytes > 0;
    this.written = doc;
    this.durable = durableOf(doc);
    return doc;
  }

  /** Persist `doc`: append what changed since the last write (or write a whole snapshot when it must). */
  write(doc: StoreDoc): Promise<void> {
    return this.exclusive(async () => {
      if (this.opts.readOnly) throw new BillboardError('READ_ONLY', 'the store is open read-only');
      if (this.closed) throw new BillboardError('STORE_WRITE', 'store is closed');
      const t0 = performance.now();
      const prev = this.written;
      const delta = prev && this.generation ? diff(prev, doc, this.durable) : null;
      if (delta === undefined) return; // nothing to write
      if (delta === null) {
        await this.writeSnapshot(doc);
        this.durable = durableOf(doc);
      } else {
        const plain = Buffer.from(JSON.stringify(delta.change));
        const sealed = sealChange(plain, this.key, this.params, this.generation!, this.changeCount + 1);
        const fh = await this.handle();
        if (this.dirtyTail) {
          await fh.truncate(this.end);
          this.dirtyTail = false;
        }
        try {
          await this.io.append(fh, sealed, this.end);
        } catch (e) {
          this.dirtyTail = true; // part of it may be there: cut before the next append
          throw e;
        }
        this.end += sealed.length;
        this.changeCount++;
        delta.settle();
        this.compaction?.changes.push(plain);
      }
      this.written = doc;
      this.lastWriteMs = performance.now() - t0;
      this.maybeCompact();
    });
  }

  /** Start a compaction now unless one runs (tests, benches). */
  compactNow(): Promise<void> {
    if (!this.compaction) this.startCompaction();
    return this.compaction?.done ?? Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.compaction) this.compaction.cancelled = true;
    await this.compaction?.done;
    await this.exclusive(async () => {
      this.closed = true;
      await this.fh?.close().catch(() => {});
      this.fh = undefined;
    }).catch(() => {});
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.turn.then(f, f);
    this.turn = run.catch(() => {});
    return run;
  }

  private async handle(): Promise<FileHandle> {
    this.fh ??= await open(this.path, 'r+');
    return this.fh;
  }

  private async writeSnapshot(doc: StoreDoc): Promise<void> {
    const generation = randomBytes(16);
    const pieces = await sealSnapshot(encodeDocPieces(doc), this.key, this.params, generation);
    await this.io.replace(this.path, pieces);
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    if (this.compaction) this.compaction.cancelled = true; // its snapshot is older than this one
    this.generation = generation;
    this.changeCount = 0;
    this.snapshotBytes = this.end = pieces.reduce((n, b) => n + b.length, 0);
    this.dirtyTail = false;
  }

  private maybeCompact(): void {
    if (this.compaction || this.closed || this.opts.readOnly) return;
    const journal = this.end - this.snapshotBytes;
    const limit = Math.max(this.opts.compactMinBytes ?? 256 * 1024, this.snapshotBytes * (this.opts.compactRatio ?? 0.125));
    if (journal > limit && journal > this.compactBackoffBytes) this.startCompaction();
  }

  private startCompaction(): void {
    const snap = this.written;
    if (!snap || this.opts.readOnly) return;
    const job = { changes: [] as Buffer[], cancelled: false, done: Promise.resolve() };
    this.compaction = job;
    job.done = this.compact(snap, job)
      .then(() => {
        this.compactions++;
        this.compactBackoffBytes = 0;
      })
      .catch((e) => {
        // the store is intact (changes keep being appended); try again after as many bytes more
        this.compactBackoffBytes = (this.end - this.snapshotBytes) * 2;
        this.opts.onCompactError?.(e);
      })
      .finally(() => {
        if (this.compaction === job) this.compaction = undefined;
      });
  }

  private async compact(snap: StoreDoc, job: { changes: Buffer[]; cancelled: boolean }): Promise<void> {
    const generation = randomBytes(16);
    const tmp = tempPath(this.path, 'compact');
    const pieces = await sealSnapshot(await encodeDocPiecesAsync(snap), this.key, this.params, generation);
    const snapshotBytes = pieces.reduce((n, b) => n + b.length, 0);
    const fh = await createTemp(tmp);
    let renamed = false;
    try {
      await writeAll(fh, pieces);
      await fh.datasync();
      if (job.cancelled) return;
      await this.exclusive(async () => {
        if (job.cancelled || this.closed) return;
        // the changes appended while the snapshot was being written go after it, sealed for the new file
        let end = snapshotBytes;
        const sealed = job.changes.map((plain, i) => sealChange(plain, this.key, this.params, generation, i + 1));
        if (sealed.length) {
          await writeAll(fh, sealed);
          end += sealed.reduce((n, b) => n + b.length, 0);
        }
        await fh.sync();
        await rename(tmp, this.path);
        renamed = true;
        await syncDir(dirname(this.path));
        await this.fh?.close().catch(() => {});
        this.fh = undefined;
        this.generation = generation;
        this.changeCount = sealed.length;
        this.snapshotBytes = snapshotBytes;
        this.end = end;
        this.dirtyTail = false;
      });
    } finally {
      await fh.close().catch(() => {});
      if (!renamed) await unlink(tmp).catch(() => {});
    }
  }
}

/** Decrypt a store file and rebuild its document: the snapshot with every appended change applied. */
export async function readDocument(bytes: Buffer, key: Buffer, path: string): Promise<{ doc: StoreDoc; file: OpenedFile }> {
  const file = await openFile(bytes, key, path);
  try {
    const doc = await decodeDoc(file.snapshot);
    if (doc.format !== 1 || !Array.isArray(doc.registrations)) throw new Error('bad shape');
    doc.findings ??= [];
    doc.jobs ??= [];
    return { doc: await replay(doc, file.changes), file };
  } catch {
    throw new BillboardError('STORE_OPEN', `${path} decrypted but its content is not a billboard store document`);
  }
}

/** JSON of each finding and job by id, as a document holds them. */
function durableOf(doc: StoreDoc): { f: Map<string, string>; j: Map<string, string> } {
  return {
    f: new Map(doc.findings.map((x) => [x.id, JSON.stringify(x)])),
    j: new Map(doc.jobs.map((x) => [x.id, JSON.stringify(x)])),
  };
}

/**
 * The records of `next` whose content differs from what the file holds (`durable`: id → JSON), and the ids
 * it no longer has. Content, not identity: an owner may have edited a record in place. `settle` records
 * the new content as durable, once the change is on disk.
 */
function listDelta<T extends { id: string }>(next: readonly T[], durable: Map<string, string>) {
  const upserts: T[] = [];
  const fresh = new Map<string, string>();
  const seen = new Set<string>();
  for (const x of next) {
    seen.add(x.id);
    const json = JSON.stringify(x);
    if (durable.get(x.id) !== json) {
      upserts.push(x);
      fresh.set(x.id, json);
    }
  }
  const removed: string[] = [];
  for (const id of durable.keys()) if (!seen.has(id)) removed.push(id);
  const settle = () => {
    for (const id of removed) durable.delete(id);
    for (const [id, json] of fresh) durable.set(id, json);
  };
  return { upserts, removed, settle };
}

/**
 * What changed from `prev` to `next`: undefined when nothing did, null when the change is not one that
 * can be appended (registrations removed or reordered, the header changed): then a snapshot is written.
 */
function diff(
  prev: StoreDoc,
  next: StoreDoc,
  durable: { f: Map<string, string>; j: Map<string, string> },
): { change: Change; settle: () => void } | null | undefined {
  if (prev.format !== next.format || prev.createdAt !== next.createdAt) return null;
  const c: Change = {};
  const settles: (() => void)[] = [];
  if (prev.registrations !== next.registrations) {
    const a = prev.registrations;
    const b = next.registrations;
    if (b.length < a.length) return null;
    const r: Registration[] = [];
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      if (a[i]!.uuid !== b[i]!.uuid) return null;
      r.push(b[i]!);
    }
    for (let i = a.length; i < b.length; i++) r.push(b[i]!);
    if (r.length) c.r = r;
  }
  if (prev.audit !== next.audit) {
    const n = prev.audit.length;
    if (next.audit.length < n || (n && next.audit.raw(n - 1) !== prev.audit.raw(n - 1))) return null;
    if (next.audit.length > n) c.a = next.audit.slice(n);
  }
  if (prev.findings !== next.findings) {
    const d = listDelta(next.findings, durable.f);
    if (d.upserts.length) c.fu = d.upserts;
    if (d.removed.length) c.fd = d.removed;
    settles.push(d.settle);
  }
  if (prev.jobs !== next.jobs) {
    const d = listDelta(next.jobs, durable.j);
    if (d.upserts.length) c.ju = d.upserts;
    if (d.removed.length) c.jd = d.removed;
    settles.push(d.settle);
  }
  if (prev.beacons !== next.beacons) {
    const b: Record<string, BeaconMark> = {};
    let any = false;
    for (const [uuid, mark] of next.beacons) {
      if (prev.beacons.get(uuid) !== mark) {
        b[uuid] = mark;
        any = true;
      }
    }
    if (any) c.b = b;
  }
  if (!Object.keys(c).length) return undefined;
  return { change: c, settle: () => settles.forEach((f) => f()) };
}

/** Upsert records by id into an ordered map; `toEnd` moves a changed record last (the order of last change). */
function upsertById<T extends { id: string }>(map: Map<string, T>, records: readonly T[] | undefined, toEnd: boolean): void {
  for (const x of records ?? []) {
    if (toEnd) map.delete(x.id);
    map.set(x.id, x);
  }
}

/** Apply appended changes, in order, to the snapshot's document (yielding to the event loop now and then). */
async function replay(doc: StoreDoc, changes: readonly Buffer[], sliceMs = 4): Promise<StoreDoc> {
  if (!changes.length) return doc;
  const slice = new TimeSlice(sliceMs);
  const regs = doc.registrations;
  const index = new Map(regs.map((r, i) => [r.uuid, i]));
  let audit = doc.audit;
  let findings: Map<string, Finding> | undefined;
  let jobs: Map<string, MigrationJob> | undefined;
  for (const bytes of changes) {
    const c = JSON.parse(bytes.toString('utf8')) as Change;
    for (const r of c.r ?? []) {
      const i = index.get(r.uuid);
      if (i === undefined) {
        index.set(r.uuid, regs.length);
        regs.push(r);
      } else regs[i] = r;
    }
    for (const e of c.a ?? []) audit = audit.append(e);
    if (c.f) {
      doc.findings = c.f;
      findings = undefined;
    }
    if (c.fu || c.fd) {
      findings ??= new Map(doc.findings.map((x) => [x.id, x]));
      for (const id of c.fd ?? []) findings.delete(id);
      upsertById(findings, c.fu, true);
    }
    if (c.j) {
      doc.jobs = c.j;
      jobs = undefined;
    }
    if (c.ju || c.jd) {
      jobs ??= new Map(doc.jobs.map((x) => [x.id, x]));
      for (const id of c.jd ?? []) jobs.delete(id);
      upsertById(jobs, c.ju, false);
    }
    for (const [uuid, mark] of Object.entries(c.b ?? {})) doc.beacons.set(uuid, mark);
    if (slice.due()) await slice.pause();
  }
  if (findings) doc.findings = [...findings.values()];
  if (jobs) doc.jobs = [...jobs.values()];
  return { ...doc, audit };
}
