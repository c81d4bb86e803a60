import type { HostDomainEvent } from '../hosts/events/host-events.js';
import type { JobStats, MigrationJob } from '../model/types.js';
import type { DomainEventFeed } from './hooks.js';

// One running job's domain events. libvirt tells each new pre-copy pass on the source (`migration-iteration`), which
// lands between two job-stats samples, and ends the job with `job-completed` (source or destination), whose stats are
// the final word on downtime and data moved. An event counts when its host resolved its name to the job's VM UUID
// on the job's source or destination: a name the host's scans do not know is no evidence about this job.

/** libvirt's job-completed event arrives on its own stream: how long after the migrate command it is waited for */
export const JOB_COMPLETED_GRACE_MS = 2000;

export class JobEvents {
  /** the highest pass the source's migration-iteration events reported (0: none yet) */
  iteration = 0;
  private final?: JobStats;
  private wake?: () => void;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly job: Readonly<MigrationJob>,
    feed: DomainEventFeed,
    private readonly o: { now: () => number; onIteration: (iteration: number) => void },
  ) {
    this.unsubscribe = feed((e) => this.onEvent(e));
  }

  private onEvent(e: HostDomainEvent): void {
    const { job } = this;
    if (this.closed || e.uuid !== job.vm || (e.host !== job.source && e.host !== job.destination)) return;
    const ev = e.event;
    if (ev.kind === 'migration-iteration' && e.host === job.source && ev.iteration > this.iteration) {
      this.iteration = ev.iteration;
      this.o.onIteration(ev.iteration);
    } else if (ev.kind === 'job-completed' && !this.final && isCompletedMigration(ev.stats)) {
      this.final = { ...ev.stats, at: this.o.now() };
      this.wake?.();
    }
  }

  /** the job-completed event's stats: at once when they came, else the first within graceMs; undefined when none */
  completed(graceMs: number): Promise<JobStats | undefined> {
    if (this.final || this.closed || graceMs <= 0) return Promise.resolve(this.final);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(this.final);
      };
      const timer = setTimeout(done, graceMs);
      this.wake = done;
    });
  }

  /** stop listening; a wait in progress ends with what it has */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.wake?.();
  }
}

/** a job that completed, and was a migration (libvirt names the operation; an older libvirt may not) */
function isCompletedMigration(s: JobStats): boolean {
  return s.type === 'completed' && (s.operation === undefined || /migration/i.test(s.operation));
}
