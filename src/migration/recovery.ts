import type { JobTerminal, MigrationJob, VmRow } from '../model/types.js';
import type { MigrationExecutor } from './executor.js';
import { runsOn } from './facts.js';
import type { MigrationEngineHooks } from './hooks.js';

/** How a job a previous process left running ends, and what it records. */
export interface RestartOutcome {
  state: Extract<JobTerminal, 'completed' | 'failed'>;
  result?: string;
  error?: string;
  detail: string;
}

/**
 * A job left running by a previous process ends by where its VM runs now: on the destination only, it completed,
 * but nothing re-verified its identity by beacon; anywhere else, the migration did not complete, and the line says
 * where the VM is.
 */
export function restartOutcome(job: Readonly<MigrationJob>, onSource: boolean, onDestination: boolean): RestartOutcome {
  const was = `console restarted during ${job.state}`;
  if (onDestination && !onSource) {
    return {
      state: 'completed',
      result: 'found running on the destination after a restart; identity not re-verified by beacon',
      detail: `${was}: ${job.vmName} found running on ${job.destination} only (not re-verified)`,
    };
  }
  if (onSource && !onDestination) {
    return {
      state: 'failed',
      error: `${was}; the migration did not complete`,
      detail: `${was}: ${job.vmName} still runs on ${job.source}; migration did not complete`,
    };
  }
  if (onSource && onDestination) {
    return {
      state: 'failed',
      error: `${was}; running on both hosts`,
      detail: `${was}: ${job.vmName} runs on both ${job.source} and ${job.destination}`,
    };
  }
  return {
    state: 'failed',
    error: `${was}; VM not found`,
    detail: `${was}: ${job.vmName} not found running on ${job.source} or ${job.destination}`,
  };
}

export interface RecoveryOptions {
  engine: MigrationEngineHooks;
  executorOf(job: Readonly<MigrationJob>): MigrationExecutor;
  finish(job: MigrationJob, state: JobTerminal, detail: string): Promise<void>;
  /** the VM now lives on the job's destination: its registration's home host follows */
  rehome(job: Readonly<MigrationJob>): Promise<void>;
}

/**
 * Closes the jobs a previous process left running: each one's move is stopped where it still runs (rather than let
 * it commit unobserved), its hosts are scanned, and it ends by where the VM is found. A move found done moves the
 * VM's home host with it, as a verified one does: else its own home host's admission hook would refuse its restart
 * where it now lives.
 */
export async function recoverJobs(stale: readonly MigrationJob[], options: RecoveryOptions): Promise<void> {
  for (const job of stale) {
    await options.executorOf(job).stopOrphan(job);
    await options.engine.requestScan([job.source, job.destination]).catch(() => {});
    let row: VmRow | undefined;
    try {
      row = options.engine.resolveVm(job.vm);
    } catch {
      row = undefined;
    }
    const outcome = restartOutcome(job, !!row && runsOn(row, job.source), !!row && runsOn(row, job.destination));
    if (outcome.result) job.result = outcome.result;
    if (outcome.error) job.error = outcome.error;
    if (outcome.state === 'completed') await options.rehome(job).catch(() => {});
    await options.finish(job, outcome.state, outcome.detail);
  }
}
