import { setTimeout as sleep } from 'node:timers/promises';
import { errorLine } from '../model/errors.js';
import type { JobControl } from '../model/host-driver.js';
import type { JobStats, MigrationJob } from '../model/types.js';
import type { Execution, ExecutionEnd, ExecutionRun, MigrationExecutor } from './executor.js';
import type { DomainEventFeed, MigrationHosts, MigrationLog } from './hooks.js';
import { JOB_COMPLETED_GRACE_MS, JobEvents } from './job-events.js';
import type { MigrationParams } from './limits.js';

export interface LibvirtExecutorOptions {
  /** how long after the migrate command a job-completed event is waited for while a host's events flow */
  completedGraceMs?: number;
}

/** what one execution uses of the hosts */
interface ExecutionHosts {
  jobsOn(host: string): JobControl;
  /** the hosts' domain events, when they stream */
  feed?: DomainEventFeed;
  /** the event stream of the source or the destination is up: a job-completed event is on its way */
  eventsFlow(): boolean;
  graceMs: number;
}

/**
 * Runs a job through libvirt: `virsh migrate --live` on the source host, watched through its job stats and, where the
 * hosts stream events, its migration-iteration events. libvirt's job-completed event gives the final stats (the
 * guest's pause, the data moved); without one, the destination's (or else the source's) `domjobinfo --completed`.
 */
export class LibvirtExecutor implements MigrationExecutor {
  readonly simulated = false;

  constructor(
    private readonly hosts: Pick<MigrationHosts, 'driver'> & Partial<Pick<MigrationHosts, 'status' | 'domainEvents'>>,
    private readonly log?: MigrationLog,
    private readonly options: LibvirtExecutorOptions = {},
  ) {}

  start(run: ExecutionRun): Execution {
    const { hosts } = this;
    const { source, destination } = run.job;
    const on: ExecutionHosts = {
      jobsOn: (host) => hosts.driver(host).jobs,
      feed: hosts.domainEvents,
      eventsFlow: () => [source, destination].some((h) => hosts.status?.(h)?.events === 'on'),
      graceMs: this.options.completedGraceMs ?? JOB_COMPLETED_GRACE_MS,
    };
    return new LibvirtExecution(run, on, this.log);
  }

  async stopOrphan(job: Readonly<MigrationJob>): Promise<void> {
    try {
      const d = this.hosts.driver(job.source).jobs;
      const st = await d.jobStats(job.vm);
      if (st && st.type !== 'none' && st.type !== 'completed') await d.abortJob(job.vm);
    } catch {
      /* host down or job gone: the scan that follows tells where the VM is */
    }
  }
}

class LibvirtExecution implements Execution {
  readonly ended: Promise<ExecutionEnd>;
  /** stops the migrate command itself: when the manager closes, or when there is no libvirt job yet to abort */
  private readonly cancel = new AbortController();
  private readonly events?: JobEvents;
  /** the last sample handed to the run */
  private last?: JobStats;
  private finished = false;

  constructor(
    private readonly run: ExecutionRun,
    private readonly hosts: ExecutionHosts,
    private readonly log?: MigrationLog,
  ) {
    run.closing.addEventListener('abort', () => this.cancel.abort(), { once: true });
    const { feed } = hosts;
    if (feed) this.events = new JobEvents(run.job, feed, { now: run.now, onIteration: (n) => this.passed(n) });
    this.ended = this.execute();
    // a committed move keeps listening for its job-completed event (finalStats closes them)
    this.ended.then(
      (end) => {
        if (end.kind !== 'committed') this.events?.close();
      },
      () => this.events?.close(),
    );
  }

  async abort(): Promise<void> {
    const { job } = this.run;
    try {
      await this.hosts.jobsOn(job.source).abortJob(job.vm);
    } catch (e) {
      // no libvirt job yet (still reserving): stop the migrate command itself
      this.log?.warn({ job: job.id, err: errorLine(e) }, 'domjobabort failed; cancelling the migrate command');
      this.cancel.abort();
    }
  }

  async tune(params: MigrationParams, applied: MigrationParams): Promise<void> {
    const { job } = this.run;
    const d = this.hosts.jobsOn(job.source);
    if (params.bandwidthMiBs !== undefined) {
      await d.setBandwidth(job.vm, params.bandwidthMiBs);
      applied.bandwidthMiBs = params.bandwidthMiBs;
    }
    if (params.maxDowntimeMs !== undefined) {
      await d.setMaxDowntime(job.vm, params.maxDowntimeMs);
      applied.maxDowntimeMs = params.maxDowntimeMs;
    }
  }

