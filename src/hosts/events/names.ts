import type { DomainEvent } from './parse.js';

// Events name domains, scans know them by UUID: one host's name → UUID map, replaced by every full scan, updated by
// each targeted one, and following renames as they stream (`Undefined Renamed` for the old name, then at once
// `Defined Renamed` for the new one). A name it does not know resolves to undefined: the caller rescans the host.
//
// Some events trail a domain's end: the source of a migration reports `job-completed` after it stopped and was
// undefined, often after a scan already saw it gone. For those (never for lifecycle events, whose names must match
// what the host has now, or a new domain under an old name would be taken for the old one) a name that left the map
// in the last GONE_WINDOW_MS still resolves to the UUID it had.

/** how long an `Undefined Renamed` waits for its `Defined Renamed` */
const RENAME_WINDOW_MS = 5000;
/** how long a name that left the map still resolves for the events that trail a domain's end */
export const GONE_WINDOW_MS = 10_000;
/** at most this many left names are remembered (a host that drops more at once is rescanned instead) */
const GONE_MAX = 1024;

export class DomainNames {
  private byName = new Map<string, string>();
  private renaming?: { uuid: string; at: number };
  private readonly gone = new Map<string, { uuid: string; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** a full scan: the host's domains now */
  replace(domains: Iterable<{ uuid: string; name: string }>): void {
    const before = this.byName;
    this.byName = new Map();
    for (const d of domains) this.byName.set(d.name, d.uuid);
    for (const [n, u] of before) if (this.byName.get(n) !== u) this.left(n, u);
  }

  /** a targeted scan saw `uuid` named `name` (or gone, name undefined) */
  set(uuid: string, name: string | undefined): void {
    for (const [n, u] of this.byName) {
      if (u === uuid && n !== name) {
        this.byName.delete(n);
        this.left(n, u);
      }
    }
    if (name !== undefined) this.byName.set(name, uuid);
  }

  private left(name: string, uuid: string): void {
    const now = this.now();
    for (const [n, g] of this.gone) if (now - g.at > GONE_WINDOW_MS) this.gone.delete(n);
    this.gone.delete(name);
    if (this.gone.size < GONE_MAX) this.gone.set(name, { uuid, at: now });
  }

  /** the UUID a name had if it left the map within GONE_WINDOW_MS */
  private recentlyGone(name: string): string | undefined {
    const g = this.gone.get(name);
    return g && this.now() - g.at <= GONE_WINDOW_MS ? g.uuid : undefined;
  }

  uuidOf(name: string): string | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /**
   * Follow one event; @returns the UUID it is about (after a rename, the new name's), or undefined when the name is
   * not known here.
   */
  follow(e: DomainEvent): string | undefined {
    if (e.kind === 'lifecycle' && e.event === 'Undefined' && e.detail === 'Renamed') {
      const uuid = this.byName.get(e.domain);
      if (uuid) {
        this.byName.delete(e.domain);
        this.renaming = { uuid, at: e.at };
      }
      return uuid;
    }
    if (e.kind === 'lifecycle' && e.event === 'Defined' && e.detail === 'Renamed') {
      const r = this.renaming;
      this.renaming = undefined;
      if (r && Math.abs(e.at - r.at) <= RENAME_WINDOW_MS) {
        this.byName.set(e.domain, r.uuid);
        return r.uuid;
      }
      return this.byName.get(e.domain);
    }
    if (e.kind === 'lifecycle') return this.byName.get(e.domain);
    return this.byName.get(e.domain) ?? this.recentlyGone(e.domain);
  }
}
