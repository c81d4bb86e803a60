import { EventEmitter } from 'node:events';
import type { Config, HostConfig } from '../model/config.js';
import { migrationUriOf } from '../model/config.js';
import { BillboardError, errorLine } from '../model/errors.js';
import type {
  DomainInfo,
  JobStats,
  JobTerminal,
  MigrationEvent,
  MigrationJob,
  MigrationStage,
  PreCheck,
  VmRow,
} from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { MIGRATABLE_STATES } from '../model/domain-states.js';
import { activation, type Activation } from './activation.js';
import { convergenceOf, DEFAULT_MAX_DOWNTIME_MS } from './convergence.js';
import type { MigrationEngineHooks, MigrationHosts } from './hooks.js';
import { checkMigrationParams, type MigrationParams } from './limits.js';
import { isEncrypted, type PrecheckFacts, runPrechecks } from './prechecks.js';
import { advance, demoPrecopyParams, precopyStats, startPrecopy, type PrecopyState } from './precopy-model.js';

// The migration stage machine: gate (pre-checks + authorization), execute through the source host's driver,
// watch libvirt's job stats at ≥ 4 Hz and map them to the DESIGN.md stages, then verify the end state
// (source discharged, destination running, identity re-verified by beacon when the VM has a key).

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'aborted', 'denied']);
const SYSTEM = 'system';

export interface MigrationManagerOptions {
  store: StoreApi;
  engine: MigrationEngineHooks;
  hosts: MigrationHosts;
  migration: Config['migration'];
  /** hosts whose hypervisor cannot migrate (default: libvirt hosts on a test:/// URI): jobs touching them are simulated */
  isSimulatedHost?: (host: HostConfig) => boolean;
  /** the demo moves the VM between its test-driver hosts at commitment */
  simulateMove?: (uuid: string, from: string, to: string) => Promise<void>;
  /** dirty rate the pre-copy model assumes for a simulated guest (MiB/s) */
  simDirtyRateMiBs?: number;
  /** job-stats sampling period (≥ 4 Hz required; default 200 ms) */
  sampleIntervalMs?: number;
  /** how long commitment / activation checks may take */
  verifyTimeoutMs?: number;
  /** how long to wait for the re-verifying beacon of a keyed VM */
  activationTimeoutMs?: number;
  /** a simulated job that has not converged after this long fails */
  simMaxMs?: number;
  now?: () => number;
  log?: { info(o: unknown, m?: string): void; warn(o: unknown, m?: string): void };
  /** a read-only session: decisions are refused, and jobs a writer runs are neither recovered nor aborted */
  readOnly?: boolean;
}

/** a request's read of the domain on the source, reused by an authorization that follows within FRESH_MS */
interface DomainRead {
  at: number;
  domain?: DomainInfo;
  domainError?: string;
}
const FRESH_MS = 30_000;

interface Run {
  job: MigrationJob;
  /** the destination URI fixed (and audited) at authorization */
  destUri: string;
  controller: AbortController;
  abortBy?: string;
  committed: boolean;
  sim?: PrecopyState;
  done: Promise<void>;
}

export interface MigrationChoice {
  host: string;
  ok: boolean;
  checks: PreCheck[];
}

export class MigrationManager extends EventEmitter {
  private readonly jobsById = new Map<string, MigrationJob>();
  private readonly runs = new Map<string, Run>();
  private readonly history = new Map<string, MigrationEvent[]>();
  private readonly lastSaved = new Map<string, number>();
  private readonly domainRead = new Map<string, DomainRead>();
  private saveChain: Promise<void> = Promise.resolve();
  private nextId = 1;
  private closed = false;
  private readonly interval: number;
  private readonly now: () => number;
  /** settles when jobs left running by a previous process have been closed */
  readonly ready: Promise<void>;

  constructor(private readonly o: MigrationManagerOptions) {
    super();
    this.setMaxListeners(100);
    this.interval = Math.min(250, o.sampleIntervalMs ?? 200);
    this.now = o.now ?? Date.now;
    for (const j of o.store.jobs()) {
      this.jobsById.set(j.id, structuredClone(j));
      const n = Number(/^M-(\d+)$/.exec(j.id)?.[1]);
      if (n >= this.nextId) this.nextId = n + 1;
    }
    this.ready = o.readOnly ? Promise.resolve() : this.recover().catch((e) => o.log?.warn({ err: errorLine(e) }, 'migration recovery failed'));
  }

