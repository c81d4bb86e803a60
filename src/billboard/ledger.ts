import { BillboardError } from '../model/errors.js';
import type { Finding, Inventory } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { judgeAdmissionHook } from './admission-hooks.js';
import { DEFAULT_MAX_UNTRUSTED_SOURCES, type EngineLog, type EngineOptions } from './engine-options.js';
import { Enforcer } from './enforcement.js';
import type { Runs } from './enforcement-targets.js';
import { FindingBook } from './findings.js';
import type { FindingDraft } from './state.js';
import { FindingSubjects, subjectOf } from './subjects.js';
import { isSourceKey, UntrustedTallies, type UntrustedKind } from './untrusted.js';

const EMPTY: readonly string[] = Object.freeze([]);

export interface LedgerDeps {
  store: StoreApi;
  log?: EngineLog;
  now: () => number;
  incidentWindowMs: number;
  maxUntrustedSources: number;
  enforcement: EngineOptions['enforcement'];
  enforce: EngineOptions['enforce'];
  /** the admission hooks a host may have (EngineOptions.admissionHooks) */
  acceptedHooks?: EngineOptions['admissionHooks'];
  /** a VM's findings changed: its row must be rebuilt */
  rowChanged(uuid: string): void;
  /** where the identity is live (hosts up), where it runs since when (not paused), and whether it is migrating */
  runs(uuid: string): Runs;
  closed(): boolean;
  /** something changed outside an ingest: publish */
  changed(): void;
  /** every raise / update / ack / resolve, synchronously */
  emit(f: Finding): void;
}

/**
 * The findings side of the engine: the book (ids, dedupe, persistence), which subject raised which key and which
 * VMs each concerns, the source tallies of unauthenticated junk, and enforcement, which acts on what is raised.
 */
export class FindingLedger {
  readonly book: FindingBook;
  private readonly subjects: FindingSubjects;
  private readonly tallies: UntrustedTallies;
  private readonly enforcer: Enforcer;
  private readonly store: StoreApi;
  private readonly acceptedHooks: () => readonly string[] | undefined;

  /** the engine's ledger, as its options say; `hooks` are what the ledger asks of the engine */
  static forEngine(
    opts: EngineOptions,
    now: () => number,
    incidentWindowMs: number,
    hooks: Pick<LedgerDeps, 'rowChanged' | 'runs' | 'closed' | 'changed' | 'emit'>,
  ): FindingLedger {
    const maxUntrustedSources = opts.maxUntrustedSources ?? DEFAULT_MAX_UNTRUSTED_SOURCES;
    const base = {
      store: opts.store,
      log: opts.log,
      enforcement: opts.enforcement,
      enforce: opts.enforce,
      acceptedHooks: opts.admissionHooks,
    };
    return new FindingLedger({ ...base, ...hooks, now, incidentWindowMs, maxUntrustedSources });
  }

  constructor(d: LedgerDeps) {
    this.store = d.store;
    const hooks = d.acceptedHooks;
    this.acceptedHooks = typeof hooks === 'function' ? hooks : () => hooks;
    this.subjects = new FindingSubjects(d.rowChanged);
    this.tallies = new UntrustedTallies(d.incidentWindowMs, d.maxUntrustedSources);
    this.enforcer = new Enforcer({
      mode: d.enforcement,
      store: d.store,
      enforce: d.enforce,
      finding: (key) => this.book.get(key),
      runs: d.runs,
      closed: d.closed,
      raiseFailure: (f, host, action, error) => {
        const evidence = `enforcement failed: ${action} ${f.vmName ?? f.vm} on ${host}: ${error}`;
        const draft: FindingDraft = {
          code: f.code,
          severity: 'critical',
          key: `${f.key}:enforce:${host}`,
          vm: f.vm,
          vmName: f.vmName,
          hosts: [host],
          evidence,
        };
        this.subjects.add(`enf:${f.key}`, this.raise(draft, [f.vm], d.now()));
      },
      changed: d.changed,
      log: d.log,
    });
    this.book = new FindingBook({
      store: d.store,
      log: d.log,
      onChange: (f, change) => {
        d.emit(f);
        this.enforcer.onFinding(f, change);
      },
    });
  }

