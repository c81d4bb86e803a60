// A fake MigrationService (src/console/services.ts) for a lab without a hypervisor: scripted jobs that run on a
// test clock (`tick`) instead of libvirt. What it decides with is production code: the pre-checks (runPrechecks),
// the parameter limits, the pre-copy model that the demo's simulated jobs use, and the convergence estimate. It
// tells the real Engine what to expect (begin / commit / end), moves the synthetic domain at commitment and audits
// every decision through the store, as the real manager does. Two simplifications: no two-person rule, and a job
// is verified at activation by time, not by a beacon.
import { EventEmitter } from 'node:events';
import type { MigrationService } from '../../src/console/services.js';
import type { MigrationEngineHooks } from '../../src/migration/hooks.js';
import { convergenceOf } from '../../src/migration/convergence.js';
import { checkMigrationParams, type MigrationParams } from '../../src/migration/limits.js';
import { runPrechecks } from '../../src/migration/prechecks.js';
import { advance, precopyParamsFor, precopyStats, startPrecopy, type PrecopyState } from '../../src/migration/precopy-model.js';
import type { Config } from '../../src/model/config.js';
import { MIGRATABLE_STATES } from '../../src/model/domain-states.js';
import { BillboardError } from '../../src/model/errors.js';
import type { JobTerminal, MigrationEvent, MigrationJob, MigrationStage, PreCheck, VmRow } from '../../src/model/types.js';
import type { StoreApi } from '../../src/store/api.js';
import type { FakeScanner } from './fake-scanner.js';

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted', 'denied']);
const MiB = 1024 * 1024;
/** ms a job stays in reservation, commitment and activation */
const STAGE_MS = { reservation: 1000, commitment: 500, activation: 1000 };

export type FakeMigrationEngine = Pick<
  MigrationEngineHooks,
  'resolveVm' | 'openCriticalFindings' | 'beginMigration' | 'commitMigration' | 'endMigration'
>;

export interface FakeMigrationsOptions {
  store: StoreApi;
  engine: FakeMigrationEngine;
  scanner: FakeScanner;
  migration: Config['migration'];
  now: () => number;
  /** the guests' dirty rate wobbles by this source of randomness (seeded in tests) */
  rand: () => number;
}

interface Run {
  /** dirty rate the guest averages (MiB/s) */
  dirtyRateMiBs: number;
  sim?: PrecopyState;
  committed: boolean;
}

export class FakeMigrations extends EventEmitter implements MigrationService {
  private readonly byId = new Map<string, MigrationJob>();
  private readonly runs = new Map<string, Run>();
  private nextId = 1;

  constructor(private readonly o: FakeMigrationsOptions) {
    super();
    this.setMaxListeners(100);
  }

  // ── the script: jobs as a scenario needs them ────────────────────────────────────────────────

  /**
   * Put a job in place as it stands now. A job in a running stage is under way: the engine is told, and one in
   * pre-copy has had `precopyMs` of the pre-copy model at `dirtyRateMiBs` (what its stats show).
   */
  seed(job: MigrationJob, run: { precopyMs?: number; dirtyRateMiBs?: number } = {}): MigrationJob {
    this.byId.set(job.id, job);
    this.nextId = Math.max(this.nextId, Number(job.id.slice(2)) + 1);
    if (TERMINAL.has(job.state) || job.state === 'awaiting-authorization') return job;
    const r: Run = { dirtyRateMiBs: run.dirtyRateMiBs ?? 14, committed: false };
    this.runs.set(job.id, r);
    this.o.engine.beginMigration({ job: job.id, uuid: job.vm, source: job.source, destination: job.destination });
    if (job.state === 'iterative-pre-copy') {
      r.sim = advance(this.startSim(job, r), run.precopyMs ?? 0);
      this.sample(job, r.sim);
    }
    return job;
  }

  /** Advance every running job by dtMs of the test clock (the clock has already moved). */
  tick(dtMs: number): void {
    for (const [id, run] of [...this.runs]) this.step(this.byId.get(id)!, run, dtMs);
  }

  // ── MigrationService ─────────────────────────────────────────────────────────────────────────

