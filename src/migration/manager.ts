import { EventEmitter } from 'node:events';
import type { Config, HostConfig } from '../model/config.js';
import { migrationUriOf } from '../model/config.js';
import { BillboardError, errorLine } from '../model/errors.js';
import type { JobStats, MigrationEvent, MigrationJob, PreCheck, VmRow } from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { convergenceOf, DEFAULT_MAX_DOWNTIME_MS } from './convergence.js';
import { cannotMigrate, type Execution, type ExecutionRun, type MigrationExecutor, type MigrationExecutors } from './executor.js';
import { FRESH_MS, gatherFacts, runningOn, type DomainRead, type FactSources } from './facts.js';
import type { MigrationEngineHooks, MigrationHosts, MigrationLog } from './hooks.js';
import { isTerminal } from '../model/domain-states.js';
import { JobJournal, SYSTEM } from './journal.js';
import { LibvirtExecutor } from './libvirt-executor.js';
import { checkMigrationParams, type MigrationParams } from './limits.js';
import { isEncrypted, runPrechecks } from './prechecks.js';
import { recoverJobs } from './recovery.js';
import { SimulatedExecutor } from './simulated-executor.js';
import { Verifier } from './verification.js';

// The migration stage machine: gate (pre-checks + authorization), run the move through an executor (libvirt on the
// source host, or the pre-copy model where the hypervisor cannot migrate), map its job stats at ≥ 4 Hz to the
// DESIGN.md stages, then verify the end state (source discharged, destination running, identity re-verified by
// beacon when the VM has a key).

export interface MigrationManagerOptions {
  store: StoreApi;
  engine: MigrationEngineHooks;
  hosts: MigrationHosts;
  migration: Config['migration'];
  /**
   * Who moves VMs. Default: libvirt through the source host's driver and, for jobs touching a host whose hypervisor
   * cannot migrate (executor.ts, cannotMigrate), a simulated executor with no way to move the domain, so that such a
   * job runs its pre-copy and then fails. The demo supplies a simulated executor that moves domains in its lab.
   */
  executors?: Partial<MigrationExecutors>;
  /** job-stats sampling period (≥ 4 Hz required; default 200 ms) */
  sampleIntervalMs?: number;
  /** how long commitment / activation checks may take */
  verifyTimeoutMs?: number;
  /** how long to wait for the re-verifying beacon of a keyed VM */
  activationTimeoutMs?: number;
  now?: () => number;
  log?: MigrationLog;
  /** a read-only session: decisions are refused, and jobs a writer runs are neither recovered nor aborted */
  readOnly?: boolean;
}

/** an authorized job while its move runs */
interface Run {
  job: MigrationJob;
  /** the destination URI fixed (and audited) at authorization */
  destUri: string;
  /** aborted when the manager closes */
  closing: AbortController;
  execution?: Execution;
  abortBy?: string;
  committed: boolean;
  done: Promise<void>;
  /** the source's definition hash at authorization: the approval moves with it (Verifier.afterCommit) */
  sourceDefinition?: string;
}

export interface MigrationChoice {
  host: string;
  ok: boolean;
  checks: PreCheck[];
}

export class MigrationManager extends EventEmitter {
  private readonly store: StoreApi;
  private readonly engine: MigrationEngineHooks;
  private readonly hosts: MigrationHosts;
  private readonly policy: Config['migration'];
  private readonly log?: MigrationLog;
  private readonly readOnly: boolean;
  private readonly journal: JobJournal;
  private readonly verifier: Verifier;
  private readonly executors: MigrationExecutors;
  private readonly factSources: FactSources;
  private readonly runs = new Map<string, Run>();
  private readonly domainRead = new Map<string, DomainRead>();
  private closed = false;
  private readonly interval: number;
  private readonly now: () => number;
  /** settles when jobs left running by a previous process have been closed */
  readonly ready: Promise<void>;

