import type { Finding, Registration } from '../model/types.js';

/** where an identity runs, as the table has it */
export interface Runs {
  /** hosts where the identity is live and the host is up */
  readonly liveHosts: readonly string[];
  /**
   * of those, the hosts where it runs (not paused), each with the time of the first scan of its current run there;
   * -Infinity for a run already going when the engine first scanned that host (begun at an unknown time)
   */
  readonly runningSince: ReadonlyMap<string, number>;
  /** a migration of it is under way (its window is open) */
  readonly migrating: boolean;
}

export interface EnforcementContext extends Runs {
  /** the identity's registration, if any */
  readonly registration?: Readonly<Pick<Registration, 'state' | 'homeHost'>>;
}

/**
 * Where automatic enforcement (`policy.enforcement` stop / isolate) may act on a finding it accepts (enforceable).
 * An identity the operator has not approved (unknown, pending, rejected, revoked): every host it is live on, since
 * nothing vouches for any of its instances. An approved identity: only for a DUPLICATE_UUID seen by scan, while no
 * migration of it is under way, and only on copies that run away from its registered home host and were seen to
 * begin running after the copy there did: the registered original, running first, keeps running and the clone that
 * came after it is stopped. A copy already running when the engine first scanned its host began at an unknown time:
 * it counts as first when it is the home copy, and is never acted on otherwise (a restart of the service does not
 * make an order up). Both must run, not be paused: the two halves of a live migration (bare or not) are never both
 * running. A home copy that began after the other (a home host that lags a move, or lies) is no original, and
 * anything less certain (no home host, the home copy paused or gone, evidence from beacons alone, any other code)
 * stays with the operator: an approved VM is never stopped where it belongs.
 */
export function enforcementHosts(f: Readonly<Pick<Finding, 'code' | 'evidenceSource'>>, ctx: EnforcementContext): string[] {
  const reg = ctx.registration;
  if (reg?.state !== 'approved') return [...ctx.liveHosts];
  if (f.code !== 'DUPLICATE_UUID' || f.evidenceSource !== 'scan' || ctx.migrating) return [];
  const home = reg.homeHost;
  const homeSince = home === undefined ? undefined : ctx.runningSince.get(home);
  if (homeSince === undefined) return [];
  return [...ctx.runningSince].filter(([h, since]) => h !== home && since > homeSince).map(([h]) => h);
}
