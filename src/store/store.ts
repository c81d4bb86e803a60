import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low } from 'lowdb';
import { BillboardError, errorLine } from '../model/errors.js';
import { canonicalMac, canonicalUuid, keyFingerprint } from '../model/fingerprint.js';
import { safeText } from '../model/text.js';
import type { AuditEntry, Finding, MigrationJob, Registration, RegistrationState } from '../model/types.js';
import type { AuditVerdict, BeaconMark, NewRegistration, StoreApi } from './api.js';
import { nextEntry, verifyChain } from './audit-chain.js';
import { AuditTrail } from './audit-trail.js';
import { deriveKey, newKdfParams, readParams, type KeySource } from './crypto.js';
import { parseAuditLine, type StoreDoc } from './doc-codec.js';
import { removeTempFiles } from './durable-write.js';
import { JournalAdapter, type JournalOptions } from './journal-adapter.js';
import { acquireLock } from './lock.js';

export type { StoreDoc };

const emptyDoc = (): StoreDoc => ({
  format: 1,
  createdAt: new Date().toISOString(),
  registrations: [],
  audit: AuditTrail.empty(parseAuditLine),
  findings: [],
  jobs: [],
  beacons: new Map(),
});

export interface OpenOptions {
  /** create the store when it does not exist (init refuses instead: see createStore) */
  create?: boolean;
  now?: () => number;
  /**
   * For `--read-only` sessions: no writer lock (a running writer is no obstacle), nothing ever written or
   * compacted (not even a torn tail cleared), and every mutating call rejects with READ_ONLY.
   */
  readOnly?: boolean;
  /** journal tuning and test seams */
  journal?: JournalOptions;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** `billboard init`: make a new store; refuses to overwrite one. */
export async function createStore(path: string, key: KeySource, opts: OpenOptions = {}): Promise<Store> {
  if (await exists(path)) {
    throw new BillboardError('STORE_EXISTS', `a store already exists at ${path}; refusing to overwrite it`);
  }
  return openStore(path, key, { ...opts, create: true });
}

/** Open (lock, derive key, decrypt) an existing store, or create it when `create` is set and it is missing. */
export async function openStore(path: string, key: KeySource, opts: OpenOptions = {}): Promise<Store> {
  const readOnly = opts.readOnly === true;
  if (!readOnly) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 }).catch((e) => {
      throw new BillboardError('STORE_OPEN', `cannot create folder for ${path}: ${errorLine(e)}`);
    });
  }
  const release = readOnly ? () => {} : acquireLock(path);
  try {
    let file: Buffer | undefined;
    try {
      file = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new BillboardError('STORE_OPEN', `cannot read ${path}: ${errorLine(e)}`);
      }
      if (!opts.create || readOnly) throw new BillboardError('STORE_OPEN', `no store at ${path}: run \`billboard init\` first`);
    }
    const params = file ? readParams(file, path) : newKdfParams(key);
    const k = await deriveKey(key, params);
    const adapter = new JournalAdapter(path, k, params, file, { ...opts.journal, readOnly });
    const db = new Low<StoreDoc>(adapter, emptyDoc());
    if (file) {
      await db.read();
    } else {
      await db.write().catch((e) => {
        throw new BillboardError('STORE_WRITE', `cannot write ${path}: ${errorLine(e)}`);
      });
    }
    if (!readOnly) await removeTempFiles(path); // a dead writer's; we hold the lock
    return new Store(path, db, adapter, release, opts.now ?? Date.now, readOnly);
  } catch (e) {
    release();
    throw e;
  }
}

const readOnlyError = () => new BillboardError('READ_ONLY', 'the store is open read-only: nothing can be changed in this session');

const TRANSITIONS: Record<Exclude<RegistrationState, 'pending'>, RegistrationState[]> = {
  approved: ['pending', 'rejected'],
  rejected: ['pending'],
  revoked: ['approved', 'pending'],
};

