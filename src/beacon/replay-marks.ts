// Replay marks that outlive the listener: each registered identity's current boot id and highest seq, written in
// batches (at most once per interval, only the identities that moved) and read back at start, so that a restart
// does not reopen a ±maxSkew window for beacons captured before it.
//
// The listener does not know the store (layering: beacon ← billboard ← console); it gets this narrow interface,
// which the store implements. Keys are canonical UUIDs: marks are saved only for beacons under the registered key,
// so an outsider cannot grow the saved set. A saved mark's `bootId` is "<boot id> <key fingerprint>" (the store
// keeps it as an opaque string): a mark is restored only to the same uuid under the same key, so a VM whose key
// was replaced (its new agent counting from 1 again) is not taken for a replay of the old one.

import type { IdentityTracker, TrackerMark } from './identity-tracker.js';

export type BeaconMark = TrackerMark;

export interface ReplayMarkStore {
  beaconMarks(): ReadonlyMap<string, BeaconMark>;
  /** merges: only the given marks change */
  saveBeaconMarks(marks: ReadonlyMap<string, BeaconMark>): Promise<void>;
}

export interface MarksLog {
  warn(o: object, msg?: string): void;
}

export class ReplayMarks {
  /** persisted marks not restored yet: an identity is restored when its first authentic beacon arrives */
  private restored = new Map<string, BeaconMark>();
  /** uuid → registered key (base64) and its fingerprint, for identities whose state moved since the last save */
  private dirty = new Map<string, { publicKey: string; keyFp: string }>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ReplayMarkStore,
    private readonly tracker: IdentityTracker,
    private readonly everyMs: number,
    private readonly log?: MarksLog,
  ) {}

  start(): void {
    this.restored = new Map(this.store.beaconMarks());
    this.timer = setInterval(() => void this.flush(), this.everyMs);
    this.timer.unref();
  }

  /** Before judging an authentic beacon under the registered key: restore its identity's persisted mark. */
  restore(uuid: string, publicKey: string, keyFp: string, now: number): void {
    if (this.restored.size === 0) return;
    const m = this.restored.get(uuid);
    if (m === undefined) return;
    this.restored.delete(uuid);
    const sep = typeof m.bootId === 'string' ? m.bootId.indexOf(' ') : -1;
    if (sep < 0 || m.bootId.slice(sep + 1) !== keyFp) return; // saved under another key
    if (!this.tracker.has(uuid, publicKey)) this.tracker.restore(uuid, publicKey, { ...m, bootId: m.bootId.slice(0, sep) }, now);
  }

  /** After the tracker moved the state of an identity under its registered key. */
  changed(uuid: string, publicKey: string, keyFp: string): void {
    this.dirty.set(uuid, { publicKey, keyFp });
  }

  /** Write the marks that moved since the last save. Saves run one at a time; a failed one is retried next time. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.saveOnce());
    return this.chain;
  }

  private async saveOnce(): Promise<void> {
    if (this.dirty.size === 0) return;
    const batch = this.dirty;
    this.dirty = new Map();
    const marks = new Map<string, BeaconMark>();
    for (const [uuid, { publicKey, keyFp }] of batch) {
      const m = this.tracker.mark(uuid, publicKey);
      if (m) marks.set(uuid, { ...m, bootId: `${m.bootId} ${keyFp}` });
    }
    if (marks.size === 0) return;
    try {
      await this.store.saveBeaconMarks(marks);
    } catch (e) {
      for (const [uuid, who] of batch) if (!this.dirty.has(uuid)) this.dirty.set(uuid, who);
      this.log?.warn({ err: (e as Error)?.message ?? String(e), marks: marks.size }, 'could not save beacon replay marks; retrying');
    }
  }

  /** Stop the timer and write what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