  constructor(options: MigrationManagerOptions) {
    super();
    this.setMaxListeners(100);
    this.store = options.store;
    this.engine = options.engine;
    this.hosts = options.hosts;
    this.policy = options.migration;
    this.log = options.log;
    this.readOnly = !!options.readOnly;
    this.interval = Math.min(250, options.sampleIntervalMs ?? 200);
    this.now = options.now ?? Date.now;
    this.executors = {
      libvirt: options.executors?.libvirt ?? new LibvirtExecutor(this.hosts, this.log),
      simulated: options.executors?.simulated ?? new SimulatedExecutor(),
    };
    this.journal = new JobJournal({
      store: this.store,
      now: this.now,
      log: this.log,
      emit: (ev) => this.emit('event', ev),
      ended: (job, state) => {
        this.runs.delete(job.id);
        if (job.authorizedAt !== undefined && state !== 'denied') this.engine.endMigration(job.id, state);
      },
    });
    this.verifier = new Verifier({
      store: this.store,
      engine: this.engine,
      journal: this.journal,
      now: this.now,
      verifyTimeoutMs: options.verifyTimeoutMs ?? 20_000,
      activationTimeoutMs: options.activationTimeoutMs ?? 30_000,
      log: this.log,
    });
    this.factSources = {
      store: this.store,
      engine: this.engine,
      hosts: this.hosts,
      policy: this.policy,
      isSimulated: (source, destination) => this.isSimulated(source, destination),
    };
    this.ready = this.readOnly
      ? Promise.resolve()
      : this.recover().catch((e) => this.log?.warn({ err: errorLine(e) }, 'migration recovery failed'));
  }

  // ── queries ──────────────────────────────────────────────────────────────────────────────────

  jobs(): MigrationJob[] {
    return this.journal.all();
  }

  /** a job id, or a VM (its pending or running job) */
  job(ref: string): MigrationJob {
    return this.find(ref, false);
  }

  /** pre-checks of migrating the VM to every other configured host */
  async choices(vmRef: string): Promise<MigrationChoice[]> {
    const row = this.engine.resolveVm(vmRef);
    const source = runningOn(row);
    const others = this.hosts.configs().filter((h) => !(source.length === 1 && h.name === source[0]));
    return Promise.all(
      others.map(async (h) => {
        const checks = runPrechecks(await gatherFacts(this.factSources, row, h.name));
        return { host: h.name, ok: checks.every((c) => c.ok), checks };
      }),
    );
  }

  // ── decisions ────────────────────────────────────────────────────────────────────────────────