  jobs(): MigrationJob[] {
    return [...this.byId.values()].sort((a, b) => a.requestedAt - b.requestedAt);
  }

  job(ref: string): MigrationJob {
    return this.find(ref, false);
  }

  async choices(vmRef: string): Promise<{ host: string; ok: boolean; checks: PreCheck[] }[]> {
    const row = this.o.engine.resolveVm(vmRef);
    const on = runningOn(row);
    return this.o.scanner
      .configs()
      .filter((h) => !(on.length === 1 && h.name === on[0]))
      .map((h) => {
        const checks = this.prechecks(row, h.name);
        return { host: h.name, ok: checks.every((c) => c.ok), checks };
      });
  }

  async request(vmRef: string, toHost: string, opts: MigrationParams, actor: string): Promise<MigrationJob> {
    const row = this.o.engine.resolveVm(vmRef);
    const active = this.active(row.uuid);
    if (active) throw new BillboardError('CONFLICT', `${row.name} already has migration ${active.id} (${active.state})`);
    checkMigrationParams(opts);
    const checks = this.prechecks(row, toHost);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.o.store.audit(actor, 'migrate-refused', row.uuid, {
        name: row.name,
        destination: toHost,
        failed: failed.map((c) => `${c.name}: ${c.detail}`),
      });
      throw new BillboardError('REFUSED', `migration of ${row.name} to ${toHost} refused: ${failed.map((c) => c.detail).join('; ')}`);
    }
    const at = this.o.now();
    const job: MigrationJob = {
      id: `M-${this.nextId++}`,
      vm: row.uuid,
      vmName: row.name,
      source: runningOn(row)[0]!,
      destination: toHost,
      state: 'awaiting-authorization',
      requestedBy: actor,
      requestedAt: at,
      bandwidthMiBs: opts.bandwidthMiBs ?? this.o.migration.bandwidthMiBs,
      maxDowntimeMs: opts.maxDowntimeMs ?? this.o.migration.maxDowntimeMs,
      transport: this.o.migration.transport,
      checks,
      stages: [{ stage: 'pre-migration', enteredAt: at }],
      simulated: true,
    };
    await this.o.store.audit(actor, 'migrate-request', row.uuid, {
      job: job.id,
      name: row.name,
      source: job.source,
      destination: toHost,
      simulated: true,
    });
    this.byId.set(job.id, job);
    this.record({ type: 'stage', job: job.id, stage: 'pre-migration', at, detail: 'awaiting authorization' });
    return structuredClone(job);
  }

  async authorize(jobRef: string, actor: string): Promise<MigrationJob> {
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization')
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}, not awaiting authorization`);
    job.checks = this.prechecks(this.o.engine.resolveVm(job.vm), job.destination);
    const failed = job.checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.finish(job, 'failed', `pre-checks no longer pass: ${failed.map((c) => c.detail).join('; ')}`);
      throw new BillboardError('REFUSED', `${job.id} cannot start: ${failed.map((c) => c.detail).join('; ')}`);
    }
    await this.o.store.audit(actor, 'migrate-authorize', job.vm, {
      job: job.id,
      source: job.source,
      destination: job.destination,
      simulated: true,
    });
    job.authorizedBy = actor;
    job.authorizedAt = this.o.now();
    this.runs.set(job.id, { dirtyRateMiBs: 14, committed: false });
    this.o.engine.beginMigration({ job: job.id, uuid: job.vm, source: job.source, destination: job.destination });
    this.enter(job, 'reservation');
    return structuredClone(job);
  }

  async deny(jobRef: string, actor: string, reason?: string): Promise<MigrationJob> {
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization')
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: only a job awaiting authorization can be denied`);
    await this.o.store.audit(actor, 'migrate-deny', job.vm, { job: job.id, reason: reason ?? '' });
    await this.finish(job, 'denied', `denied by ${actor}${reason ? `: ${reason}` : ''}`);
    return structuredClone(job);
  }

  async abort(jobRef: string, actor: string): Promise<MigrationJob> {
    const job = this.find(jobRef, false);
    const run = this.runs.get(job.id);
    if (job.state !== 'awaiting-authorization' && !run) throw new BillboardError('CONFLICT', `${job.id} is not running`);
    if (run?.committed)
      throw new BillboardError('REFUSED', `${job.id} is past commitment: the VM already left ${job.source}; nothing to abort`);
    await this.o.store.audit(actor, 'migrate-abort', job.vm, { job: job.id, stage: job.state });
    await this.finish(
      job,
      'aborted',
      run ? `aborted by ${actor}; ${job.vmName} keeps running on ${job.source}` : `cancelled by ${actor} before authorization`,
    );
    return structuredClone(job);
  }

  async tune(jobRef: string, t: MigrationParams, actor: string): Promise<MigrationJob> {
    checkMigrationParams(t);
    const job = this.find(jobRef, false);
    const run = this.runs.get(job.id);
    if (!run || run.committed || !['reservation', 'iterative-pre-copy'].includes(job.state)) {
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: bandwidth and downtime can change only during pre-copy`);
    }
    const before = { bandwidthMiBs: job.bandwidthMiBs, maxDowntimeMs: job.maxDowntimeMs };
    if (run.sim) {
      const p = { ...run.sim.params };
      if (t.bandwidthMiBs !== undefined) p.bandwidthBps = t.bandwidthMiBs * MiB;
      if (t.maxDowntimeMs !== undefined) p.maxDowntimeMs = t.maxDowntimeMs;
      run.sim = { ...run.sim, params: p };
    }
    Object.assign(job, t);
    await this.o.store.audit(actor, 'migrate-tune', job.vm, { job: job.id, before, ...t });
    return structuredClone(job);
  }

  watch(jobRef: string, onEvent: (ev: MigrationEvent) => void): Promise<MigrationJob> {
    const job = this.find(jobRef, true);
    for (const s of job.stages) onEvent({ type: 'stage', job: job.id, stage: s.stage, at: s.enteredAt });
    if (TERMINAL.has(job.state)) return Promise.resolve(structuredClone(job));
    return new Promise((resolve) => {
      const listener = (ev: MigrationEvent) => {
        if (ev.job !== job.id) return;
        onEvent(ev);
        if (ev.type !== 'end') return;
        this.off('event', listener);
        resolve(structuredClone(job));
      };
      this.on('event', listener);
    });
  }

  // ── the stage machine on the test clock ──────────────────────────────────────────────────────

  private step(job: MigrationJob, run: Run, dtMs: number): void {
    const inStage = this.o.now() - (job.stages[job.stages.length - 1]?.enteredAt ?? this.o.now());
    if (job.state === 'reservation' && inStage >= STAGE_MS.reservation) {
      run.sim = this.startSim(job, run);
      this.enter(job, 'iterative-pre-copy');
    } else if ((job.state === 'iterative-pre-copy' || job.state === 'stop-and-copy') && run.sim) {
      // a guest's dirty rate is not constant: it wobbles around its mean, so remaining memory can grow between samples
      const dirty = dtMs > 0 ? run.dirtyRateMiBs * (0.8 + this.o.rand() * 0.45) * MiB : run.sim.params.dirtyRateBps;
      run.sim = advance({ ...run.sim, params: { ...run.sim.params, dirtyRateBps: dirty } }, dtMs);
      this.sample(job, run.sim);
      if (run.sim.phase !== 'pre-copy' && job.state === 'iterative-pre-copy') this.enter(job, 'stop-and-copy');
      if (run.sim.phase === 'done') this.commit(job, run);
    } else if (job.state === 'commitment' && inStage >= STAGE_MS.commitment) {
      this.enter(job, 'activation');
    } else if (job.state === 'activation' && inStage >= STAGE_MS.activation) {
      this.runs.delete(job.id);
      void this.complete(job);
    }
  }

  private startSim(job: MigrationJob, run: Run): PrecopyState {
    const row = this.o.engine.resolveVm(job.vm);
    const memKiB = row.instances.find((i) => i.host === job.source)?.memoryKiB ?? 1024 * 1024;
    return startPrecopy(precopyParamsFor(memKiB, job.bandwidthMiBs, job.maxDowntimeMs, run.dirtyRateMiBs));
  }

  private sample(job: MigrationJob, sim: PrecopyState): void {
    const stats = precopyStats(sim, this.o.now());
    job.lastStats = stats;
    if (stats.bandwidthBps) job.convergence = convergenceOf(stats, job.maxDowntimeMs);
    this.record({ type: 'progress', job: job.id, stats, convergence: job.convergence });
  }

  private commit(job: MigrationJob, run: Run): void {
    run.committed = true;
    this.enter(job, 'commitment');
    this.o.engine.commitMigration(job.id);
    this.o.scanner.move(job.vm, job.source, job.destination);
    void this.o.scanner.scan([job.source, job.destination]);
  }

  private async complete(job: MigrationJob): Promise<void> {
    await this.o.store.updateRegistration(job.vm, { homeHost: job.destination }, 'system', 'migrate-home').catch(() => undefined);
    const downtime = job.lastStats?.totalDowntimeMs;
    job.result = `${job.vmName} now on ${job.destination}${downtime !== undefined ? `, downtime ${downtime} ms` : ''} (simulated)`;
    await this.finish(job, 'completed', job.result);
  }

  private enter(job: MigrationJob, stage: MigrationStage): void {
    const at = this.o.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    job.stages.push({ stage, enteredAt: at });
    job.state = stage;
    this.record({ type: 'stage', job: job.id, stage, at });
  }

  private async finish(job: MigrationJob, state: JobTerminal, detail: string): Promise<void> {
    const at = this.o.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    const begun = job.authorizedAt !== undefined;
    this.runs.delete(job.id);
    job.state = state;
    job.endedAt = at;
    if (state !== 'completed') job.error = detail;
    if (begun && state !== 'denied') this.o.engine.endMigration(job.id, state);
    await this.o.store.audit('system', `migrate-${state}`, job.vm, {
      job: job.id,
      source: job.source,
      destination: job.destination,
      detail,
      simulated: true,
    });
    this.record({ type: 'end', job: job.id, state, at, detail });
  }

  private record(ev: MigrationEvent): void {
    this.emit('event', ev);
  }

  private prechecks(row: VmRow, destination: string): PreCheck[] {
    const on = runningOn(row);
    const source = on.length === 1 ? on[0] : undefined;
    const status = (h: string | undefined) => this.o.scanner.statuses().find((s) => s.name === h);
    const configured = this.o.scanner.configs().some((c) => c.name === destination);
    return runPrechecks({
      row,
      registration: this.o.store.registration(row.uuid),
      criticalFindings: this.o.engine.openCriticalFindings(row.uuid),
      runningOn: on,
      destination,
      destinationConfigured: configured,
      destinationStatus: status(destination),
      sourceNode: status(source)?.node,
      destinationNode: destination !== source ? status(destination)?.node : undefined,
      domain: source ? this.o.scanner.domains(source).get(row.uuid) : undefined,
      ...(source ? {} : { domainError: 'not running on a scanned host' }),
      transport: this.o.migration.transport,
      simulated: true,
    });
  }

  private find(ref: string, allowFinished: boolean): MigrationJob {
    const byId = this.byId.get(ref.toUpperCase());
    if (byId) return byId;
    let row: VmRow;
    try {
      row = this.o.engine.resolveVm(ref);
    } catch {
      throw new BillboardError('NOT_FOUND', `no migration job or VM "${ref}"`);
    }
    const job =
      this.active(row.uuid) ??
      (allowFinished
        ? this.jobs()
            .filter((j) => j.vm === row.uuid)
            .pop()
        : undefined);
    if (job) return job;
    throw new BillboardError('NOT_FOUND', `${row.name} has no pending or running migration`);
  }

  private active(uuid: string): MigrationJob | undefined {
    return [...this.byId.values()].find((j) => j.vm === uuid && !TERMINAL.has(j.state));
  }
}

function runningOn(row: VmRow): string[] {
  return [...new Set(row.instances.filter((i) => MIGRATABLE_STATES.has(i.state)).map((i) => i.host))];
}