  /** Findings reloaded from the store keep their subjects, so fresh evidence resolves them. @returns the VMs they concern */
  reattach(): string[] {
    const vms: string[] = [];
    for (const key of this.book.carried) {
      const f = this.book.get(key)!;
      if (isSourceKey(key)) {
        this.tallies.adopt(key, f.lastSeen);
        continue;
      }
      this.subjects.add(subjectOf(f), key);
      if (f.vm) {
        vms.push(f.vm);
        this.subjects.setInvolved(key, [f.vm]);
      }
    }
    return vms;
  }

  raise(d: FindingDraft, uuids: readonly string[], now: number): string {
    const f = this.book.upsert(d, now);
    this.subjects.setInvolved(f.key, uuids);
    return f.key;
  }

  /** the subject now raises exactly `next`; reloaded findings wait for fresh evidence unless `fresh` */
  settle(subject: string, next: Set<string> | undefined, now: number, fresh: boolean): void {
    this.subjects.settle(
      subject,
      next,
      (key) => this.book.carried.has(key) && !fresh,
      (key) => this.resolve(key, now),
    );
  }

  resolve(key: string, now: number): void {
    this.book.resolve(key, now);
    this.subjects.release(key);
    this.enforcer.forget(key);
    for (const k of this.subjects.take(`enf:${key}`) ?? []) this.resolve(k, now);
  }

  async ack(id: string, actor: string, note?: string): Promise<Finding> {
    const f = this.book.byId(id);
    if (!f) throw new BillboardError('NOT_FOUND', `no finding ${id} (try: findings --all)`);
    if (f.state === 'resolved') throw new BillboardError('CONFLICT', `finding ${f.id} is already resolved`);
    await this.store.audit(actor, 'ack', f.id, { code: f.code, vm: f.vm, ...(note ? { note } : {}) });
    return this.book.ack(f.id, actor, note);
  }

  /** a scan's word on its host's admission hook: ADMISSION_BYPASSED raised or resolved (admission-hooks.ts) */
  hostScanned(inv: Inventory, now: number): void {
    judgeAdmissionHook(this, inv, this.acceptedHooks(), now);
  }

  hasSubject(subject: string): boolean {
    return this.subjects.has(subject);
  }

  subjectNames(): string[] {
    return this.subjects.subjects();
  }

  /** the active findings that concern a VM */
  vmFindings(uuid: string): Finding[] {
    const out: Finding[] = [];
    for (const k of this.subjects.vmKeys(uuid)) {
      const f = this.book.get(k);
      if (f) out.push(f);
    }
    return out;
  }

  hasVmFindings(uuid: string): boolean {
    return this.subjects.hasVmKeys(uuid);
  }

  forgetVm(uuid: string): void {
    this.subjects.forgetVm(uuid);
  }

  /** junk tallied per source: @returns whether it raised a new finding (the rest are refreshed on sweep) */
  tally(kind: UntrustedKind, from: string, uuid: string, now: number): boolean {
    const { key, fresh } = this.tallies.record(kind, from, uuid, now);
    if (!fresh) return false; // a flood costs a counter, not a finding update per datagram
    const d = this.tallies.draft(key);
    if (d) this.raise(d, EMPTY, now);
    return true;
  }

  /** refresh the source tallies' findings (once a tick) and resolve those past their window */
  sweepTallies(now: number, startedAt: number): void {
    const { live, expired } = this.tallies.sweep(now, startedAt);
    for (const d of live) this.raise(d, EMPTY, now);
    for (const key of expired) this.resolve(key, now);
  }

  talliedTotals(): Readonly<Record<UntrustedKind, number>> {
    return this.tallies.totals;
  }
}
