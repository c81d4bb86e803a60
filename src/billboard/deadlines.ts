import type { VmState } from './state.js';

/**
 * When each identity must be looked at again (silence, incident expiry), filed by the second, so a tick touches
 * only the identities whose deadline has passed and a quiet fleet costs nothing.
 *
 * Every beacon moves its identity's deadline a second or more on (10,000 moves a second in bench/tui). A bucket is a
 * list an identity is appended to, and is not taken out of when it moves: `dueOf` says where it is filed now, and a
 * bucket that comes due skips the identities that moved on. Sets per bucket, added to and deleted from on each move,
 * grew and shrank their tables all the time, and V8 promoted every table of a bucket that lives 15 s.
 */
export class Deadlines {
  /** time buckets (seconds) → identities filed there, some of which may since have moved to a later bucket */
  private readonly due = new Map<number, string[]>();
  /** identity → the bucket it is filed in now */
  private readonly dueOf = new Map<string, number>();

  /** file uuid under the second of `at` (undefined: no deadline) */
  set(uuid: string, at: number | undefined): void {
    const bucket = at === undefined ? undefined : Math.ceil(at / 1000);
    if (this.dueOf.get(uuid) === bucket) return;
    if (bucket === undefined) return void this.dueOf.delete(uuid);
    this.dueOf.set(uuid, bucket);
    const filed = this.due.get(bucket);
    if (filed) filed.push(uuid);
    else this.due.set(bucket, [uuid]);
  }

  delete(uuid: string): void {
    this.dueOf.delete(uuid);
  }

  /** the identities whose deadline is at or before now, taken off the schedule */
  takeDue(now: number): string[] {
    const nowBucket = Math.floor(now / 1000);
    const out: string[] = [];
    for (const [bucket, uuids] of this.due) {
      if (bucket > nowBucket) continue;
      this.due.delete(bucket);
      for (const uuid of uuids) {
        // moved to another bucket since, or filed here twice (moved away and back) and taken at the first entry
        if (this.dueOf.get(uuid) !== bucket) continue;
        this.dueOf.delete(uuid);
        out.push(uuid);
      }
    }
    return out;
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
