import { setTimeout as sleep } from 'node:timers/promises';
import { BillboardError, errorLine } from '../model/errors.js';
import type { Execution, ExecutionEnd, ExecutionRun, MigrationExecutor } from './executor.js';
import type { MigrationParams } from './limits.js';
import { advance, precopyParamsFor, precopyStats, startPrecopy, type PrecopyState } from './precopy-model.js';

export interface SimulatedExecutorOptions {
  /**
   * Moves the domain from one host to the other at commitment (the demo's lab rewrites its test-driver files).
   * Without it a job fails before commitment: nothing else can move a domain between such hosts.
   */
  move?: (uuid: string, from: string, to: string) => Promise<void>;
  /** memory the modelled guest dirties, MiB/s (default: a lightly loaded guest) */
  dirtyRateMiBs?: number;
  /** a job that has not converged after this long fails (default 10 minutes) */
  maxMs?: number;
}

/** a guest whose size no scan reports is modelled with 1 GiB */
const DEFAULT_MEMORY_KIB = 1024 * 1024;
const DEFAULT_MAX_MS = 600_000;

/**
 * Runs a job on the pre-copy model (precopy-model.ts) for hosts whose hypervisor cannot migrate, such as libvirt's
 * test driver. The model's stats follow the same stages and convergence estimate as libvirt's, and are marked
 * 'simulated'.
 */
export class SimulatedExecutor implements MigrationExecutor {
  readonly simulated = true;

  constructor(private readonly options: SimulatedExecutorOptions = {}) {}

  start(run: ExecutionRun): Execution {
    return new SimulatedExecution(run, this.options);
  }

  /** nothing outlives the process that ran the model */
  async stopOrphan(): Promise<void> {}
}

class SimulatedExecution implements Execution {
  readonly ended: Promise<ExecutionEnd>;
  private state?: PrecopyState;

  constructor(
    private readonly run: ExecutionRun,
    private readonly options: SimulatedExecutorOptions,
  ) {
    this.ended = this.execute();
  }

  /** the model sees `run.aborting()` at its next step */
  async abort(): Promise<void> {}

  /** before the model starts, the job's own values (which the manager updates) are what it starts with */
  async tune(params: MigrationParams, applied: MigrationParams): Promise<void> {
    if (this.state) {
      const p = { ...this.state.params };
      if (params.bandwidthMiBs !== undefined) p.bandwidthBps = params.bandwidthMiBs * 1024 * 1024;
      if (params.maxDowntimeMs !== undefined) p.maxDowntimeMs = params.maxDowntimeMs;
      this.state = { ...this.state, params: p };
    }
    Object.assign(applied, params);
  }

  private async execute(): Promise<ExecutionEnd> {
    const { run } = this;
    const { job } = run;
    const memKiB = run.memoryKiB() ?? DEFAULT_MEMORY_KIB;
    await sleep(run.intervalMs);
    let sim = startPrecopy(precopyParamsFor(memKiB, job.bandwidthMiBs, job.maxDowntimeMs, this.options.dirtyRateMiBs));
    this.state = sim;
    run.enter('iterative-pre-copy', `data moving to ${job.destination} (simulated pre-copy)`);
    const t0 = run.now();
    let last = t0;
    while (!run.closing.aborted) {
      await sleep(run.intervalMs);
      if (run.closing.aborted) return { kind: 'closed' };
      if (run.aborting()) return { kind: 'aborted' };
      const now = run.now();
      sim = advance(this.state ?? sim, now - last);
      this.state = sim;
      last = now;
      const stats = precopyStats(sim, now);
      if (sim.phase !== 'pre-copy' && job.state === 'iterative-pre-copy') {
        run.sample(stats);
        run.enter('stop-and-copy', 'guest paused on the source for the final copy (simulated)');
      }
      if (sim.phase === 'done') {
        run.finalStats(stats);
        break;
      }
      run.sample(stats);
      if (now - t0 > (this.options.maxMs ?? DEFAULT_MAX_MS)) {
        return { kind: 'failed', reason: 'pre-copy did not converge (simulated); see the convergence estimate' };
      }
    }
    if (run.closing.aborted) return { kind: 'closed' };
    const move = this.options.move;
    if (!move) return { kind: 'failed', reason: 'simulated migration: nothing here can move the domain between these hosts' };
    const place = async () => {
      try {
        await move(job.vm, job.source, job.destination);
      } catch (e) {
        throw new BillboardError('HOST_ERROR', `could not move the simulated VM: ${errorLine(e)}`);
      }
    };
    return { kind: 'committed', by: 'the pre-copy model', downtimeMs: Promise.resolve(sim.downtimeMs), place };
  }
}
