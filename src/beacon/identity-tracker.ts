// Replay and clone detection for authenticated beacons (the caller has already checked the signature or MAC).
// State is per identity = (uuid, public key): the highest seq seen per boot id, the current boot id and the
// highest seq overall. Bounded: least recently seen identities are forgotten first, and at most a few boot ids
// are kept per identity.

import type { BeaconPayload } from '../model/types.js';

export type TrackVerdict = { verdict: 'ok' } | { verdict: 'replay' | 'clone-suspect'; reason: string };

interface IdentityState {
  /** when this entry last moved to the recent end of the LRU order (ms) */
  touched: number;
  current: string;
  maxSeq: number;
  /** boot id → highest seq seen under it (Map order: least recently seen first) */
  boots: Map<string, number>;
}

export interface TrackerOptions {
  /** accepted |listener clock − beacon ts| */
  maxSkewMs: number;
  maxIdentities?: number;
  maxBootsPerIdentity?: number;
}

/** An identity seen again moves to the recent end of the eviction order at most this often. */
const LRU_TOUCH_MS = 5_000;

export class IdentityTracker {
  private ids = new Map<string, IdentityState>();
  private readonly maxIdentities: number;
  private readonly maxBoots: number;

  constructor(private readonly opts: TrackerOptions) {
    this.maxIdentities = opts.maxIdentities ?? 200_000;
    this.maxBoots = opts.maxBootsPerIdentity ?? 4;
  }

  get size(): number {
    return this.ids.size;
  }

  /**
   * Judge one authenticated beacon and remember it (replays are not remembered).
   * replay: ts outside the window, or seq not above the last seen for this key + boot id.
   * clone-suspect: a boot id that is not the current one comes back (two boot ids interleaving), or a new boot id
   * starts at or below the identity's highest seq (agents persist seq across reboots, so only a copy does that).
   */
  check(p: BeaconPayload, publicKey: string, now: number): TrackVerdict {
    const skew = now - p.ts;
    if (!(Math.abs(skew) <= this.opts.maxSkewMs)) {
      return { verdict: 'replay', reason: `timestamp ${(skew / 1000).toFixed(1)}s off the listener clock (window ±${this.opts.maxSkewMs / 1000}s)` };
    }
    const id = `${p.uuid} ${publicKey}`;
    const st = this.ids.get(id);
    const last = st?.boots.get(p.bootId);
    if (last !== undefined && p.seq <= last) {
      return { verdict: 'replay', reason: `seq ${p.seq} not above ${last}, the last seen for boot ${p.bootId}` };
    }
    let result: TrackVerdict = { verdict: 'ok' };
    if (st && st.current !== p.bootId) {
      if (last !== undefined) {
        result = { verdict: 'clone-suspect', reason: `boot ${p.bootId} is back after boot ${st.current}: two boot ids interleaving` };
      } else if (p.seq <= st.maxSeq) {
        result = {
          verdict: 'clone-suspect',
          reason: `new boot ${p.bootId} starts at seq ${p.seq}, not above ${st.maxSeq} (a copied disk or restored snapshot?)`,
        };
      }
    }
    if (st) {
      if (now - st.touched >= LRU_TOUCH_MS) {
        // re-insert: Map order is least recently seen first. Only every few seconds per identity: moving an entry
        // on every beacon was the tracker's main cost at 10,000 beacons/s, and eviction only needs rough order.
        this.ids.delete(id);
        this.ids.set(id, st);
        st.touched = now;
      }
      if (st.current === p.bootId && last !== undefined) {
        st.boots.set(p.bootId, p.seq); // same boot as last time: update in place (already the newest boot)
      } else {
        st.boots.delete(p.bootId);
        st.boots.set(p.bootId, p.seq);
        if (st.boots.size > this.maxBoots) st.boots.delete(st.boots.keys().next().value!);
      }
      st.current = p.bootId;
      if (p.seq > st.maxSeq) st.maxSeq = p.seq;
    } else {
      if (this.ids.size >= this.maxIdentities) this.ids.delete(this.ids.keys().next().value!);
      this.ids.set(id, { touched: now, current: p.bootId, maxSeq: p.seq, boots: new Map([[p.bootId, p.seq]]) });
    }
    return result;
  }

  clear(): void {
    this.ids.clear();
  }
}