  private async execute(): Promise<ExecutionEnd> {
    const { run } = this;
    const { job } = run;
    const src = this.hosts.jobsOn(job.source);
    let failure: unknown;
    const migration = src
      .migrate(
        job.vm,
        {
          bandwidthMiBs: job.bandwidthMiBs,
          maxDowntimeMs: job.maxDowntimeMs,
          transport: job.transport,
          destUri: run.destUri,
          persistent: true,
          undefineSource: true,
        },
        this.cancel.signal,
      )
      .then(
        () => void (this.finished = true),
        (e) => {
          failure = e;
          this.finished = true;
        },
      );
    await this.watch(src, migration);
    if (run.closing.aborted) return { kind: 'closed' };
    if (failure !== undefined) return run.aborting() ? { kind: 'aborted' } : { kind: 'failed', reason: `libvirt: ${errorLine(failure)}` };
    // libvirt finished: the last pass ran with the guest paused (stop-and-copy) between two samples
    run.enter('stop-and-copy', 'libvirt finished the final copy (guest paused on the source)');
    const downtimeMs = this.finalStats().then((c) => {
      if (!c) return undefined;
      run.finalStats(c);
      return c.totalDowntimeMs;
    });
    return { kind: 'committed', by: 'libvirt', downtimeMs };
  }

  /**
   * The move's final stats: libvirt's job-completed event (waited for a moment while the hosts' events flow: it
   * comes on its own stream), else `domjobinfo --completed` on the destination, else on the source.
   */
  private async finalStats(): Promise<JobStats | undefined> {
    const { run, hosts } = this;
    const { job } = run;
    try {
      const fromEvent = await this.events?.completed(hosts.eventsFlow() ? hosts.graceMs : 0);
      if (fromEvent) return fromEvent;
    } finally {
      this.events?.close();
    }
    const polled = async (host: string) =>
      hosts
        .jobsOn(host)
        .completedJobStats(job.vm)
        .catch(() => null);
    const c = (await polled(job.destination)) ?? (await polled(job.source));
    return c ? { ...c, at: c.at ?? run.now(), source: 'libvirt' } : undefined;
  }

  /** a new pass began (the source's migration-iteration event): the last sample, with its iteration, until the next */
  private passed(iteration: number): void {
    const { run } = this;
    if (this.finished || run.closing.aborted || iteration <= (this.last?.iteration ?? 0)) return;
    const base: JobStats = this.last ?? { at: 0, type: 'unbounded', source: 'libvirt-event' };
    this.show({ ...base, at: run.now(), iteration });
  }

  private show(stats: JobStats): void {
    this.last = stats;
    this.run.sample(stats);
  }

  /**
   * Samples the job until the migrate command returns. Sampling is pipelined (up to two domjobinfo in flight,
   * started every interval): a slow round trip on a busy host does not stretch the gap between samples, and a
   * result older than one already shown is dropped. A sample never shows fewer passes than the events told.
   */
  private async watch(src: JobControl, migration: Promise<void>): Promise<void> {
    const { run } = this;
    const { job } = run;
    let downtimeSet = job.maxDowntimeMs === undefined;
    let inflight = 0;
    let lastShown = 0;
    const sample = async () => {
      const startedAt = run.now();
      inflight++;
      try {
        const stats = await src.jobStats(job.vm);
        if (this.finished || run.closing.aborted || startedAt < lastShown || !stats) return;
        if (stats.type === 'none' || stats.type === 'completed') return;
        lastShown = startedAt;
        if (!downtimeSet) {
          downtimeSet = true;
          src.setMaxDowntime(job.vm, job.maxDowntimeMs!).catch((e) => run.info(`could not set max downtime: ${errorLine(e)}`));
        }
        const passes = this.events?.iteration ?? 0;
        this.show(passes > (stats.iteration ?? 0) ? { ...stats, iteration: passes } : stats);
      } catch (e) {
        this.log?.warn({ job: job.id, err: errorLine(e) }, 'jobStats failed');
      } finally {
        inflight--;
      }
    };
    let next = run.now();
    while (!this.finished && !run.closing.aborted) {
      if (inflight < 2) void sample();
      next += run.intervalMs;
      const wait = Math.max(0, next - run.now());
      if (wait === 0) next = run.now();
      await Promise.race([migration, sleep(wait)]);
    }
  }
}
