import { keyFingerprint } from '../model/fingerprint.js';
import { safeText } from '../model/text.js';
import type { BeaconEvent, Registration } from '../model/types.js';
import type { UntrustedKind } from './untrusted.js';

export type BeaconJudgement =
  /** evidence about an identity nobody vouches for: tallied per source, no row, finding or request of its own */
  | { kind: 'tally'; tally: UntrustedKind }
  | { kind: 'replay'; reason: string }
  | { kind: 'forged'; reason: string; authenticated: boolean }
  | { kind: 'accept'; authenticated: boolean };

export interface BeaconVerdictContext {
  registration?: Registration;
  /** something besides beacons vouches for the identity: a scan saw it, or a registration other than its own request */
  vouched: boolean;
  /** the identity already has a row */
  tracked: boolean;
  /** room for one more identity known from beacons alone (asked only when it matters) */
  room(): boolean;
}

/**
 * What a verified (or failed) beacon means for its identity. `authenticated` means signed under the key the registry
 * holds for it, not merely under some key: anyone can make a key, and no key holder had to produce a bad signature
 * or a replay. So junk about identities nobody vouches for is only tallied; a revoked identity's beacons, and a
 * registered identity's beacons under another key, are forged (FORGED_BEACON); a replay is REPLAYED_BEACON; the rest
 * is the identity's latest word. Only authenticated evidence (and scans) may lead to automatic action.
 */
export function judgeBeacon(ev: Readonly<BeaconEvent>, ctx: BeaconVerdictContext): BeaconJudgement {
  const reg = ctx.registration;
  const signed = ev.verdict !== 'bad-signature' && ev.verdict !== 'replay';
  if (!ctx.vouched && !signed) return { kind: 'tally', tally: 'forged' };
  if (!ctx.vouched && !ctx.tracked && !ctx.room()) return { kind: 'tally', tally: 'untracked' };
  const mismatch = reg !== undefined && keyMismatch(reg, ev);
  const authenticated = signed && !!reg?.publicKey && !mismatch;
  if (ev.verdict === 'bad-signature') {
    return { kind: 'forged', reason: `bad signature${ev.reason ? ` (${safeText(ev.reason, 120)})` : ''}`, authenticated };
  }
  if (ev.verdict === 'replay') return { kind: 'replay', reason: safeText(ev.reason ?? 'sequence number or timestamp reused', 120) };
  if (reg?.state === 'revoked') return { kind: 'forged', reason: 'beacon for a revoked identity', authenticated };
  if (mismatch) {
    const want = reg.keyFp ?? keyFingerprint(reg.publicKey!);
    return {
      kind: 'forged',
      reason: `signed with key ${safeText(ev.beacon.keyFp, 60)} which is not the registered key ${want}`,
      authenticated,
    };
  }
  return { kind: 'accept', authenticated };
}

/** the beacon is signed with another key than the registered one (a registration without a key matches any) */
export function keyMismatch(reg: Registration, ev: Readonly<BeaconEvent>): boolean {
  if (!reg.publicKey) return false;
  if (ev.publicKey) return ev.publicKey !== reg.publicKey;
  return ev.beacon.keyFp !== (reg.keyFp ?? keyFingerprint(reg.publicKey));
}
