import { BillboardError } from '../model/errors.js';
import { SEVERITY_ORDER, type Finding } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import type { FindingDraft } from './state.js';

export type FindingChange = 'raised' | 'updated' | 'resolved' | 'acked';

export interface FindingBookOptions {
  store: StoreApi;
  onChange: (f: Finding, change: FindingChange) => void;
  log?: { warn(o: object, msg?: string): void };
  /** how many resolved findings to keep (memory and store) */
  keepResolved?: number;
  /** save delay when an open critical finding changed (must be on disk within ~1 s) */
  criticalSaveMs?: number;
  /** save delay otherwise */
  saveMs?: number;
}

/**
 * The findings ledger: dedupes drafts by key into Findings with stable ids, counts and timestamps, resolves them,
 * and persists them through store.saveFindings — throttled, but an open critical finding is written within
 * criticalSaveMs. Every Finding object is frozen and replaced on change.
 */
export class FindingBook {
  private readonly active = new Map<string, Finding>();
  private resolved: Finding[] = [];
  private nextId = 1;
  private sorted: readonly Finding[] | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saveDue = Infinity;
  private saving: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly keepResolved: number;
  private readonly criticalSaveMs: number;
  private readonly saveMs: number;
  /** keys reloaded from the store: not resolved until the engine has fresh evidence (see Engine) */
  readonly carried = new Set<string>();

  constructor(private readonly opts: FindingBookOptions) {
    this.keepResolved = opts.keepResolved ?? 500;
    this.criticalSaveMs = opts.criticalSaveMs ?? 250;
    this.saveMs = opts.saveMs ?? 3000;
    for (const f of opts.store.findings()) {
      const n = /^F-(\d+)$/.exec(f.id);
      if (n) this.nextId = Math.max(this.nextId, Number(n[1]) + 1);
      if (f.state === 'resolved') this.resolved.push(Object.freeze({ ...f, hosts: [...f.hosts] }));
      else {
        this.active.set(f.key, Object.freeze({ ...f, hosts: [...f.hosts] }));
        this.carried.add(f.key);
      }
    }
    this.resolved = this.resolved.slice(-this.keepResolved);
  }

  get(key: string): Finding | undefined {
    return this.active.get(key);
  }

  activeKeys(): IterableIterator<string> {
    return this.active.keys();
  }

  /** Raise or update the finding for draft.key. */
  upsert(d: FindingDraft, now: number): Finding {
    const key = d.key ?? `${d.code}:${d.vm}`;
    const cur = this.active.get(key);
    if (!cur) {
      const f: Finding = Object.freeze({
        id: `F-${this.nextId++}`,
        key,
        code: d.code,
        severity: d.severity,
        vm: d.vm,
        vmName: d.vmName,
        hosts: d.hosts,
        evidence: d.evidence,
        evidenceSource: d.evidenceSource ?? 'scan',
        firstSeen: now,
        lastSeen: now,
        count: 1,
        state: 'open',
      });
      this.put(f, 'raised');
      return f;
    }
    const source = d.evidenceSource ?? 'scan';
    const changed =
      cur.severity !== d.severity ||
      cur.evidence !== d.evidence ||
      cur.vmName !== d.vmName ||
      (cur.evidenceSource ?? 'scan') !== source ||
      !sameList(cur.hosts, d.hosts);
    if (changed) {
      const f: Finding = Object.freeze({
        ...cur,
        severity: d.severity,
        evidence: d.evidence,
        evidenceSource: source,
        vmName: d.vmName,
        hosts: d.hosts,
        lastSeen: now,
        count: cur.count + 1,
      });
      this.carried.delete(key);
      this.put(f, 'updated');
      return f;
    }
    this.carried.delete(key);
    // Same evidence again: refresh lastSeen at most once a second (no event; keeps snapshot churn low).
    if (now - cur.lastSeen >= 1000) {
      const f = Object.freeze({ ...cur, lastSeen: now });
      this.active.set(key, f);
      this.sorted = undefined;
      this.markDirty(false);
      return f;
    }
    return cur;
  }

  resolve(key: string, now: number): Finding | undefined {
    const cur = this.active.get(key);
    if (!cur) return undefined;
    this.active.delete(key);
    this.carried.delete(key);
    const f: Finding = Object.freeze({ ...cur, state: 'resolved', resolvedAt: now, lastSeen: Math.max(cur.lastSeen, now) });
    this.resolved.push(f);
    if (this.resolved.length > this.keepResolved * 2) this.resolved = this.resolved.slice(-this.keepResolved);
    this.sorted = undefined;
    this.markDirty(cur.severity === 'critical');
    this.opts.onChange(f, 'resolved');
    return f;
  }

  /** Operator acknowledgement; the caller audits it. */
  ack(id: string, actor: string, note?: string): Finding {
    const cur = this.byId(id);
    if (!cur) throw new BillboardError('NOT_FOUND', `no finding ${id}`);
    if (cur.state === 'resolved') throw new BillboardError('CONFLICT', `finding ${id} is already resolved`);
    const f: Finding = Object.freeze({ ...cur, state: 'acked', ackedBy: actor, ...(note !== undefined ? { note } : {}) });
    this.put(f, 'acked');
    return f;
  }

  byId(id: string): Finding | undefined {
    const want = id.trim().toUpperCase();
    for (const f of this.active.values()) if (f.id === want) return f;
    for (let i = this.resolved.length - 1; i >= 0; i--) if (this.resolved[i].id === want) return this.resolved[i];
    return undefined;
  }

  /** open + acked, worst first then newest; the same array until something changes */
  list(): readonly Finding[] {
    if (!this.sorted) {
      this.sorted = Object.freeze(
        [...this.active.values()].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || b.lastSeen - a.lastSeen),
      );
    }
    return this.sorted;
  }

  all(): Finding[] {
    return [...this.resolved, ...this.list()];
  }

  private put(f: Finding, change: FindingChange): void {
    this.active.set(f.key, f);
    this.sorted = undefined;
    this.markDirty(f.severity === 'critical');
    this.opts.onChange(f, change);
  }

  private markDirty(critical: boolean): void {
    this.dirty = true;
    if (this.closed) return;
    const due = Date.now() + (critical ? this.criticalSaveMs : this.saveMs);
    if (this.saveTimer && this.saveDue <= due) return; // throttle: an earlier save is already scheduled
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveDue = due;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveDue = Infinity;
      void this.flush();
    }, due - Date.now());
    this.saveTimer.unref?.();
  }

  /** Write now (waits for an in-flight write first). */
  async flush(): Promise<void> {
    while (this.saving) await this.saving;
    if (!this.dirty) return;
    this.dirty = false;
    const snapshot = [...this.resolved.slice(-this.keepResolved), ...this.active.values()];
    this.saving = this.opts.store
      .saveFindings(snapshot)
      .catch((e: unknown) => {
        this.dirty = true;
        this.opts.log?.warn({ err: String(e) }, 'saving findings failed; will retry');
        if (!this.closed) this.markDirty(false);
      })
      .finally(() => {
        this.saving = undefined;
      });
    await this.saving;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.flush();
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
