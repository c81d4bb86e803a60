import { setTimeout as sleep } from 'node:timers/promises';
import { errorLine } from '../model/errors.js';
import type { JobControl } from '../model/host-driver.js';
import type { MigrationJob } from '../model/types.js';
import type { Execution, ExecutionEnd, ExecutionRun, MigrationExecutor } from './executor.js';
import type { MigrationHosts, MigrationLog } from './hooks.js';
import type { MigrationParams } from './limits.js';

/**
 * Runs a job through libvirt: `virsh migrate --live` on the source host, watched through its job stats; the
 * destination's (or else the source's) completed-job stats give the guest's pause.
 */
export class LibvirtExecutor implements MigrationExecutor {
  readonly simulated = false;

  constructor(
    private readonly hosts: Pick<MigrationHosts, 'driver'>,
    private readonly log?: MigrationLog,
  ) {}

  start(run: ExecutionRun): Execution {
    return new LibvirtExecution(run, (host) => this.hosts.driver(host).jobs, this.log);
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

  constructor(
    private readonly run: ExecutionRun,
    private readonly jobsOn: (host: string) => JobControl,
    private readonly log?: MigrationLog,
  ) {
    run.closing.addEventListener('abort', () => this.cancel.abort(), { once: true });
    this.ended = this.execute();
  }

  async abort(): Promise<void> {
    const { job } = this.run;
    try {
      await this.jobsOn(job.source).abortJob(job.vm);
    } catch (e) {
      // no libvirt job yet (still reserving): stop the migrate command itself
      this.log?.warn({ job: job.id, err: errorLine(e) }, 'domjobabort failed; cancelling the migrate command');
      this.cancel.abort();
    }
  }

  async tune(params: MigrationParams, applied: MigrationParams): Promise<void> {
    const { job } = this.run;
    const d = this.jobsOn(job.source);
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
    const src = this.jobsOn(job.source);
    const dst = this.jobsOn(job.destination);
    let finished = false;
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
        () => void (finished = true),
        (e) => {
          failure = e;
          finished = true;
        },
      );
    await this.watch(src, migration, () => finished);
    if (run.closing.aborted) return { kind: 'closed' };
    if (failure !== undefined) return run.aborting() ? { kind: 'aborted' } : { kind: 'failed', reason: `libvirt: ${errorLine(failure)}` };
    // libvirt finished: the last pass ran with the guest paused (stop-and-copy) between two samples
    run.enter('stop-and-copy', 'libvirt finished the final copy (guest paused on the source)');
    const downtimeMs = dst
      .completedJobStats(job.vm)
      .catch(() => null)
      .then((c) => c ?? src.completedJobStats(job.vm).catch(() => null))
      .then((c) => {
        if (!c) return undefined;
        run.finalStats({ ...c, at: c.at ?? run.now(), source: 'libvirt' });
        return c.totalDowntimeMs;
      });
    return { kind: 'committed', by: 'libvirt', downtimeMs };
  }

  /**
   * Samples the job until the migrate command returns. Sampling is pipelined (up to two domjobinfo in flight,
   * started every interval): a slow round trip on a busy host does not stretch the gap between samples, and a
   * result older than one already shown is dropped.
   */
  private async watch(src: JobControl, migration: Promise<void>, finished: () => boolean): Promise<void> {
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
        if (finished() || run.closing.aborted || startedAt < lastShown || !stats) return;
        if (stats.type === 'none' || stats.type === 'completed') return;
        lastShown = startedAt;
        if (!downtimeSet) {
          downtimeSet = true;
          src.setMaxDowntime(job.vm, job.maxDowntimeMs!).catch((e) => run.info(`could not set max downtime: ${errorLine(e)}`));
        }
        run.sample(stats);
      } catch (e) {
        this.log?.warn({ job: job.id, err: errorLine(e) }, 'jobStats failed');
      } finally {
        inflight--;
      }
    };
    let next = run.now();
    while (!finished() && !run.closing.aborted) {
      if (inflight < 2) void sample();
      next += run.intervalMs;
      const wait = Math.max(0, next - run.now());
      if (wait === 0) next = run.now();
      await Promise.race([migration, sleep(wait)]);
    }
  }
}