  // ── queries ──────────────────────────────────────────────────────────────────────────────────

  jobs(): MigrationJob[] {
    return [...this.jobsById.values()].sort((a, b) => a.requestedAt - b.requestedAt);
  }

  /** a job id, or a VM (its pending or running job) */
  job(ref: string): MigrationJob {
    return this.find(ref, false);
  }

  /** pre-checks of migrating the VM to every other configured host */
  async choices(vmRef: string): Promise<MigrationChoice[]> {
    const row = this.o.engine.resolveVm(vmRef);
    const source = this.runningOn(row);
    const others = this.o.hosts.configs().filter((h) => !(source.length === 1 && h.name === source[0]));
    return Promise.all(
      others.map(async (h) => {
        const checks = runPrechecks(await this.facts(row, h.name));
        return { host: h.name, ok: checks.every((c) => c.ok), checks };
      }),
    );
  }

  // ── decisions ────────────────────────────────────────────────────────────────────────────────

  async request(vmRef: string, toHost: string, opts: { bandwidthMiBs?: number; maxDowntimeMs?: number }, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const row = this.o.engine.resolveVm(vmRef);
    const active = this.activeJobFor(row.uuid);
    if (active) throw new BillboardError('CONFLICT', `${row.name} already has migration ${active.id} (${active.state})`);
    checkMigrationParams(opts);
    const facts = await this.facts(row, toHost);
    const checks = runPrechecks(facts);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.o.store.audit(actor, 'migrate-refused', row.uuid, { name: row.name, destination: toHost, failed: failed.map((c) => `${c.name}: ${c.detail}`) });
      throw new BillboardError('REFUSED', `migration of ${row.name} to ${toHost} refused: ${failed.map((c) => c.detail).join('; ')}`, { checks });
    }
    const source = facts.runningOn[0];
    const at = this.now();
    const job: MigrationJob = {
      id: `M-${this.nextId++}`,
      vm: row.uuid,
      vmName: row.name,
      source,
      destination: toHost,
      state: 'awaiting-authorization',
      requestedBy: actor,
      requestedAt: at,
      bandwidthMiBs: opts.bandwidthMiBs ?? this.o.migration.bandwidthMiBs,
      maxDowntimeMs: opts.maxDowntimeMs ?? this.o.migration.maxDowntimeMs,
      transport: this.o.migration.transport,
      checks,
      stages: [{ stage: 'pre-migration', enteredAt: at }],
    };
    if (this.isSimulated(source, toHost)) job.simulated = true;
    this.domainRead.set(job.id, { at, domain: facts.domain, domainError: facts.domainError });
    await this.o.store.audit(actor, 'migrate-request', row.uuid, {
      job: job.id,
      name: row.name,
      source,
      destination: toHost,
      bandwidthMiBs: job.bandwidthMiBs,
      maxDowntimeMs: job.maxDowntimeMs,
      transport: job.transport,
      simulated: !!job.simulated,
    });
    this.jobsById.set(job.id, job);
    this.record({ type: 'stage', job: job.id, stage: 'pre-migration', at, detail: `${checks.length} pre-checks passed; awaiting authorization` });
    await this.persist(job, true);
    return structuredClone(job);
  }

  async authorize(jobRef: string, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization') throw new BillboardError('CONFLICT', `${job.id} is ${job.state}, not awaiting authorization`);
    if (this.o.migration.requireDifferentAuthorizer && actor === job.requestedBy) {
      await this.o.store.audit(actor, 'migrate-authorize-refused', job.vm, { job: job.id, reason: 'two-person rule' });
      throw new BillboardError('REFUSED', `${job.id} was requested by ${actor}: another operator must authorize it (migration.requireDifferentAuthorizer)`);
    }
    // the world may have moved since the request: check again
    const row = this.o.engine.resolveVm(job.vm);
    const cached = this.domainRead.get(job.id);
    const checks = runPrechecks(await this.facts(row, job.destination, cached && this.now() - cached.at < FRESH_MS ? cached : undefined));
    this.domainRead.delete(job.id);
    job.checks = checks;
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.o.store.audit(actor, 'migrate-authorize-refused', job.vm, { job: job.id, failed: failed.map((c) => `${c.name}: ${c.detail}`) });
      await this.finish(job, 'failed', `pre-checks no longer pass: ${failed.map((c) => c.detail).join('; ')}`);
      throw new BillboardError('REFUSED', `${job.id} cannot start: ${failed.map((c) => c.detail).join('; ')}`);
    }
    // The transport is the policy's at authorization, not the request's: the pre-checks above judged the current
    // policy, and a request made under an older, weaker one must not run with it.
    const requested = job.transport;
    job.transport = this.o.migration.transport;
    const destUri = migrationUriOf(this.config(job.destination));
    await this.o.store.audit(actor, 'migrate-authorize', job.vm, {
      job: job.id,
      source: job.source,
      destination: job.destination,
      transport: job.transport,
      destUri,
      encrypted: !!job.simulated || isEncrypted(job.transport, destUri),
      ...(requested !== job.transport ? { requestedTransport: requested } : {}),
      simulated: !!job.simulated,
    });
    job.authorizedBy = actor;
    job.authorizedAt = this.now();
    this.o.engine.beginMigration({ job: job.id, uuid: job.vm, source: job.source, destination: job.destination });
    const run: Run = { job, destUri, controller: new AbortController(), committed: false, done: Promise.resolve() };
    this.runs.set(job.id, run);
    this.enter(job, 'reservation', `authorized by ${actor}; reserving ${job.destination}`);
    run.done = (job.simulated ? this.runSimulated(run) : this.runLibvirt(run)).catch(async (e) => {
      if (!TERMINAL.has(job.state)) await this.finish(job, 'failed', `internal error: ${errorLine(e)}`);
    });
    return structuredClone(job);
  }

  async deny(jobRef: string, actor: string, reason?: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization') throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: only a job awaiting authorization can be denied`);
    await this.o.store.audit(actor, 'migrate-deny', job.vm, { job: job.id, reason: reason ?? '' });
    await this.finish(job, 'denied', `denied by ${actor}${reason ? `: ${reason}` : ''}`);
    return structuredClone(job);
  }

  /** domjobabort on the source; the VM keeps running there. Resolves with the job once it has ended. */
  async abort(jobRef: string, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state === 'awaiting-authorization') {
      await this.o.store.audit(actor, 'migrate-abort', job.vm, { job: job.id, stage: job.state });
      await this.finish(job, 'aborted', `cancelled by ${actor} before authorization`);
      return structuredClone(job);
    }
    const run = this.runs.get(job.id);
    if (!run) throw new BillboardError('CONFLICT', `${job.id} is not running`);
    if (run.committed) throw new BillboardError('REFUSED', `${job.id} is past commitment: the VM already left ${job.source}; nothing to abort`);
    await this.o.store.audit(actor, 'migrate-abort', job.vm, { job: job.id, stage: job.state });
    run.abortBy = actor;
    if (!job.simulated) {
      try {
        await this.o.hosts.driver(job.source).abortJob(job.vm);
      } catch (e) {
        // no libvirt job yet (still reserving): stop the migrate command itself
        this.o.log?.warn({ job: job.id, err: errorLine(e) }, 'domjobabort failed; cancelling the migrate command');
        run.controller.abort();
      }
    }
    await run.done;
    return structuredClone(job);
  }

  /**
   * Change bandwidth / max downtime of a running job (the convergence estimate's one-key action). Values are whole
   * numbers within the hypervisor's limits; raising the downtime is a second decision under the two-person rule;
   * the audit entry records what the host accepted (or refused), after the host call.
   */
  async tune(jobRef: string, t: MigrationParams, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    checkMigrationParams(t);
    const job = this.find(jobRef, false);
    const run = this.runs.get(job.id);
    if (!run || run.committed || !['reservation', 'iterative-pre-copy'].includes(job.state)) {
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: bandwidth and downtime can change only during pre-copy`);
    }
    const before = { bandwidthMiBs: job.bandwidthMiBs, maxDowntimeMs: job.maxDowntimeMs };
    const raises = t.maxDowntimeMs !== undefined && t.maxDowntimeMs > (job.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS);
    if (raises && this.o.migration.requireDifferentAuthorizer && actor === job.requestedBy) {
      await this.o.store.audit(actor, 'migrate-tune-refused', job.vm, { job: job.id, before, requested: t, reason: 'two-person rule' });
      throw new BillboardError(
        'REFUSED',
        `${job.id} was requested by ${actor}: raising its max downtime needs another operator (migration.requireDifferentAuthorizer)`,
      );
    }
    const applied: MigrationParams = {};
    try {
      await this.applyTune(run, t, applied);
    } catch (e) {
      Object.assign(job, applied);
      await this.o.store
        .audit(actor, 'migrate-tune-failed', job.vm, { job: job.id, before, requested: t, applied, error: errorLine(e) })
        .catch((err) => this.o.log?.warn({ job: job.id, err: errorLine(err) }, 'audit of a failed tune failed'));
      await this.persist(job, true);
      throw e;
    }
    Object.assign(job, applied);
    await this.o.store.audit(actor, 'migrate-tune', job.vm, { job: job.id, before, ...applied });
    await this.persist(job, true);
    return structuredClone(job);
  }

  /** one host call per value; `applied` says which took effect when a later one fails */
  private async applyTune(run: Run, t: MigrationParams, applied: MigrationParams): Promise<void> {
    const { job } = run;
    if (run.sim) {
      const p = { ...run.sim.params };
      if (t.bandwidthMiBs !== undefined) p.bandwidthBps = t.bandwidthMiBs * 1024 * 1024;
      if (t.maxDowntimeMs !== undefined) p.maxDowntimeMs = t.maxDowntimeMs;
      run.sim = { ...run.sim, params: p };
      Object.assign(applied, t);
      return;
    }
    const d = this.o.hosts.driver(job.source);
    if (t.bandwidthMiBs !== undefined) {
      await d.setBandwidth(job.vm, t.bandwidthMiBs);
      applied.bandwidthMiBs = t.bandwidthMiBs;
    }
    if (t.maxDowntimeMs !== undefined) {
      await d.setMaxDowntime(job.vm, t.maxDowntimeMs);
      applied.maxDowntimeMs = t.maxDowntimeMs;
    }
  }

  /** replay the job's stage history, then stream its events until it ends; resolves with the final job */
  watch(jobRef: string, onEvent: (ev: MigrationEvent) => void): Promise<MigrationJob> {
    const job = this.find(jobRef, true);
    for (const ev of this.replay(job)) onEvent(ev);
    if (TERMINAL.has(job.state)) return Promise.resolve(structuredClone(job));
    return new Promise((resolve) => {
      const listener = (ev: MigrationEvent) => {
        if (ev.job !== job.id) return;
        onEvent(ev);
        if (ev.type === 'end') {
          this.off('event', listener);
          this.off('closed', onClose);
          resolve(structuredClone(this.jobsById.get(job.id) ?? job));
        }
      };
      const onClose = () => {
        this.off('event', listener);
        resolve(structuredClone(job));
      };
      this.on('event', listener);
      this.once('closed', onClose);
    });
  }

  /** stop sampling; jobs still running in libvirt are closed honestly by the next process (see recover) */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.runs.values()) r.controller.abort();
    this.emit('closed');
    await this.saveChain;
  }

  // ── execution: libvirt ───────────────────────────────────────────────────────────────────────

  private async runLibvirt(run: Run): Promise<void> {
    const { job } = run;
    const src = this.o.hosts.driver(job.source);
    const dst = this.o.hosts.driver(job.destination);
    let finished = false;
    let failure: unknown;
    const migration = src
      .migrate(
        job.vm,
        { bandwidthMiBs: job.bandwidthMiBs, maxDowntimeMs: job.maxDowntimeMs, transport: job.transport, destUri: run.destUri, persistent: true, undefineSource: true },
        run.controller.signal,
      )
      .then(
        () => void (finished = true),
        (e) => {
          failure = e;
          finished = true;
        },
      );
    let downtimeSet = job.maxDowntimeMs === undefined;
    // Sampling is pipelined (up to two domjobinfo in flight, started every `interval`): a slow round trip on a
    // busy host then does not stretch the gap between samples; a result older than one already shown is dropped.
    let inflight = 0;
    let lastShown = 0;
    const sample = async () => {
      const startedAt = this.now();
      inflight++;
      try {
        const stats = await src.jobStats(job.vm);
        if (finished || this.closed || startedAt < lastShown || !stats) return;
        if (stats.type === 'none' || stats.type === 'completed') return;
        lastShown = startedAt;
        if (!downtimeSet) {
          downtimeSet = true;
          src.setMaxDowntime(job.vm, job.maxDowntimeMs!).catch((e) => this.info(job, `could not set max downtime: ${errorLine(e)}`));
        }
        this.onSample(run, stats);
      } catch (e) {
        this.o.log?.warn({ job: job.id, err: errorLine(e) }, 'jobStats failed');
      } finally {
        inflight--;
      }
    };
    let next = this.now();
    while (!finished && !this.closed) {
      if (inflight < 2) void sample();
      next += this.interval;
      const wait = Math.max(0, next - this.now());
      if (wait === 0) next = this.now();
      await Promise.race([migration, sleep(wait)]);
    }
    if (this.closed) return;
    if (failure !== undefined) {
      if (run.abortBy) return this.afterAbort(run);
      await this.afterFailure(run, `libvirt: ${errorLine(failure)}`);
      return;
    }
    // libvirt finished: the last pass ran with the guest paused (stop-and-copy) between two samples
    this.enter(job, 'stop-and-copy', 'libvirt finished the final copy (guest paused on the source)');
    // the final stats are fetched while commitment is being verified (no extra round trip on the critical path)
    const downtime = dst
      .completedJobStats(job.vm)
      .catch(() => null)
      .then((c) => c ?? src.completedJobStats(job.vm).catch(() => null))
      .then((c) => {
        if (!c) return undefined;
        job.lastStats = { ...c, at: c.at ?? this.now(), source: 'libvirt' };
        this.record({ type: 'progress', job: job.id, stats: job.lastStats });
        return c.totalDowntimeMs;
      });
    await this.afterCommit(run, downtime);
  }

  private onSample(run: Run, stats: JobStats): void {
    const { job } = run;
    const moving = (stats.memoryProcessedBytes ?? stats.dataProcessedBytes ?? 0) > 0 || (stats.iteration ?? 0) > 0;
    if (job.state === 'reservation' && moving) {
      this.enter(job, 'iterative-pre-copy', `data moving to ${job.destination}`);
    }
    if (job.state !== 'iterative-pre-copy' && job.state !== 'stop-and-copy') return;
    const convergence = convergenceOf(stats, job.maxDowntimeMs);
    job.lastStats = stats;
    // keep the last estimate that had something to go on (a cancelling job reports no bandwidth)
    if (stats.bandwidthBps) job.convergence = convergence;
    this.record({ type: 'progress', job: job.id, stats, convergence });
    void this.persist(job, false);
  }

  // ── execution: simulated (the demo's pre-copy model) ─────────────────────────────────────────

  private async runSimulated(run: Run): Promise<void> {
    const { job } = run;
    const row = this.o.engine.resolveVm(job.vm);
    const memKiB = row.instances.find((i) => i.host === job.source)?.memoryKiB ?? 1024 * 1024;
    await sleep(this.interval);
    let sim = startPrecopy(demoPrecopyParams(memKiB, job.bandwidthMiBs, job.maxDowntimeMs, this.o.simDirtyRateMiBs));
    run.sim = sim;
    this.enter(job, 'iterative-pre-copy', `data moving to ${job.destination} (simulated pre-copy)`);
    const t0 = this.now();
    let last = t0;
    while (!this.closed) {
      await sleep(this.interval);
      if (this.closed) return;
      if (run.abortBy) return this.afterAbort(run);
      const now = this.now();
      sim = advance(run.sim ?? sim, now - last);
      run.sim = sim;
      last = now;
      const stats = precopyStats(sim, now);
      if (sim.phase !== 'pre-copy' && job.state === 'iterative-pre-copy') {
        this.onSample(run, stats);
        this.enter(job, 'stop-and-copy', 'guest paused on the source for the final copy (simulated)');
      }
      if (sim.phase === 'done') {
        job.lastStats = stats;
        this.record({ type: 'progress', job: job.id, stats });
        break;
      }
      this.onSample(run, stats);
      if (now - t0 > (this.o.simMaxMs ?? 600_000)) return this.afterFailure(run, 'pre-copy did not converge (simulated); see the convergence estimate');
    }
    if (this.closed) return;
    if (!this.o.simulateMove) return this.afterFailure(run, 'simulated migration needs a simulateMove hook');
    await this.afterCommit(run, sim.downtimeMs, () => this.o.simulateMove!(job.vm, job.source, job.destination));
  }

  // ── after libvirt: commitment, activation ────────────────────────────────────────────────────

  private async afterCommit(run: Run, downtime: Promise<number | undefined> | number | undefined, move?: () => Promise<void>): Promise<void> {
    const { job } = run;
    const baseline = this.o.engine.lastBeacon(job.vm);
    const commitAt = this.now();
    run.committed = true;
    this.enter(job, 'commitment', `${job.simulated ? 'the pre-copy model' : 'libvirt'} committed the move; verifying ${job.source} is discharged`);
    this.o.engine.commitMigration(job.id);
    try {
      if (move) await move();
    } catch (e) {
      return this.afterFailure(run, `could not move the simulated VM: ${errorLine(e)}`);
    }
    const timeout = this.o.verifyTimeoutMs ?? 20_000;
    await this.o.engine.requestScan([job.source, job.destination]).catch((e) => this.info(job, `scan failed: ${errorLine(e)}`));
    const discharged = await this.o.engine.waitFor((r) => !!r && !this.activeOn(r, job.source), job.vm, timeout);
    if (!discharged) return this.afterFailure(run, `${job.source} still runs ${job.vmName} after commitment (MIGRATION_GHOST)`);

    this.enter(job, 'activation', `${job.source} discharged; verifying ${job.vmName} on ${job.destination}`);
    const reg = this.o.store.registration(job.vm);
    const keyed = !!(reg?.publicKey || reg?.keyFp);
    const input = { destination: job.destination, vmName: job.vmName, keyed, keyFp: reg?.keyFp, baseline, commitAt, matchAddress: !job.simulated };
    const last: { seen: Activation } = { seen: { verdict: 'pending', why: `${job.vmName} not yet seen on ${job.destination}` } };
    const judge = (r: VmRow | undefined) => (last.seen = activation(r, input)).verdict !== 'pending';
    await this.o.engine.waitFor(judge, job.vm, keyed ? (this.o.activationTimeoutMs ?? 30_000) : timeout);
    const seen = last.seen;
    if (seen.verdict === 'pending') return this.afterFailure(run, `not verified on ${job.destination} in time: ${seen.why}`);
    if (seen.verdict === 'failed') return this.afterFailure(run, seen.why);
    const verdict = seen.evidence;
    await this.o.store
      .updateRegistration(job.vm, { homeHost: job.destination }, SYSTEM, 'migrate-home')
      .catch((e) => this.info(job, `home host not updated: ${errorLine(e)}`));
    job.result = verdict;
    const downtimeMs = await downtime;
    await this.finish(job, 'completed', `${job.vmName} now on ${job.destination}${downtimeMs !== undefined ? `, downtime ${Math.round(downtimeMs)} ms` : ''}; ${verdict}`);
  }

  private async afterAbort(run: Run): Promise<void> {
    const { job } = run;
    await this.o.engine.requestScan([job.source, job.destination]).catch(() => {});
    const onSource = await this.o.engine.waitFor((r) => !!r && this.activeOn(r, job.source), job.vm, this.o.verifyTimeoutMs ?? 20_000);
    await this.finish(job, 'aborted', `aborted by ${run.abortBy}; ${onSource ? `${job.vmName} keeps running on ${job.source}` : `WARNING: ${job.vmName} not seen running on ${job.source}`}`);
  }

  private async afterFailure(run: Run, reason: string): Promise<void> {
    const { job } = run;
    await this.o.engine.requestScan([job.source, job.destination]).catch(() => {});
    let where = '';
    try {
      const row = this.o.engine.resolveVm(job.vm);
      const on = this.runningOn(row);
      where = on.length ? `; ${job.vmName} is running on ${on.join(', ')}` : `; ${job.vmName} is not running anywhere scanned`;
    } catch {
      /* unknown VM now */
    }
    job.error = reason;
    await this.finish(job, 'failed', reason + where);
  }

  // ── restart: close jobs a previous process left running ──────────────────────────────────────

  private async recover(): Promise<void> {
    const stale = [...this.jobsById.values()].filter((j) => !TERMINAL.has(j.state) && j.state !== 'awaiting-authorization');
    for (const job of stale) {
      // a libvirt job nobody watches any more: stop it rather than let it commit unobserved
      if (!job.simulated) {
        try {
          const d = this.o.hosts.driver(job.source);
          const st = await d.jobStats(job.vm);
          if (st && st.type !== 'none' && st.type !== 'completed') await d.abortJob(job.vm);
        } catch {
          /* host down or job gone: the scan below tells where the VM is */
        }
      }
      await this.o.engine.requestScan([job.source, job.destination]).catch(() => {});
      let row: VmRow | undefined;
      try {
        row = this.o.engine.resolveVm(job.vm);
      } catch {
        row = undefined;
      }
      const onSrc = !!row && this.activeOn(row, job.source);
      const onDst = !!row && this.activeOn(row, job.destination);
      const was = `console restarted during ${job.state}`;
      if (onDst && !onSrc) {
        job.result = 'found running on the destination after a restart; identity not re-verified by beacon';
        await this.finish(job, 'completed', `${was}: ${job.vmName} found running on ${job.destination} only (not re-verified)`);
      } else if (onSrc && !onDst) {
        job.error = `${was}; the migration did not complete`;
        await this.finish(job, 'failed', `${was}: ${job.vmName} still runs on ${job.source}; migration did not complete`);
      } else if (onSrc && onDst) {
        job.error = `${was}; running on both hosts`;
        await this.finish(job, 'failed', `${was}: ${job.vmName} runs on both ${job.source} and ${job.destination}`);
      } else {
        job.error = `${was}; VM not found`;
        await this.finish(job, 'failed', `${was}: ${job.vmName} not found running on ${job.source} or ${job.destination}`);
      }
    }
  }

  // ── bookkeeping ──────────────────────────────────────────────────────────────────────────────

  private enter(job: MigrationJob, stage: MigrationStage, detail?: string): void {
    const at = this.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    job.stages.push({ stage, enteredAt: at });
    job.state = stage;
    this.record({ type: 'stage', job: job.id, stage, at, detail });
    void this.persist(job, true);
  }

  private async finish(job: MigrationJob, state: JobTerminal, detail: string): Promise<void> {
    const at = this.now();
    const open = job.stages[job.stages.length - 1];
    if (open && open.leftAt === undefined) open.leftAt = at;
    const begun = job.authorizedAt !== undefined;
    job.state = state;
    job.endedAt = at;
    if (state !== 'completed' && !job.error) job.error = detail;
    if (state === 'completed' && !job.result) job.result = detail;
    this.runs.delete(job.id);
    if (begun && state !== 'denied') this.o.engine.endMigration(job.id, state);
    await this.o.store
      .audit(SYSTEM, `migrate-${state}`, job.vm, { job: job.id, source: job.source, destination: job.destination, detail, simulated: !!job.simulated })
      .catch((e) => this.o.log?.warn({ job: job.id, err: errorLine(e) }, 'audit of migration end failed'));
    // durable first: whoever sees the end event can rely on the stored job being final
    await this.persist(job, true);
    this.record({ type: 'end', job: job.id, state, at, detail });
  }

  private record(ev: MigrationEvent): void {
    let h = this.history.get(ev.job);
    if (!h) this.history.set(ev.job, (h = []));
    if (ev.type === 'progress') {
      // keep only the latest sample for replay: watchers see live samples as they come
      const i = h.findIndex((x) => x.type === 'progress');
      if (i >= 0) h.splice(i, 1);
    }
    h.push(ev);
    if (h.length > 64) h.shift();
    this.emit('event', ev);
  }

  private replay(job: MigrationJob): MigrationEvent[] {
    const h = this.history.get(job.id);
    if (h?.length) return [...h];
    // a job from a previous process: rebuild from its stage list
    const evs: MigrationEvent[] = job.stages.map((s) => ({ type: 'stage', job: job.id, stage: s.stage, at: s.enteredAt }));
    if (job.lastStats) evs.push({ type: 'progress', job: job.id, stats: job.lastStats, convergence: job.convergence });
    if (TERMINAL.has(job.state)) evs.push({ type: 'end', job: job.id, state: job.state as JobTerminal, at: job.endedAt ?? job.requestedAt, detail: job.result ?? job.error });
    return evs;
  }

  /** saves are serialized; progress-only saves are limited to one a second per job */
  private persist(job: MigrationJob, force: boolean): Promise<void> {
    const t = this.now();
    if (!force && t - (this.lastSaved.get(job.id) ?? 0) < 1000) return this.saveChain;
    this.lastSaved.set(job.id, t);
    const copy = structuredClone(job);
    this.saveChain = this.saveChain.then(
      () => this.o.store.saveJob(copy),
    ).catch((e) => this.o.log?.warn({ job: job.id, err: errorLine(e) }, 'saving migration job failed'));
    return this.saveChain;
  }

  private info(job: MigrationJob, message: string): void {
    this.o.log?.info({ job: job.id }, message);
  }

  private find(ref: string, allowFinished: boolean): MigrationJob {
    const byId = this.jobsById.get(ref.toUpperCase());
    if (byId) return byId;
    let row: VmRow;
    try {
      row = this.o.engine.resolveVm(ref);
    } catch {
      throw new BillboardError('NOT_FOUND', `no migration job or VM "${ref}"`);
    }
    const active = this.activeJobFor(row.uuid);
    if (active) return active;
    if (allowFinished) {
      const last = this.jobs().filter((j) => j.vm === row.uuid).pop();
      if (last) return last;
    }
    throw new BillboardError('NOT_FOUND', `${row.name} has no pending or running migration`);
  }

  private activeJobFor(uuid: string): MigrationJob | undefined {
    return [...this.jobsById.values()].find((j) => j.vm === uuid && !TERMINAL.has(j.state));
  }

  private runningOn(row: VmRow): string[] {
    return [...new Set(row.instances.filter((i) => MIGRATABLE_STATES.has(i.state)).map((i) => i.host))];
  }

  private activeOn(row: VmRow, host: string): boolean {
    return row.instances.some((i) => i.host === host && MIGRATABLE_STATES.has(i.state));
  }

  private config(host: string): HostConfig {
    const h = this.o.hosts.configs().find((c) => c.name === host);
    if (!h) throw new BillboardError('NOT_FOUND', `no host "${host}" in the config`);
    return h;
  }

  private isSimulated(source: string, destination: string): boolean {
    const test = this.o.isSimulatedHost ?? ((h: HostConfig) => h.driver === 'libvirt' && h.uri.startsWith('test:'));
    return [source, destination].some((n) => {
      const c = this.o.hosts.configs().find((x) => x.name === n);
      return !!c && test(c);
    });
  }

  /** `cached`: the source's report of the domain from moments ago (authorize right after request) */
  private async facts(row: VmRow, destination: string, cached?: DomainRead): Promise<PrecheckFacts> {
    const runningOn = this.runningOn(row);
    const source = runningOn.length === 1 ? runningOn[0] : undefined;
    const destCfg = this.o.hosts.configs().find((c) => c.name === destination);
    const destinationStatus = destCfg ? this.o.hosts.status(destination) : undefined;
    const node = async (host: string | undefined) => {
      if (!host) return undefined;
      const st = this.o.hosts.status(host);
      if (st?.node) return st.node;
      if (!st?.up) return undefined;
      return safe(() => this.o.hosts.driver(host).nodeInfo());
    };
    let domainError: string | undefined = cached?.domainError;
    const domain = cached
      ? cached.domain
      : source
      ? await this.o.hosts
          .driver(source)
          .inventory()
          .then((ds) => {
            const d = ds.find((x) => x.uuid === row.uuid);
            if (!d) domainError = `${source} no longer lists it`;
            return d;
          })
          .catch((e) => {
            domainError = errorLine(e);
            return undefined;
          })
      : undefined;
    const [sourceNode, destinationNode] = await Promise.all([node(source), destCfg && destination !== source ? node(destination) : undefined]);
    return {
      row,
      registration: this.o.store.registration(row.uuid),
      criticalFindings: this.o.engine.openCriticalFindings(row.uuid),
      runningOn,
      destination,
      destinationConfigured: !!destCfg,
      destinationStatus,
      sourceNode,
      destinationNode,
      domain,
      domainError,
      transport: this.o.migration.transport,
      destUri: destCfg ? migrationUriOf(destCfg) : undefined,
      simulated: !!source && !!destCfg && this.isSimulated(source, destination),
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new BillboardError('NOT_AVAILABLE', 'migration manager is closed');
    if (this.o.readOnly) throw new BillboardError('READ_ONLY', 'this session is read-only: migrations cannot be changed');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function safe<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch {
    return undefined;
  }
}

