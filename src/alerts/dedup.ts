import { SEVERITY_ORDER, type Finding, type HostStatus, type Severity } from '../model/types.js';

/** A Map that forgets its oldest entries past `max`: what dedup remembers stays bounded under a flood. */
class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key);
    super.set(key, value);
    if (this.size > this.max) this.delete(this.keys().next().value as K);
    return this;
  }
}

export type FindingVerdict = { kind: 'new' } | { kind: 'escalation'; from: Severity } | undefined;

/**
 * Which finding changes are news: a finding id seen for the first time while open, or its severity rising.
 * Everything else (fresh evidence, a host list that moved, an ack, a second scan) has been said already: the same
 * event is never sent twice for one finding. Resolved findings are forgotten (a finding that comes back gets a new id).
 */
export class FindingDedup {
  private readonly seen: BoundedMap<string, Severity>;

  constructor(max = 20_000) {
    this.seen = new BoundedMap(max);
  }

  /** findings that exist before the dispatcher starts (reloaded from the store) were news in an earlier run */
  seed(findings: readonly Finding[]): void {
    for (const f of findings) if (f.state !== 'resolved') this.seen.set(f.id, f.severity);
  }

  judge(f: Finding): FindingVerdict {
    if (f.state === 'resolved') {
      this.seen.delete(f.id);
      return undefined;
    }
    const prev = this.seen.get(f.id);
    if (prev === undefined) {
      this.seen.set(f.id, f.severity);
      return f.state === 'open' ? { kind: 'new' } : undefined;
    }
    if (SEVERITY_ORDER[f.severity] >= SEVERITY_ORDER[prev]) return undefined;
    this.seen.set(f.id, f.severity);
    return { kind: 'escalation', from: prev };
  }
}

/**
 * Hosts going down and coming back: one event per change. A host never scanned is not news; one found down at
 * its first scan is (nobody has seen it up); one found up at its first scan is not.
 */
export class HostDedup {
  private readonly up = new Map<string, boolean>();

  judge(statuses: readonly HostStatus[]): HostStatus[] {
    const changed: HostStatus[] = [];
    for (const s of statuses) {
      if (s.unknown) continue;
      const prev = this.up.get(s.name);
      this.up.set(s.name, s.up);
      if (prev === undefined ? !s.up : prev !== s.up) changed.push(s);
    }
    return changed;
  }
}

/** Ids already told (jobs, audit breaks): each is news once. */
export class OnceSet {
  private readonly seen: BoundedMap<string, true>;

  constructor(max = 10_000) {
    this.seen = new BoundedMap(max);
  }

  first(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.set(id, true);
    return true;
  }

  forget(id: string): void {
    this.seen.delete(id);
  }
}
