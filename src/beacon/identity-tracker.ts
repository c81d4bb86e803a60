// Replay and clone detection for authenticated beacons (the caller has already checked the signature or MAC).
// State is per identity = (uuid, public key): the highest seq seen per boot id, the current boot id and the
// highest seq overall. Bounded: least recently seen identities are forgotten first, and at most a few boot ids
// are kept per identity.
//
// Arrival order: the listener numbers datagrams as they arrive. MAC beacons are judged at once while signatures
// wait for a worker, so an older signed beacon of an identity can be judged after a newer MAC beacon. Such a
// beacon arrived before the one that moved the state, so it is `late` (the listener's own reordering), not a
// replay: a replay is a copy that arrives after the original was judged.

import type { BeaconPayload } from '../model/types.js';

export type TrackVerdict = { verdict: 'ok' | 'late' } | { verdict: 'replay' | 'clone-suspect'; reason: string };

/** One identity's replay state as persisted: its current boot id, the highest seq under it, when it was seen. */
export interface TrackerMark {
  bootId: string;
  seq: number;
  at: number;
}

interface IdentityState {
  /** when this entry last moved to the recent end of the LRU order (ms) */
  touched: number;
  current: string;
  maxSeq: number;
  /** boot id → highest seq seen under it (Map order: least recently seen first) */
  boots: Map<string, number>;
  /** arrival number of the beacon that last moved this state (-1: restored from a persisted mark) */
  arrival: number;
  /** listener time of that beacon (ms) */
  at: number;
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
   * late: seq not above the last seen, but it arrived before the beacon that set the last seen (not remembered).
   * `arrival` is the listener's arrival number for the datagram (increasing); omitted, every beacon counts as new.
   */
  check(p: BeaconPayload, publicKey: string, now: number, arrival = Number.MAX_SAFE_INTEGER): TrackVerdict {
    const skew = now - p.ts;
    if (!(Math.abs(skew) <= this.opts.maxSkewMs)) {
      return {
        verdict: 'replay',
        reason: `timestamp ${(skew / 1000).toFixed(1)}s off the listener clock (window ±${this.opts.maxSkewMs / 1000}s)`,
      };
    }
    const id = `${p.uuid} ${publicKey}`;
    const st = this.ids.get(id);
    const last = st?.boots.get(p.bootId);
    if (last !== undefined && p.seq <= last) {
      if (st!.current === p.bootId && arrival < st!.arrival) return { verdict: 'late' };
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
        // on every beacon would be most of the tracker's cost at fleet rates, and eviction only needs rough order.
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
      st.arrival = arrival;
      st.at = now;
      if (p.seq > st.maxSeq) st.maxSeq = p.seq;
    } else {
      this.insert(id, { touched: now, current: p.bootId, maxSeq: p.seq, boots: new Map([[p.bootId, p.seq]]), arrival, at: now });
    }
    return result;
  }

  /** Whether this identity has state (seen since start, or restored). */
  has(uuid: string, publicKey: string): boolean {
    return this.ids.has(`${uuid} ${publicKey}`);
  }

  /** Restore an identity from a persisted mark (a beacon at or below it under that boot is then a replay). */
  restore(uuid: string, publicKey: string, m: TrackerMark, now: number): void {
    if (!Number.isSafeInteger(m.seq) || m.seq < 0 || typeof m.bootId !== 'string') return;
    this.insert(`${uuid} ${publicKey}`, {
      touched: now,
      current: m.bootId,
      maxSeq: m.seq,
      boots: new Map([[m.bootId, m.seq]]),
      arrival: -1,
      at: m.at,
    });
  }

  /** What to persist for an identity: its current boot and the highest seq seen under it. */
  mark(uuid: string, publicKey: string): TrackerMark | undefined {
    const st = this.ids.get(`${uuid} ${publicKey}`);
    return st && { bootId: st.current, seq: st.boots.get(st.current) ?? st.maxSeq, at: st.at };
  }

  private insert(id: string, st: IdentityState): void {
    if (!this.ids.has(id) && this.ids.size >= this.maxIdentities) this.ids.delete(this.ids.keys().next().value!);
    this.ids.set(id, st);
  }

  clear(): void {
    this.ids.clear();
  }
}
