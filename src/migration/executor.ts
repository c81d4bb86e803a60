import type { HostConfig } from '../model/config.js';
import type { JobStats, MigrationJob } from '../model/types.js';
import type { MigrationParams } from './limits.js';

// How an authorized job moves its VM. An executor runs the data move from reservation to the end of stop-and-copy
// (libvirt on the source host, or a model of pre-copy where the hypervisor cannot migrate); the manager keeps the
// stages, the audit and the verification around it, the same for every executor.

/** What a running execution sees of its job and may tell the manager (the manager implements it). */
export interface ExecutionRun {
  /** the job as it stands: `tune` changes its bandwidth and max downtime while it runs */
  readonly job: Readonly<MigrationJob>;
  /** the destination URI fixed (and audited) at authorization */
  readonly destUri: string;
  /** job-stats sampling period (at least 4 Hz) */
  readonly intervalMs: number;
  /** aborted when the manager closes: stop watching, the next process settles the job */
  readonly closing: AbortSignal;
  /** an operator asked to abort: once the move has stopped, the execution ends 'aborted' */
  aborting(): boolean;
  /** the guest's memory as its source's last scan reports it */
  memoryKiB(): number | undefined;
  /** the job enters a stage of the data move */
  enter(stage: 'iterative-pre-copy' | 'stop-and-copy', detail: string): void;
  /** a job-stats sample while data moves: the stages and the convergence estimate follow it */
  sample(stats: JobStats): void;
  /** the statistics of the finished move */
  finalStats(stats: JobStats): void;
  /** a line for the log about this job */
  info(message: string): void;
  now(): number;
}

/** How an execution ended; the manager verifies the end state from here. */
export type ExecutionEnd =
  | {
      kind: 'committed';
      /** who committed the move, for the commitment stage's line */
      by: string;
      /** the guest's pause, once known: fetched while commitment is being verified, off the critical path */
      downtimeMs: Promise<number | undefined>;
      /** what the executor still does once the commitment is recorded (a model moves the domain); rejects with why */
      place?: () => Promise<void>;
    }
  | { kind: 'failed'; reason: string }
  | { kind: 'aborted' }
  | { kind: 'closed' };

/** One job being run. */
export interface Execution {
  readonly ended: Promise<ExecutionEnd>;
  /** asks for the move to stop, the VM staying on its source; `ended` then says 'aborted' */
  abort(): Promise<void>;
  /** one host call per value; `applied` says which took effect when a later one fails */
  tune(params: MigrationParams, applied: MigrationParams): Promise<void>;
}

export interface MigrationExecutor {
  /** jobs it runs are simulated: no data stream leaves the machine, and beacons are not matched by address */
  readonly simulated: boolean;
  start(run: ExecutionRun): Execution;
  /** a job a previous process left running: stop it rather than let it commit unobserved; never rejects */
  stopOrphan(job: Readonly<MigrationJob>): Promise<void>;
}

/** `simulated` runs every job that touches a host whose hypervisor cannot migrate; `libvirt` runs the rest. */
export interface MigrationExecutors {
  libvirt: MigrationExecutor;
  simulated: MigrationExecutor;
}

/** libvirt's test driver (a test:/// URI) keeps domains in memory and has no migration. */
export function cannotMigrate(host: HostConfig): boolean {
  return host.driver === 'libvirt' && host.uri.startsWith('test:');
}
