import { BillboardError, errorLine } from '../model/errors.js';
import { nameProblem } from '../model/text.js';
import type { NewRegistration, StoreApi } from '../store/api.js';
import { DEFAULT_AUTO_REQUESTS_PER_SEC, DEFAULT_MAX_BEACON_REQUESTS, type EngineOptions } from './engine-options.js';

export interface RequestOptions {
  store: StoreApi;
  now: () => number;
  /** automatic requests per second (token bucket, burst ×10) */
  perSecond: number;
  /** pending requests that beacons opened, in total */
  maxBeaconRequests: number;
  /** a read-only session opens no requests */
  disabled?: boolean;
  /** a request was written (or refused): the identity is judged again */
  settled(uuid: string): void;
  log?: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
}

/**
 * Registration requests the engine opens for identities it sees without a registration (the paper's step 7): one per
 * identity, rate-limited, those opened by beacons capped in total (anyone can mint identities), and with a name that
 * follows the name rule. A pending request without a key learns the one its beacons carry, once, marked as learned.
 */
export class RegistrationRequests {
  private readonly inFlight = new Set<string>();
  /** pending requests already given their agent's key (once each) */
  private readonly keyed = new Set<string>();
  private tokens: number;
  private tokensAt: number;
  private beaconRequests = { count: 0, at: -Infinity };
  /** requests not opened because maxBeaconRequests beacon-opened requests are pending */
  capped = 0;

  /** the engine's requests, as its options say (the defaults are in engine-options.ts) */
  static forEngine(opts: EngineOptions, now: () => number, settled: (uuid: string) => void): RegistrationRequests {
    return new RegistrationRequests({
      store: opts.store,
      now,
      perSecond: opts.autoRequestsPerSec ?? DEFAULT_AUTO_REQUESTS_PER_SEC,
      maxBeaconRequests: opts.maxBeaconRequests ?? DEFAULT_MAX_BEACON_REQUESTS,
      disabled: opts.readOnly,
      log: opts.log,
      settled,
    });
  }

  constructor(private readonly o: RequestOptions) {
    this.tokens = o.perSecond * 10;
    this.tokensAt = o.now();
  }

  has(uuid: string): boolean {
    return this.inFlight.has(uuid);
  }

  request(uuid: string, reg: NewRegistration): void {
    if (this.o.disabled || this.inFlight.has(uuid)) return;
    const now = this.o.now();
    if (reg.origin === 'beacon' && this.pendingBeaconRequests(now) >= this.o.maxBeaconRequests) {
      if (this.capped++ % 1000 === 0) {
        this.o.log?.warn(
          { uuid, cap: this.o.maxBeaconRequests, total: this.capped },
          'registration request not opened: too many beacon requests pending',
        );
      }
      return;
    }
    // a name that breaks the rule (hostile, or reads as a UUID) is not carried into the registry
    if (nameProblem(reg.name)) reg = { ...reg, name: `vm-${uuid.slice(0, 8)}` };
    this.tokens = Math.min(this.o.perSecond * 10, this.tokens + ((now - this.tokensAt) / 1000) * this.o.perSecond);
    this.tokensAt = now;
    if (this.tokens < 1) return; // asked again the next time it is seen
    this.tokens--;
    this.inFlight.add(uuid);
    this.o.store
      .register(reg, 'system')
      .then(
        () => this.o.log?.info({ uuid, origin: reg.origin, firstSeen: reg.firstSeen }, 'registration request created'),
        (e: unknown) => {
          if (!(e instanceof BillboardError && e.code === 'CONFLICT'))
            this.o.log?.warn({ uuid, err: errorLine(e) }, 'registration request failed');
        },
      )
      .finally(() => {
        this.inFlight.delete(uuid);
        if (reg.origin === 'beacon') this.beaconRequests.at = -Infinity; // recount
        this.o.settled(uuid);
      });
  }

  /**
   * A pending request that has no key learns the key its beacons carry, so the operator sees it. It arrived after
   * the request was made, so it is marked: approve binds it only when the operator confirms its fingerprint.
   */
  learnKey(uuid: string, publicKey: string): void {
    if (this.o.disabled || this.keyed.has(uuid)) return;
    this.keyed.add(uuid);
    void this.o.store
      .updateRegistration(uuid, { publicKey, keyLearned: true }, 'system', 'request-key')
      .catch((e: unknown) => this.o.log?.warn({ uuid, err: errorLine(e) }, 'could not add the key to a registration request'));
  }

  /** pending requests opened by beacons (recounted at most once a second; requests are rate-limited anyway) */
  private pendingBeaconRequests(now: number): number {
    if (now - this.beaconRequests.at >= 1000) {
      let n = 0;
      for (const r of this.o.store.registrations()) if (r.state === 'pending' && r.origin === 'beacon') n++;
      this.beaconRequests = { count: n + this.inFlight.size, at: now };
    }
    return this.beaconRequests.count;
  }
}
