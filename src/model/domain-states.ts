import type { DomainState, JobState } from './types.js';

// The two sets of domain states the layers judge by. They differ in one state, `shutdown` (the guest OS is
// stopping), and each says why.

/**
 * Domain states in which a guest is live: it could beacon, and it holds its MACs and IPs. A guest in `shutdown`
 * counts: until it is off it still answers on the network, so the detectors (duplicate MAC/UUID, IP conflict,
 * phantom, migration ghost) keep it a claimant and a witness.
 */
export const LIVE_STATES: ReadonlySet<DomainState> = new Set<DomainState>(['running', 'paused', 'blocked', 'pmsuspended', 'shutdown']);

/**
 * Domain states in which the migration stage machine counts a guest as running on a host: the host it runs on is a
 * migration's source, the source still has it until it leaves, and a copy on a third host holds activation back.
 * A guest in `shutdown` does not count: a guest on its way off is no migration's source, and a source whose copy
 * is stopping after commitment is being discharged. The engine's detectors still see such a copy (LIVE_STATES),
 * so one that never stops raises MIGRATION_GHOST there.
 */
export const MIGRATABLE_STATES: ReadonlySet<DomainState> = new Set<DomainState>(['running', 'paused', 'blocked', 'pmsuspended']);

const JOB_ENDED: ReadonlySet<JobState> = new Set<JobState>(['completed', 'failed', 'aborted', 'denied']);

/** a migration job in one of its end states: nothing more will happen to it */
export function isTerminal(state: JobState): boolean {
  return JOB_ENDED.has(state);
}