interface PendingWrite {
  build: (doc: StoreDoc) => { next: StoreDoc; result: unknown };
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class Store implements StoreApi {
  private pending: PendingWrite[] = [];
  private writing = false;
  private names: { of: readonly Registration[]; map: Map<string, Registration[]> } | undefined;
  private idle: Promise<void> = Promise.resolve();
  private byUuid = new Map<string, number>();
  private closed = false;

  constructor(
    readonly path: string,
    private readonly db: Low<StoreDoc>,
    private readonly adapter: JournalAdapter,
    private readonly releaseLock: () => void,
    private readonly now: () => number,
    /** opened with `readOnly`: every mutating call rejects with READ_ONLY */
    readonly readOnly = false,
  ) {
    this.reindex();
  }

  private get doc(): StoreDoc {
    return this.db.data;
  }

  private reindex(): void {
    this.byUuid = new Map(this.doc.registrations.map((r, i) => [r.uuid, i]));
  }

  /**
   * Serialize every write; build the next document from the current one, write it durably, and only then
   * resolve. A failed write leaves memory exactly as it was (no change without its audit entry).
   * Group commit: changes queued while a write is in flight are applied together and written once, each
   * promise resolving only when the write holding its change is on disk.
   */
  private commit<T>(build: (doc: StoreDoc) => { next: StoreDoc; result: T }): Promise<T> {
    if (this.readOnly) return Promise.reject(readOnlyError());
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ build, resolve: resolve as (v: unknown) => void, reject });
      if (!this.writing) this.idle = this.flush();
    });
  }

  private async flush(): Promise<void> {
    // `writing` is set and cleared synchronously (no await between the last queue check and the finally),
    // so a write queued by a caller woken from the last group always starts a new flush.
    this.writing = true;
    try {
      while (this.pending.length) await this.writeGroup(this.pending.splice(0));
    } finally {
      this.writing = false;
    }
  }

  /** Apply a group of queued changes in order, write once, settle each. */
  private async writeGroup(group: PendingWrite[]): Promise<void> {
    if (this.closed) {
      for (const g of group) g.reject(new BillboardError('STORE_WRITE', 'store is closed'));
      return;
    }
    const before = this.doc;
    const applied: { g: PendingWrite; result: unknown }[] = [];
    for (const g of group) {
      const cur = this.doc;
      let step: { next: StoreDoc; result: unknown };
      try {
        step = g.build(cur);
      } catch (e) {
        g.reject(e); // refused (bad input, impossible transition): nothing changed
        continue;
      }
      this.db.data = step.next;
      this.indexChange(cur.registrations, step.next.registrations);
      applied.push({ g, result: step.result });
    }
    if (!applied.length) return;
    try {
      await this.db.write();
    } catch (e) {
      this.db.data = before;
      this.reindex();
      const err = new BillboardError('AUDIT_FAILED', `not done: could not write the store (${errorLine(e)})`);
      for (const a of applied) a.g.reject(err);
      return;
    }
    for (const a of applied) a.g.resolve(a.result);
  }

  /** Keep the uuid index current without an O(n) rebuild per change: records are appended or replaced in place. */
  private indexChange(prev: readonly Registration[], next: readonly Registration[]): void {
    if (prev === next) return;
    if (next.length === prev.length + 1 && next[prev.length - 1] === prev[prev.length - 1]) {
      this.byUuid.set(next[next.length - 1]!.uuid, next.length - 1);
    } else if (next.length !== prev.length) {
      this.reindex();
    }
  }

  private withAudit(doc: StoreDoc, actor: string, action: string, target: string, details: Record<string, unknown>) {
    const entry = nextEntry(doc.audit.last(), actor, action, target, details, this.now());
    return { audit: doc.audit.append(entry), entry };
  }

  // ── registry ──

  registrations(): readonly Registration[] {
    return this.doc.registrations;
  }

  registration(uuid: string): Registration | undefined {
    const u = uuid.toLowerCase();
    const i = this.byUuid.get(u);
    if (i === undefined) return undefined;
    const r = this.doc.registrations[i];
    if (r?.uuid === u) return r;
    this.reindex(); // the array was reshaped: rebuild once
    const j = this.byUuid.get(u);
    return j === undefined ? undefined : this.doc.registrations[j];
  }

  /** Registrations with exactly this name; the index is rebuilt only when the registrations changed. */
  private withName(name: string): readonly Registration[] {
    const regs = this.doc.registrations;
    if (this.names?.of !== regs) {
      const map = new Map<string, Registration[]>();
      for (const x of regs) {
        const list = map.get(x.name);
        if (list) list.push(x);
        else map.set(x.name, [x]);
      }
      this.names = { of: regs, map };
    }
    return this.names.map.get(name) ?? [];
  }

  /**
   * A full UUID always wins. Otherwise a name (compared exactly) and a UUID prefix (4+ hex digits) are both
   * looked up: one registration → it; more, from either or both → AMBIGUOUS naming each; none → NOT_FOUND.
   */
  resolveRegistration(ref: string): Registration {
    const uuid = canonicalUuid(ref);
    const exact = uuid ? this.registration(uuid) : undefined;
    if (exact) return exact;
    const byName = this.withName(ref);
    const p = ref.trim().toLowerCase();
    const byPrefix = /^[0-9a-f-]{4,}$/.test(p) ? this.doc.registrations.filter((x) => x.uuid.startsWith(p)) : [];
    const found = [...new Set([...byName, ...byPrefix])];
    if (found.length === 1) return found[0]!;
    if (!found.length) throw new BillboardError('NOT_FOUND', `no registered VM named or with UUID "${safeText(ref, 80)}"`);
    const shown = found.slice(0, 6).map((x) => `${safeText(x.name, 64)} (${x.uuid}, ${byName.includes(x) ? 'by name' : 'by UUID prefix'})`);
    const more = found.length > shown.length ? ` and ${found.length - shown.length} more` : '';
    throw new BillboardError(
      'AMBIGUOUS',
      `"${safeText(ref, 80)}" matches ${found.length} registrations: ${shown.join('; ')}${more}; use the full UUID`,
      { matches: found.map((x) => x.uuid) },
    );
  }

  register(reg: NewRegistration, actor: string): Promise<Registration> {
    const uuid = canonicalUuid(reg.uuid);
    if (!uuid) return Promise.reject(new BillboardError('USAGE', `"${reg.uuid}" is not a UUID`));
    const macs: string[] = [];
    for (const m of reg.macs ?? []) {
      const c = canonicalMac(m);
      if (!c) return Promise.reject(new BillboardError('USAGE', `"${m}" is not a MAC address (aa:bb:cc:dd:ee:ff)`));
      macs.push(c);
    }
    let keyFp: string | undefined;
    if (reg.publicKey) {
      const raw = Buffer.from(reg.publicKey, 'base64');
      if (raw.length !== 32 || raw.toString('base64') !== reg.publicKey.replace(/\s/g, '')) {
        return Promise.reject(
          new BillboardError(
            'USAGE',
            'the public key must be the base64 of a raw 32-byte Ed25519 key (as `billboard-beacon keygen` prints it)',
          ),
        );
      }
      keyFp = keyFingerprint(reg.publicKey);
    }
    return this.commit((doc) => {
      const existing = this.registration(uuid);
      // An operator may register an identity that scans or beacons already put up as a request:
      // the operator's registration replaces the automatic one (still pending, still audited).
      const supersedes = existing?.state === 'pending' && existing.origin !== 'operator' && reg.origin === 'operator';
      if (existing && existing.state !== 'rejected' && !supersedes) {
        throw new BillboardError('CONFLICT', `${uuid} is already registered as "${existing.name}" (${existing.state})`);
      }
      const clash = doc.registrations.find(
        (r) => r.uuid !== uuid && r.name.toLowerCase() === reg.name.toLowerCase() && r.state !== 'rejected',
      );
      if (clash && reg.origin === 'operator') {
        throw new BillboardError('CONFLICT', `the name "${reg.name}" is already used by ${clash.uuid} (${clash.state})`);
      }
      const r: Registration = {
        uuid,
        name: reg.name,
        ...(reg.publicKey ? { publicKey: reg.publicKey, keyFp } : {}),
        macs,
        ...(reg.os ? { os: reg.os } : {}),
        ...(reg.homeHost ? { homeHost: reg.homeHost } : {}),
        ...(reg.definitionHash ? { definitionHash: reg.definitionHash } : {}),
        state: 'pending',
        origin: reg.origin,
        ...(reg.firstSeen ? { firstSeen: reg.firstSeen } : existing?.firstSeen ? { firstSeen: existing.firstSeen } : {}),
        createdAt: this.now(),
        createdBy: actor,
      };
      const registrations = existing ? doc.registrations.map((x) => (x.uuid === uuid ? r : x)) : [...doc.registrations, r];
      const action = reg.origin === 'operator' ? 'register' : 'request';
      const { audit } = this.withAudit(doc, actor, action, uuid, {
        name: r.name,
        origin: r.origin,
        ...(keyFp ? { keyFp } : {}),
        macs,
        ...(r.homeHost ? { homeHost: r.homeHost } : {}),
        ...(r.firstSeen ? { firstSeen: r.firstSeen } : {}),
      });
      return { next: { ...doc, registrations, audit }, result: r };
    });
  }

  decide(
    uuid: string,
    to: Exclude<RegistrationState, 'pending'>,
    actor: string,
    reason?: string,
    bind?: Partial<Pick<Registration, 'publicKey' | 'macs' | 'definitionHash' | 'homeHost' | 'os'>>,
  ): Promise<Registration> {
    return this.commit((doc) => {
      const cur = this.registration(uuid);
      if (!cur) throw new BillboardError('NOT_FOUND', `no registration for ${uuid}`);
      if (!TRANSITIONS[to].includes(cur.state)) {
        const verb = { approved: 'approve', rejected: 'reject', revoked: 'revoke' }[to];
        throw new BillboardError('CONFLICT', `cannot ${verb} "${cur.name}": it is ${cur.state}`);
      }
      const bound = Object.fromEntries(Object.entries(bind ?? {}).filter(([, v]) => v !== undefined && !(Array.isArray(v) && !v.length)));
      const r: Registration = { ...cur, ...bound, state: to, decidedAt: this.now(), decidedBy: actor };
      if (bound.publicKey) r.keyFp = keyFingerprint(bound.publicKey as string);
      if (reason) r.reason = reason;
      else delete r.reason;
      const action = { approved: 'approve', rejected: 'reject', revoked: 'revoke' }[to];
      const { audit } = this.withAudit(doc, actor, action, cur.uuid, {
        name: cur.name,
        from: cur.state,
        ...(reason ? { reason } : {}),
        ...(Object.keys(bound).length ? { bound } : {}),
      });
      const registrations = doc.registrations.map((x) => (x.uuid === cur.uuid ? r : x));
      return { next: { ...doc, registrations, audit }, result: r };
    });
  }

  updateRegistration(
    uuid: string,
    patch: Partial<Omit<Registration, 'uuid' | 'state'>>,
    actor: string,
    action: string,
  ): Promise<Registration> {
    return this.commit((doc) => {
      const cur = this.registration(uuid);
      if (!cur) throw new BillboardError('NOT_FOUND', `no registration for ${uuid}`);
      const r: Registration = { ...cur, ...patch, uuid: cur.uuid, state: cur.state };
      if (patch.publicKey) r.keyFp = keyFingerprint(patch.publicKey);
      const { audit } = this.withAudit(doc, actor, action, cur.uuid, { name: cur.name, ...patch });
      const registrations = doc.registrations.map((x) => (x.uuid === cur.uuid ? r : x));
      return { next: { ...doc, registrations, audit }, result: r };
    });
  }

  // ── audit ──

  audit(actor: string, action: string, target: string, details: Record<string, unknown> = {}): Promise<AuditEntry> {
    return this.commit((doc) => {
      const { audit, entry } = this.withAudit(doc, actor, action, target, details);
      return { next: { ...doc, audit }, result: entry };
    });
  }

  auditLog(last?: number): readonly AuditEntry[] {
    const a = this.doc.audit;
    try {
      return last === undefined ? a.slice() : a.slice(Math.max(0, a.length - last));
    } catch (e) {
      throw new BillboardError('AUDIT_BROKEN', `the audit log cannot be read: ${errorLine(e)}`);
    }
  }

  verifyAudit(): AuditVerdict {
    const a = this.doc.audit;
    const entries: AuditEntry[] = [];
    for (let i = 0; i < a.length; i++) {
      try {
        entries.push(a.at(i));
      } catch {
        return { ok: false, entries: a.length, brokenAt: i + 1, reason: `entry #${i + 1} is not a readable audit entry` };
      }
    }
    return verifyChain(entries);
  }

  // ── engine and migration state ──

  findings(): readonly Finding[] {
    return this.doc.findings;
  }

  saveFindings(findings: readonly Finding[]): Promise<void> {
    return this.commit((doc) => ({ next: { ...doc, findings: [...findings] }, result: undefined }));
  }

  jobs(): readonly MigrationJob[] {
    return this.doc.jobs;
  }

  saveJob(job: MigrationJob): Promise<void> {
    return this.commit((doc) => {
      const i = doc.jobs.findIndex((j) => j.id === job.id);
      const jobs = i < 0 ? [...doc.jobs, job] : doc.jobs.map((j) => (j.id === job.id ? job : j));
      return { next: { ...doc, jobs }, result: undefined };
    });
  }

  beaconMarks(): ReadonlyMap<string, BeaconMark> {
    return this.doc.beacons;
  }

  /** Merge replay marks; only marks that differ from the stored ones are written. */
  saveBeaconMarks(marks: ReadonlyMap<string, BeaconMark>): Promise<void> {
    const clean: [string, BeaconMark][] = [];
    for (const [ref, m] of marks) {
      const uuid = canonicalUuid(ref);
      if (!uuid) return Promise.reject(new BillboardError('USAGE', `replay mark for "${safeText(ref, 40)}": not a UUID`));
      if (typeof m?.bootId !== 'string' || m.bootId.length > 128 || !Number.isSafeInteger(m.seq) || m.seq < 0 || !Number.isFinite(m.at)) {
        return Promise.reject(
          new BillboardError('USAGE', `replay mark for ${uuid}: needs a boot id (≤ 128 characters), a sequence number and a time`),
        );
      }
      clean.push([uuid, Object.freeze({ bootId: m.bootId, seq: m.seq, at: m.at })]);
    }
    return this.commit((doc) => {
      let beacons: Map<string, BeaconMark> | undefined;
      for (const [uuid, m] of clean) {
        const cur = doc.beacons.get(uuid);
        if (cur && cur.bootId === m.bootId && cur.seq === m.seq && cur.at === m.at) continue;
        beacons ??= new Map(doc.beacons);
        beacons.set(uuid, m);
      }
      return { next: beacons ? { ...doc, beacons } : doc, result: undefined };
    });
  }

  stats() {
    return {
      registrations: this.doc.registrations.length,
      auditEntries: this.doc.audit.length,
      bytes: this.adapter.bytes,
      lastWriteMs: this.adapter.lastWriteMs,
      compactions: this.adapter.compactions,
    };
  }

  /** Fold the appended changes into a new snapshot now (it otherwise happens in the background when due). */
  compact(): Promise<void> {
    if (this.readOnly) return Promise.reject(readOnlyError());
    return this.adapter.compactNow();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.idle;
    this.closed = true;
    await this.adapter.close();
    this.releaseLock();
  }
}
