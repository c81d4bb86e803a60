import { at, type FindingDraft } from './state.js';
import { shortIds } from '../model/short-ids.js';

/**
 * Beacons that prove nothing about an identity nobody tracks — a bad signature or a replay for a UUID with no
 * registration and no scanned instance, or a new self-signed identity beyond the cap — come at an outsider's
 * pace. They are tallied per source address and window instead of tracked one by one: one finding per source
 * (at most maxSources of them, the rest folded into one "other sources" finding), and counters for the rest.
 */
export type UntrustedKind = 'forged' | 'untracked';

export interface SourceTally {
  kind: UntrustedKind;
  /** the source address, or '*' for the sources beyond the cap */
  from: string;
  firstAt: number;
  lastAt: number;
  datagrams: number;
  /** distinct identities claimed, counted up to SAMPLE_CAP (then "at least") */
  identities: Set<string>;
  /** how many sources were folded in (only for from '*') */
  sources: Set<string>;
}

const SAMPLE_CAP = 1000;
const KEY_PREFIX: Record<UntrustedKind, string> = { forged: 'FORGED_BEACON:from:', untracked: 'UNREGISTERED:from:' };

export class UntrustedTallies {
  private readonly tallies = new Map<string, SourceTally>();
  /** tally findings reloaded from the store → their last sighting (resolved once their window passes) */
  private readonly carried = new Map<string, number>();
  /** datagrams tallied, per kind, since start */
  readonly totals: Record<UntrustedKind, number> = { forged: 0, untracked: 0 };

  constructor(
    private readonly windowMs: number,
    private readonly maxSources = 32,
  ) {}

  /** @returns the finding key, and whether that key is new (raise it now; otherwise it is refreshed on tick) */
  record(kind: UntrustedKind, from: string, uuid: string, now: number): { key: string; fresh: boolean } {
    this.totals[kind]++;
    let key = KEY_PREFIX[kind] + from;
    let t = this.tallies.get(key);
    if (!t && this.countOf(kind) >= this.maxSources) {
      key = KEY_PREFIX[kind] + '*';
      t = this.tallies.get(key);
    }
    const fresh = !t;
    if (!t) {
      t = {
        kind,
        from: key.slice(KEY_PREFIX[kind].length),
        firstAt: now,
        lastAt: now,
        datagrams: 0,
        identities: new Set(),
        sources: new Set(),
      };
      this.tallies.set(key, t);
    }
    t.lastAt = now;
    t.datagrams++;
    if (t.identities.size < SAMPLE_CAP) t.identities.add(uuid);
    if (t.from === '*' && t.sources.size < SAMPLE_CAP) t.sources.add(from);
    return { key, fresh };
  }

  /** a tally finding reloaded from the store: it ends when its window passes (counted from the restart at least) */
  adopt(key: string, lastSeen: number): void {
    this.carried.set(key, lastSeen);
  }

  /** Tallies still in their window (drafts to refresh), and the keys whose window has passed (to resolve). */
  sweep(now: number, startedAt: number): { live: FindingDraft[]; expired: string[] } {
    const live: FindingDraft[] = [];
    const expired: string[] = [];
    for (const [key, t] of this.tallies) {
      if (now - t.lastAt > this.windowMs) {
        this.tallies.delete(key);
        expired.push(key);
      } else live.push(untrustedSourceDraft(key, t));
    }
    for (const [key, last] of this.carried) {
      if (this.tallies.has(key)) this.carried.delete(key);
      else if (now - Math.max(last, startedAt) > this.windowMs) {
        this.carried.delete(key);
        expired.push(key);
      }
    }
    return { live, expired };
  }

  draft(key: string): FindingDraft | undefined {
    const t = this.tallies.get(key);
    return t ? untrustedSourceDraft(key, t) : undefined;
  }

  private countOf(kind: UntrustedKind): number {
    let n = 0;
    for (const t of this.tallies.values()) if (t.kind === kind && t.from !== '*') n++;
    return n;
  }
}

/**
 * Identities tracked from beacons alone (no registration but their own request, no scan): anyone can mint them, so
 * there is a cap in total and per source address (one source announcing many new identities is tallied instead).
 * Entries that something else came to vouch for, or that were forgotten, are swept out when a cap is reached.
 */
export class BeaconOnlyPool {
  /** uuid → the source that first announced it */
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly max: number,
    private readonly maxPerSource: number,
    private readonly stillBeaconOnly: (uuid: string) => boolean,
  ) {}

  add(uuid: string, from: string): void {
    if (!this.ids.has(uuid)) this.ids.set(uuid, from);
  }

  get size(): number {
    return this.ids.size;
  }

  /** whether one more identity announced by `from` may be tracked */
  room(from: string): boolean {
    if (this.fits(from)) return true;
    for (const uuid of this.ids.keys()) if (!this.stillBeaconOnly(uuid)) this.ids.delete(uuid);
    return this.fits(from);
  }

  private fits(from: string): boolean {
    if (this.ids.size >= this.max) return false;
    let n = 0;
    for (const f of this.ids.values()) if (f === from && ++n >= this.maxPerSource) return false;
    return true;
  }
}

/** Whether a finding key belongs to a source tally (its subject is the source, not a VM). */
export function isSourceKey(key: string): boolean {
  return key.startsWith(KEY_PREFIX.forged) || key.startsWith(KEY_PREFIX.untracked);
}

/**
 * FORGED_BEACON / UNREGISTERED (medium) about a source address, not a VM: datagrams from it that no key holder
 * had to produce, for identities nobody tracks. Evidence is 'unauthenticated', so nothing acts on it
 * automatically; it names the count, a few of the UUIDs claimed and the window.
 */
export function untrustedSourceDraft(key: string, t: Readonly<SourceTally>): FindingDraft {
  const n = t.identities.size;
  const sample = [...t.identities].slice(0, 3);
  const short = shortIds(sample);
  const ids = `${n >= SAMPLE_CAP ? `at least ${n}` : n} identit${n === 1 ? 'y' : 'ies'} (${sample
    .map((u) => short.get(u.toLowerCase()))
    .join(', ')}${n > 3 ? ', …' : ''})`;
  const src = t.from === '*' ? `${t.sources.size >= SAMPLE_CAP ? 'at least ' : ''}${t.sources.size} other source addresses` : t.from;
  const what =
    t.kind === 'forged'
      ? `with a bad signature or replayed, claiming ${ids} that no registration or scan knows`
      : `announcing ${ids} beyond the cap on unregistered identities tracked from beacons alone`;
  return {
    code: t.kind === 'forged' ? 'FORGED_BEACON' : 'UNREGISTERED',
    severity: 'medium',
    key,
    vm: '',
    hosts: [],
    evidence: `${t.datagrams} beacon datagram(s) from ${src} ${what}, since ${at(t.firstAt)}; not tracked one by one`,
    evidenceSource: 'unauthenticated',
  };
}
