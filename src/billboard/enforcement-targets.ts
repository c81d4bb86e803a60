import type { Finding, Registration } from '../model/types.js';

export interface EnforcementContext {
  /** the identity's registration, if any */
  readonly registration?: Readonly<Pick<Registration, 'state' | 'homeHost'>>;
  /** hosts where the identity is live and the host is up */
  readonly liveHosts: readonly string[];
  /** of those, the hosts where it runs (not paused) */
  readonly runningHosts: readonly string[];
}

/**
 * Where automatic enforcement (`policy.enforcement` stop / isolate) may act on a finding it accepts (enforceable).
 * An identity the operator has not approved (unknown, pending, rejected, revoked): every host it is live on, since
 * nothing vouches for any of its instances. An approved identity: only for a DUPLICATE_UUID seen by scan, and only
 * the copies running away from its registered home host while the copy there runs too: the registered original
 * keeps running and the clone beside it is stopped. Both must run, not be paused: the two halves of a live
 * migration (bare or not) are never both running, so a move in flight is never mistaken for a clone. Anything less
 * certain (no home host, the home copy paused or gone, evidence from beacons alone, any other code) stays with the
 * operator: an approved VM is never stopped where it belongs.
 */
export function enforcementHosts(f: Readonly<Pick<Finding, 'code' | 'evidenceSource'>>, ctx: EnforcementContext): string[] {
  const reg = ctx.registration;
  if (reg?.state !== 'approved') return [...ctx.liveHosts];
  if (f.code !== 'DUPLICATE_UUID' || f.evidenceSource !== 'scan') return [];
  const home = reg.homeHost;
  if (!home || !ctx.runningHosts.includes(home)) return [];
  return ctx.runningHosts.filter((h) => h !== home);
}
