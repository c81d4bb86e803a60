import type { DomainEvent } from './parse.js';

// Events name domains, scans know them by UUID: one host's name → UUID map, replaced by every full scan, updated by
// each targeted one, and following renames as they stream (`Undefined Renamed` for the old name, then at once
// `Defined Renamed` for the new one). A name it does not know resolves to undefined: the caller rescans the host.

/** how long an `Undefined Renamed` waits for its `Defined Renamed` */
const RENAME_WINDOW_MS = 5000;

export class DomainNames {
  private byName = new Map<string, string>();
  private renaming?: { uuid: string; at: number };

  /** a full scan: the host's domains now */
  replace(domains: Iterable<{ uuid: string; name: string }>): void {
    this.byName = new Map();
    for (const d of domains) this.byName.set(d.name, d.uuid);
  }

  /** a targeted scan saw `uuid` named `name` (or gone, name undefined) */
  set(uuid: string, name: string | undefined): void {
    for (const [n, u] of this.byName) if (u === uuid && n !== name) this.byName.delete(n);
    if (name !== undefined) this.byName.set(name, uuid);
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
    return this.byName.get(e.domain);
  }
}
