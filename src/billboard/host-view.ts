import type { HostStatus } from '../model/types.js';

/**
 * What the engine knows of the hosts: their status, when each last reported an inventory and which identities it
 * reported, and "every up host scanned since": the time PHANTOM and reloaded findings wait for.
 */
export class HostView {
  /** host → engine time of its last inventory and the uuids it reported */
  private readonly inventories = new Map<string, { at: number; uuids: Set<string> }>();
  private readonly up = new Map<string, boolean>();
  /** host → engine time of its first inventory: what ran then had begun before the engine watched */
  private readonly first = new Map<string, number>();
  private list: readonly HostStatus[] = Object.freeze([]);
  /** oldest last-scan time across all up hosts; undefined until every up host was scanned once */
  fullScanAt: number | undefined;

  readonly hostUp = (h: string): boolean => this.up.get(h) !== false;
  readonly scannedAt = (h: string): number | undefined => this.inventories.get(h)?.at;
  readonly firstScanAt = (h: string): number | undefined => this.first.get(h);

  statuses(): readonly HostStatus[] {
    return this.list;
  }

  uuidsOn(host: string): Iterable<string> {
    return this.inventories.get(host)?.uuids ?? [];
  }

  /** a host's inventory: @returns the identities its previous inventory reported, and whether fullScanAt moved */
  recordInventory(host: string, at: number, uuids: Set<string>): { previous: Set<string> | undefined; fullScanMoved: boolean } {
    const previous = this.inventories.get(host)?.uuids;
    this.inventories.set(host, { at, uuids });
    if (!this.first.has(host)) this.first.set(host, at);
    return { previous, fullScanMoved: this.recomputeFullScan() };
  }

  /** @returns the hosts whose up/down flipped, and whether fullScanAt moved */
  setStatuses(statuses: readonly HostStatus[]): { flipped: string[]; fullScanMoved: boolean } {
    this.list = Object.freeze([...statuses]);
    const flipped: string[] = [];
    for (const s of statuses) {
      const was = this.up.get(s.name);
      this.up.set(s.name, s.up);
      if (was !== undefined && was !== s.up) flipped.push(s.name);
    }
    return { flipped, fullScanMoved: this.recomputeFullScan() };
  }

  private recomputeFullScan(): boolean {
    const before = this.fullScanAt;
    const names = this.list.length ? this.list.map((h) => h.name) : [...this.inventories.keys()];
    let min: number | undefined;
    let complete = names.length > 0;
    for (const h of names) {
      if (!this.hostUp(h)) continue;
      const at = this.inventories.get(h)?.at;
      if (at === undefined) {
        complete = false;
        break;
      }
      min = min === undefined ? at : Math.min(min, at);
    }
    this.fullScanAt = complete ? min : undefined;
    return this.fullScanAt !== before;
  }
}