  async request(vmRef: string, toHost: string, params: MigrationParams, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const row = this.engine.resolveVm(vmRef);
    const active = this.journal.activeFor(row.uuid);
    if (active) throw new BillboardError('CONFLICT', `${row.name} already has migration ${active.id} (${active.state})`);
    checkMigrationParams(params);
    const facts = await gatherFacts(this.factSources, row, toHost);
    const checks = runPrechecks(facts);
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.store.audit(actor, 'migrate-refused', row.uuid, { name: row.name, destination: toHost, failed: failed.map(checkLine) });
      const why = failed.map((c) => c.detail).join('; ');
      throw new BillboardError('REFUSED', `migration of ${row.name} to ${toHost} refused: ${why}`, { checks });
    }
    const source = facts.runningOn[0];
    const at = this.now();
    const job: MigrationJob = {
      id: this.journal.nextId(),
      vm: row.uuid,
      vmName: row.name,
      source,
      destination: toHost,
      state: 'awaiting-authorization',
      requestedBy: actor,
      requestedAt: at,
      bandwidthMiBs: params.bandwidthMiBs ?? this.policy.bandwidthMiBs,
      maxDowntimeMs: params.maxDowntimeMs ?? this.policy.maxDowntimeMs,
      transport: this.policy.transport,
      checks,
      stages: [{ stage: 'pre-migration', enteredAt: at }],
    };
    if (this.isSimulated(source, toHost)) job.simulated = true;
    this.domainRead.set(job.id, { at, domain: facts.domain, domainError: facts.domainError });
    await this.store.audit(actor, 'migrate-request', row.uuid, {
      job: job.id,
      name: row.name,
      source,
      destination: toHost,
      bandwidthMiBs: job.bandwidthMiBs,
      maxDowntimeMs: job.maxDowntimeMs,
      transport: job.transport,
      simulated: !!job.simulated,
    });
    this.journal.add(job);
    const detail = `${checks.length} pre-checks passed; awaiting authorization`;
    this.journal.record({ type: 'stage', job: job.id, stage: 'pre-migration', at, detail });
    await this.journal.persist(job, true);
    return structuredClone(job);
  }

  async authorize(jobRef: string, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization') {
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}, not awaiting authorization`);
    }
    if (this.policy.requireDifferentAuthorizer && actor === job.requestedBy) {
      await this.store.audit(actor, 'migrate-authorize-refused', job.vm, { job: job.id, reason: 'two-person rule' });
      throw new BillboardError(
        'REFUSED',
        `${job.id} was requested by ${actor}: another operator must authorize it (migration.requireDifferentAuthorizer)`,
      );
    }
    // the world may have moved since the request: check again
    const row = this.engine.resolveVm(job.vm);
    const cached = this.domainRead.get(job.id);
    const fresh = cached && this.now() - cached.at < FRESH_MS ? cached : undefined;
    const checks = runPrechecks(await gatherFacts(this.factSources, row, job.destination, fresh));
    this.domainRead.delete(job.id);
    job.checks = checks;
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      await this.store.audit(actor, 'migrate-authorize-refused', job.vm, { job: job.id, failed: failed.map(checkLine) });
      await this.journal.finish(job, 'failed', `pre-checks no longer pass: ${failed.map((c) => c.detail).join('; ')}`);
      throw new BillboardError('REFUSED', `${job.id} cannot start: ${failed.map((c) => c.detail).join('; ')}`);
    }
    // The transport is the policy's at authorization, not the request's: the pre-checks above judged the current
    // policy, and a request made under an older, weaker one must not run with it.
    const requested = job.transport;
    job.transport = this.policy.transport;
    const destUri = migrationUriOf(this.config(job.destination));
    await this.store.audit(actor, 'migrate-authorize', job.vm, {
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
    this.engine.beginMigration({ job: job.id, uuid: job.vm, source: job.source, destination: job.destination });
    this.start(job, destUri, actor, row.instances.find((i) => i.host === job.source)?.definitionHash);
    return structuredClone(job);
  }

  async deny(jobRef: string, actor: string, reason?: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state !== 'awaiting-authorization') {
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: only a job awaiting authorization can be denied`);
    }
    await this.store.audit(actor, 'migrate-deny', job.vm, { job: job.id, reason: reason ?? '' });
    await this.journal.finish(job, 'denied', `denied by ${actor}${reason ? `: ${reason}` : ''}`);
    return structuredClone(job);
  }

  /** stops the move; the VM keeps running on its source. Resolves with the job once it has ended. */
  async abort(jobRef: string, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    const job = this.find(jobRef, false);
    if (job.state === 'awaiting-authorization') {
      await this.store.audit(actor, 'migrate-abort', job.vm, { job: job.id, stage: job.state });
      await this.journal.finish(job, 'aborted', `cancelled by ${actor} before authorization`);
      return structuredClone(job);
    }
    const run = this.runs.get(job.id);
    if (!run) throw new BillboardError('CONFLICT', `${job.id} is not running`);
    if (run.committed) {
      throw new BillboardError('REFUSED', `${job.id} is past commitment: the VM already left ${job.source}; nothing to abort`);
    }
    await this.store.audit(actor, 'migrate-abort', job.vm, { job: job.id, stage: job.state });
    run.abortBy = actor;
    await run.execution?.abort();
    await run.done;
    return structuredClone(job);
  }

  /**
   * Change bandwidth / max downtime of a running job (the convergence estimate's one-key action). Values are whole
   * numbers within the hypervisor's limits; raising the downtime is a second decision under the two-person rule;
   * the audit entry records what the host accepted (or refused), after the host call.
   */
  async tune(jobRef: string, params: MigrationParams, actor: string): Promise<MigrationJob> {
    this.assertOpen();
    checkMigrationParams(params);
    const job = this.find(jobRef, false);
    const run = this.runs.get(job.id);
    if (!run?.execution || run.committed || !['reservation', 'iterative-pre-copy'].includes(job.state)) {
      throw new BillboardError('CONFLICT', `${job.id} is ${job.state}: bandwidth and downtime can change only during pre-copy`);
    }
    const before = { bandwidthMiBs: job.bandwidthMiBs, maxDowntimeMs: job.maxDowntimeMs };
    const raises = params.maxDowntimeMs !== undefined && params.maxDowntimeMs > (job.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS);
    if (raises && this.policy.requireDifferentAuthorizer && actor === job.requestedBy) {
      await this.store.audit(actor, 'migrate-tune-refused', job.vm, { job: job.id, before, requested: params, reason: 'two-person rule' });
      throw new BillboardError(
        'REFUSED',
        `${job.id} was requested by ${actor}: raising its max downtime needs another operator (migration.requireDifferentAuthorizer)`,
      );
    }
    const applied: MigrationParams = {};
    try {
      await run.execution.tune(params, applied);
    } catch (e) {
      Object.assign(job, applied);
      await this.store
        .audit(actor, 'migrate-tune-failed', job.vm, { job: job.id, before, requested: params, applied, error: errorLine(e) })
        .catch((err) => this.log?.warn({ job: job.id, err: errorLine(err) }, 'audit of a failed tune failed'));
      await this.journal.persist(job, true);
      throw e;
    }
    Object.assign(job, applied);
    await this.store.audit(actor, 'migrate-tune', job.vm, { job: job.id, before, ...applied });
    await this.journal.persist(job, true);
    return structuredClone(job);
  }

  /** replay the job's stage history, then stream its events until it ends; resolves with the final job */
  watch(jobRef: string, onEvent: (ev: MigrationEvent) => void): Promise<MigrationJob> {
    const job = this.find(jobRef, true);
    for (const ev of this.journal.replay(job)) onEvent(ev);
    if (isTerminal(job.state)) return Promise.resolve(structuredClone(job));
    return new Promise((resolve) => {
      const listener = (ev: MigrationEvent) => {
        if (ev.job !== job.id) return;
        onEvent(ev);
        if (ev.type === 'end') {
          this.off('event', listener);
          this.off('closed', onClose);
          resolve(structuredClone(this.journal.get(job.id) ?? job));
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

  /** stop sampling; jobs still running in libvirt are closed honestly by the next process (see recovery.ts) */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.runs.values()) r.closing.abort();
    this.emit('closed');
    await this.journal.saved();
  }

  // ── execution ────────────────────────────────────────────────────────────────────────────────

  /** the job enters reservation and its executor starts; the verification that follows ends it */
  private start(job: MigrationJob, destUri: string, actor: string, sourceDefinition?: string): void {
    const run: Run = { job, destUri, closing: new AbortController(), committed: false, done: Promise.resolve(), sourceDefinition };
    this.runs.set(job.id, run);
    this.journal.enter(job, 'reservation', `authorized by ${actor}; reserving ${job.destination}`);
    run.execution = this.executorOf(job).start(this.executionRun(run));
    run.done = this.settle(run, run.execution).catch(async (e) => {
      if (!isTerminal(job.state)) await this.journal.finish(job, 'failed', `internal error: ${errorLine(e)}`);
    });
  }

  private async settle(run: Run, execution: Execution): Promise<void> {
    const end = await execution.ended;
    const { job } = run;
    if (end.kind === 'closed') return;
    if (end.kind === 'aborted') return this.verifier.afterAbort(job, run.abortBy ?? 'an operator');
    if (end.kind === 'failed') return this.verifier.afterFailure(job, end.reason);
    await this.verifier.afterCommit(job, end, () => (run.committed = true), run.sourceDefinition);
  }

  private executionRun(run: Run): ExecutionRun {
    const { job } = run;
    return {
      job,
      destUri: run.destUri,
      intervalMs: this.interval,
      closing: run.closing.signal,
      aborting: () => !!run.abortBy,
      memoryKiB: () => this.engine.resolveVm(job.vm).instances.find((i) => i.host === job.source)?.memoryKiB,
      enter: (stage, detail) => this.journal.enter(job, stage, detail),
      sample: (stats) => this.onSample(job, stats),
      finalStats: (stats) => {
        job.lastStats = stats;
        this.journal.record({ type: 'progress', job: job.id, stats });
      },
      info: (message) => this.log?.info({ job: job.id }, message),
      now: this.now,
    };
  }

  /** a sample while data moves: reservation turns into pre-copy once data moves, and the estimate follows */
  private onSample(job: MigrationJob, stats: JobStats): void {
    const moving = (stats.memoryProcessedBytes ?? stats.dataProcessedBytes ?? 0) > 0 || (stats.iteration ?? 0) > 0;
    if (job.state === 'reservation' && moving) {
      this.journal.enter(job, 'iterative-pre-copy', `data moving to ${job.destination}`);
    }
    if (job.state !== 'iterative-pre-copy' && job.state !== 'stop-and-copy') return;
    const convergence = convergenceOf(stats, job.maxDowntimeMs);
    job.lastStats = stats;
    // keep the last estimate that had something to go on (a cancelling job reports no bandwidth)
    if (stats.bandwidthBps) job.convergence = convergence;
    this.journal.record({ type: 'progress', job: job.id, stats, convergence });
    void this.journal.persist(job, false);
  }

  private executorOf(job: Readonly<MigrationJob>): MigrationExecutor {
    return job.simulated ? this.executors.simulated : this.executors.libvirt;
  }

  /** close the jobs a previous process left running */
  private recover(): Promise<void> {
    const stale = this.journal.all().filter((j) => !isTerminal(j.state) && j.state !== 'awaiting-authorization');
    return recoverJobs(stale, {
      engine: this.engine,
      executorOf: (job) => this.executorOf(job),
      finish: (job, state, detail) => this.journal.finish(job, state, detail),
      rehome: (job) => this.store.updateRegistration(job.vm, { homeHost: job.destination }, SYSTEM, 'migrate-home').then(() => {}),
    });
  }

  // ── lookups ──────────────────────────────────────────────────────────────────────────────────

  private find(ref: string, allowFinished: boolean): MigrationJob {
    const byId = this.journal.get(ref.toUpperCase());
    if (byId) return byId;
    let row: VmRow;
    try {
      row = this.engine.resolveVm(ref);
    } catch {
      throw new BillboardError('NOT_FOUND', `no migration job or VM "${ref}"`);
    }
    const active = this.journal.activeFor(row.uuid);
    if (active) return active;
    if (allowFinished) {
      const last = this.jobs()
        .filter((j) => j.vm === row.uuid)
        .pop();
      if (last) return last;
    }
    throw new BillboardError('NOT_FOUND', `${row.name} has no pending or running migration`);
  }

  private config(host: string): HostConfig {
    const h = this.hosts.configs().find((c) => c.name === host);
    if (!h) throw new BillboardError('NOT_FOUND', `no host "${host}" in the config`);
    return h;
  }

  private isSimulated(source: string, destination: string): boolean {
    return [source, destination].some((n) => {
      const c = this.hosts.configs().find((x) => x.name === n);
      return !!c && cannotMigrate(c);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new BillboardError('NOT_AVAILABLE', 'migration manager is closed');
    if (this.readOnly) throw new BillboardError('READ_ONLY', 'this session is read-only: migrations cannot be changed');
  }
}

/** a failed pre-check as the audit records it */
function checkLine(c: PreCheck): string {
  return `${c.name}: ${c.detail}`;
}
