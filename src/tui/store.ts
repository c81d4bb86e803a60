// The TUI's data store, outside React: it turns the console's unthrottled change notifications into at most one
// published state per `intervalMs` (10 Hz by default), plus a slow clock tick so ages keep moving while nothing
// changes. React reads it through useSyncExternalStore (see hooks.ts); nothing here renders.
import type { ConsoleApi } from '../console/api.js';
import type { AuditEntry, BillboardSnapshot, JobStats, MigrationJob, Registration } from '../model/types.js';

export interface TuiData {
  snapshot: BillboardSnapshot;
  jobs: readonly MigrationJob[];
  pending: readonly Registration[];
  /** only read while the audit view is visible (see wantAudit) */
  audit: readonly AuditEntry[];
  /** last samples per job id, oldest first, bounded (for sparklines and "going backwards" marks) */
  history: ReadonlyMap<string, readonly JobStats[]>;
  /** the clock the views compute ages against */
  now: number;
  /** increases on every publish */
  seq: number;
}

export interface TuiStoreOptions {
  intervalMs?: number;
  clockMs?: number;
  now?: () => number;
  auditLast?: number;
  historyLength?: number;
}

export class TuiStore {
  private state: TuiData;
  private readonly listeners = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private clockTimer: ReturnType<typeof setInterval> | undefined;
  private lastPublish = 0;
  private unsubscribe: (() => void) | undefined;
  private wantAudit = false;
  private readonly history = new Map<string, JobStats[]>();
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly auditLast: number;
  private readonly historyLength: number;
  /** called just before listeners run on a publish (bench instrumentation) */
  onPublish: (() => void) | undefined;

  constructor(
    private readonly api: ConsoleApi,
    opts: TuiStoreOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.auditLast = opts.auditLast ?? 500;
    this.historyLength = opts.historyLength ?? 120;
    this.state = this.read(0);
    this.lastPublish = this.now();
    const clockMs = opts.clockMs ?? 1000;
    this.unsubscribe = api.subscribe(this.changed);
    if (clockMs > 0) {
      this.clockTimer = setInterval(this.changed, clockMs);
      this.clockTimer.unref?.();
    }
  }

  getState = (): TuiData => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** the audit log is read on publishes only while someone looks at it */
  setWantAudit(want: boolean): void {
    if (want === this.wantAudit) return;
    this.wantAudit = want;
    if (want) this.publishNow();
  }

  /** publish immediately (after a command ran, so its effect shows without waiting for the next slot) */
  publishNow = (): void => {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.publish();
  };

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.timer = this.clockTimer = undefined;
    this.listeners.clear();
  }

  /** the console's listener: cheap, schedules at most one publish per interval */
  private changed = (): void => {
    if (this.timer || !this.unsubscribe) return;
    const wait = Math.max(0, this.lastPublish + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, wait);
  };

  private publish(): void {
    if (!this.unsubscribe) return;
    this.lastPublish = this.now();
    this.state = this.read(this.state.seq + 1);
    this.onPublish?.();
    for (const l of this.listeners) l();
  }

  private read(seq: number): TuiData {
    const prev = this.state as TuiData | undefined;
    const snapshot = this.api.snapshot();
    // Views keep sorted lists by row identity; a job changes in place behind the api, so each publish hands them
    // new objects (jobs are few) and a row never shows an old state.
    const jobs = this.api.jobs().map((j) => Object.freeze({ ...j }));
    for (const j of jobs) {
      if (!j.lastStats) continue;
      let h = this.history.get(j.id);
      if (!h) this.history.set(j.id, (h = []));
      if (h[h.length - 1]?.at !== j.lastStats.at) {
        h.push(j.lastStats);
        if (h.length > this.historyLength) h.splice(0, h.length - this.historyLength);
      }
    }
    if (this.history.size > jobs.length + 16) {
      const live = new Set(jobs.map((j) => j.id));
      for (const k of this.history.keys()) if (!live.has(k)) this.history.delete(k);
    }
    return {
      snapshot,
      jobs,
      pending: this.api.pending(),
      audit: this.wantAudit ? this.api.auditLog(this.auditLast) : (prev?.audit ?? []),
      history: this.history,
      now: this.now(),
      seq,
    };
  }
}
