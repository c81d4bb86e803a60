import type { VmState } from './state.js';

/**
 * When each identity must be looked at again (silence, incident expiry), filed by the second, so a tick touches
 * only the identities whose deadline has passed and a quiet fleet costs nothing.
 */
export class Deadlines {
  /** time buckets (seconds) → identities with a deadline then; and the reverse */
  private readonly due = new Map<number, Set<string>>();
  private readonly dueOf = new Map<string, number>();

  /** file uuid under the second of `at` (undefined: no deadline) */
  set(uuid: string, at: number | undefined): void {
    const bucket = at === undefined ? undefined : Math.ceil(at / 1000);
    const old = this.dueOf.get(uuid);
    if (old === bucket) return;
    if (old !== undefined) this.unfile(uuid, old);
    if (bucket === undefined) return;
    let set = this.due.get(bucket);
    if (!set) this.due.set(bucket, (set = new Set()));
    set.add(uuid);
    this.dueOf.set(uuid, bucket);
  }

  delete(uuid: string): void {
    const old = this.dueOf.get(uuid);
    if (old !== undefined) this.unfile(uuid, old);
  }

  /** the identities whose deadline is at or before now, taken off the schedule */
  takeDue(now: number): string[] {
    const nowBucket = Math.floor(now / 1000);
    const out: string[] = [];
    for (const [bucket, uuids] of this.due) {
      if (bucket > nowBucket) continue;
      this.due.delete(bucket);
      for (const uuid of uuids) {
        this.dueOf.delete(uuid);
        out.push(uuid);
      }
    }
    return out;
  }

  private unfile(uuid: string, bucket: number): void {
    const set = this.due.get(bucket);
    set?.delete(uuid);
    if (set?.size === 0) this.due.delete(bucket);
    this.dueOf.delete(uuid);
  }
}

/**
 * The next time an identity's findings can change by the clock alone: its silence deadline (after its last beacon
 * or the start of its active streak) and the expiry of its beacon incidents. Undefined when nothing is pending.
 */
export function nextDeadline(vm: Readonly<VmState>, now: number, silentAfterMs: number, incidentWindowMs: number): number | undefined {
  let d = Infinity;
  const consider = (t: number): void => {
    if (t > now && t < d) d = t;
  };
  const lastHeard = Math.max(vm.beacon?.at ?? -Infinity, vm.activeSince ?? -Infinity);
  consider(lastHeard + silentAfterMs + 1);
  if (vm.beacon) consider(vm.beacon.at + incidentWindowMs + 1);
  for (const inc of [vm.forged, vm.replayed, vm.clone]) if (inc) consider(inc.at + incidentWindowMs + 1);
  return d === Infinity ? undefined : d;
}
