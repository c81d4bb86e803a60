import type { Finding, Registration, VmInstance, VmRow } from '../model/types.js';
import { ACTIVE_STATES, displayName, type VmState } from './state.js';
import { deriveStatus, worstSeverity } from './status.js';

type Waiter = (row: VmRow | undefined) => void;

/**
 * The Billboard's rows: one immutable VmRow per identity, rebuilt only when marked dirty. Rows live in an array in
 * no particular order (removal swaps the last row in) with an index by UUID, so a snapshot is one slice and an
 * unchanged row keeps its object across snapshots. Waiters hear about their row after each rebuild.
 */
export class RowTable {
  private readonly index = new Map<string, number>();
  private readonly list: VmRow[] = [];
  // Replaced, not cleared, after each rebuild: Set.clear() leaves the old table pointing to the new one, so once
  // one table is in the old generation every later one is kept alive through it and promoted (≈100 bytes a beacon).
  private dirty = new Set<string>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  markDirty(uuid: string): void {
    this.dirty.add(uuid);
  }

  get(uuid: string): VmRow | undefined {
    const i = this.index.get(uuid);
    return i === undefined ? undefined : this.list[i];
  }

  /** the rows now, as a new array (the rows themselves are shared and frozen) */
  rows(): VmRow[] {
    return this.list.slice();
  }

  /** every row (read-only view; do not keep it across a rebuild) */
  all(): readonly VmRow[] {
    return this.list;
  }

  /**
   * Rebuild the dirty rows with `build` (undefined removes a row), then call `published` (the caller moves its
   * version) and wake the waiters of rows that changed. @returns false when nothing was dirty
   */
  rebuild(build: (uuid: string) => VmRow | undefined, published: () => void): boolean {
    if (this.dirty.size === 0) return false;
    const changed: [string, VmRow | undefined][] = [];
    for (const uuid of this.dirty) {
      const row = build(uuid);
      if (!this.place(uuid, row)) continue;
      if (this.waiters.has(uuid)) changed.push([uuid, row]);
    }
    this.dirty = new Set();
    published();
    for (const [uuid, row] of changed) for (const w of [...(this.waiters.get(uuid) ?? [])]) w(row);
    return true;
  }

  /** Resolves true as soon as pred(row) holds (checked now and on every change of that row), false on timeout. */
  waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean> {
    if (pred(this.get(uuid))) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(uuid);
      if (!set) this.waiters.set(uuid, (set = new Set()));
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        set!.delete(check);
        if (set!.size === 0) this.waiters.delete(uuid);
        resolve(ok);
      };
      const check = (row: VmRow | undefined): void => {
        if (pred(row)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(check);
    });
  }

  /** @returns whether the table changed */
  private place(uuid: string, row: VmRow | undefined): boolean {
    const idx = this.index.get(uuid);
    if (row) {
      if (idx === undefined) {
        this.index.set(uuid, this.list.length);
        this.list.push(row);
      } else this.list[idx] = row;
      return true;
    }
    if (idx === undefined) return false;
    const last = this.list.pop()!;
    if (last.uuid !== uuid) {
      this.list[idx] = last;
      this.index.set(last.uuid, idx);
    }
    this.index.delete(uuid);
    return true;
  }
}

/** One identity's row, from what the engine knows of it (a pure function: frozen output, shared instances). */
export function buildRow(vm: Readonly<VmState>, reg: Registration | undefined, findings: readonly Finding[], migrating: boolean): VmRow {
  const instances: VmInstance[] = [...vm.instances.values()];
  const live = instances.some((i) => ACTIVE_STATES.has(i.state));
  const b = vm.beacon;
  return Object.freeze({
    uuid: vm.uuid,
    name: displayName(vm, reg),
    instances,
    lastBeacon: b
      ? { at: b.receivedAt, from: b.from, bootId: b.bootId, seq: b.seq, ips: b.ips, macs: b.macs, os: b.os, keyFp: b.keyFp }
      : undefined,
    previousBoot: vm.prevBoot, // frozen where it is set: shared, so an unchanged row sends no patch for it
    registration: reg?.state,
    ...(reg?.state === 'approved' && reg.homeHost ? { homeHost: reg.homeHost } : {}),
    ...(reg?.state === 'approved' && !reg.keyFp ? { agentless: true } : {}),
    // what the guest says, else its definition's libosinfo id, else what the operator registered (a scan's request
    // only copied the scan, which the instances now say)
    os: b?.os || [...vm.instances.values()].find((i) => i.os)?.os || (reg?.origin === 'scan' ? undefined : reg?.os),
    // shown: what it claims; an agent that reports no address still has the ones its hosts see
    ips: vm.claimedIps.length ? vm.claimedIps : [...new Set(instances.filter((i) => ACTIVE_STATES.has(i.state)).flatMap((i) => i.ips))],
    openFindings: findings.length,
    worstSeverity: worstSeverity(findings),
    status: deriveStatus({ registration: reg?.state, findings, migrating, live }),
  });
}
