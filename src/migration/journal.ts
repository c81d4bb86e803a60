import { isTerminal } from '../model/domain-states.js';
import { errorLine } from '../model/errors.js';
import type { JobTerminal, MigrationEvent, MigrationJob, MigrationStage } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import type { MigrationLog } from './hooks.js';

/** the audit actor of what the stage machine does on its own */
export const SYSTEM = 'system';
/** events kept per job for a watcher that comes late */
const HISTORY = 64;
/** progress-only saves of one job are at most this often */
const PROGRESS_SAVE_MS = 1000;

export interface JournalOptions {
  store: StoreApi;
  now: () => number;
  log?: MigrationLog;
  /** every event, as it is recorded */
  emit(ev: MigrationEvent): void;
  /** a job reached a terminal state (before its end is audited and saved) */
  ended(job: MigrationJob, state: JobTerminal): void;
}

/**
 * The migration jobs, their stage lists and recent events, and their saves: every stage change and every end is
 * saved, serialized, and a job's end event follows its save, so whoever sees it can rely on the stored job.
 */
export class JobJournal {
  private readonly byId = new Map<string, MigrationJob>();
  private readonly history = new Map<string, MigrationEvent[]>();
  private readonly lastSaved = new Map<string, number>();
  private saveChain: Promise<void> = Promise.resolve();
  private lastId = 0;

  constructor(private readonly options: JournalOptions) {
    for (const j of options.store.jobs()) {
      this.byId.set(j.id, structuredClone(j));
      const n = Number(/^M-(\d+)$/.exec(j.id)?.[1]);
      if (n > this.lastId) this.lastId = n;
    }
  }

  nextId(): string {
    return `M-${++this.lastId}`;
  }

  add(job: MigrationJob): void {
    this.byId.set(job.id, job);
  }

  get(id: string): MigrationJob | undefined {
    return this.byId.get(id);
  }

  /** oldest request first */
  all(): MigrationJob[] {
    return [...this.byId.values()].sort((a, b) => a.requestedAt - b.requestedAt);
  }

  /** the VM's pending or running job */
  activeFor(uuid: string): MigrationJob | undefined {
    return [...this.byId.values()].find((j) => j.vm === uuid && !isTerminal(j.state));
  }

  enter(job: MigrationJob, stage: MigrationStage, detail?: string): void {
    const at = this.options.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    job.stages.push({ stage, enteredAt: at });
    job.state = stage;
    this.record({ type: 'stage', job: job.id, stage, at, detail });
    void this.persist(job, true);
  }

  async finish(job: MigrationJob, state: JobTerminal, detail: string): Promise<void> {
    const { store, log } = this.options;
    const at = this.options.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    job.state = state;
    job.endedAt = at;
    if (state !== 'completed' && !job.error) job.error = detail;
    if (state === 'completed' && !job.result) job.result = detail;
    this.options.ended(job, state);
    const entry = { job: job.id, source: job.source, destination: job.destination, detail, simulated: !!job.simulated };
    await store
      .audit(SYSTEM, `migrate-${state}`, job.vm, entry)
      .catch((e) => log?.warn({ job: job.id, err: errorLine(e) }, 'audit of migration end failed'));
    // durable first: whoever sees the end event can rely on the stored job being final
    await this.persist(job, true);
    this.record({ type: 'end', job: job.id, state, at, detail });
  }

  record(ev: MigrationEvent): void {
    let h = this.history.get(ev.job);
    if (!h) this.history.set(ev.job, (h = []));
    if (ev.type === 'progress') {
      // keep only the latest sample for replay: watchers see live samples as they come
      const i = h.findIndex((x) => x.type === 'progress');
      if (i >= 0) h.splice(i, 1);
    }
    h.push(ev);
    if (h.length > HISTORY) h.shift();
    this.options.emit(ev);
  }

  /** the job's events so far, for a watcher that starts now */
  replay(job: MigrationJob): MigrationEvent[] {
    const h = this.history.get(job.id);
    if (h?.length) return [...h];
    // a job from a previous process: rebuild from its stage list
    const evs: MigrationEvent[] = job.stages.map((s) => ({ type: 'stage', job: job.id, stage: s.stage, at: s.enteredAt }));
    if (job.lastStats) evs.push({ type: 'progress', job: job.id, stats: job.lastStats, convergence: job.convergence });
    if (isTerminal(job.state)) {
      const at = job.endedAt ?? job.requestedAt;
      evs.push({ type: 'end', job: job.id, state: job.state as JobTerminal, at, detail: job.result ?? job.error });
    }
    return evs;
  }

  /** saves are serialized; progress-only saves (`force` false) are limited per job */
  persist(job: MigrationJob, force: boolean): Promise<void> {
    const t = this.options.now();
    if (!force && t - (this.lastSaved.get(job.id) ?? 0) < PROGRESS_SAVE_MS) return this.saveChain;
    this.lastSaved.set(job.id, t);
    const copy = structuredClone(job);
    this.saveChain = this.saveChain
      .then(() => this.options.store.saveJob(copy))
      .catch((e) => this.options.log?.warn({ job: job.id, err: errorLine(e) }, 'saving migration job failed'));
    return this.saveChain;
  }

  /** settles when every save asked for so far has been made (or has failed and been logged) */
  saved(): Promise<void> {
    return this.saveChain;
  }
}
