import type { AuditEntry, BillboardSnapshot, Finding, HostStatus, MigrationJob, Registration, VmRow } from '../model/types.js';
import { ListReceiver, ListSender, type ListCodec, type ListDelta } from './delta.js';

// What attached consoles see, sent as deltas: the feed reads the service's state at most every intervalMs when
// something changed, encodes the change once, and hands the same line to every subscriber. A subscriber first gets
// the whole state (as of the last broadcast), then every delta. One that cannot keep up is dropped by its transport.

export interface FeedSource {
  snapshot(): BillboardSnapshot;
  jobs(): readonly MigrationJob[];
  pending(): readonly Registration[];
  auditLog(last?: number): readonly AuditEntry[];
  /** operator names attached right now */
  attached(): string[];
}

/** the audit entries an attached console holds (the TUI's audit view shows the last 500) */
export const AUDIT_TAIL = 500;

/** The wire form of the state: one JSON line, {t:'full'} or {t:'d'}. */
export interface FeedMessage {
  t: 'full' | 'd';
  v: number;
  at: number;
  rows?: ListDelta;
  findings?: ListDelta;
  hosts?: ListDelta;
  jobs?: ListDelta;
  pending?: ListDelta;
  audit?: ListDelta;
  beacons?: BillboardSnapshot['beacons'];
  attached?: string[];
}

type Beacon = NonNullable<VmRow['lastBeacon']>;

/**
 * A row whose only news is its next beacon (sequence number one up; only its time moved) travels as the time since
 * the one before, in ms: with its id's step, a few bytes where a patch of lastBeacon would take dozens. At 10,000
 * VMs beaconing once a second that is what a console receives, every second.
 */
export const ROW_CODEC: ListCodec<VmRow> = {
  width: 1,
  pack(prev, next, patch) {
    const keys = Object.keys(patch);
    if (keys.length !== 1 || keys[0] !== 'lastBeacon' || !prev.lastBeacon || !next.lastBeacon) return undefined;
    const sub = (patch.lastBeacon as { $?: Record<string, unknown> }).$;
    if (!sub || Object.keys(sub).some((k) => k !== 'at' && k !== 'seq')) return undefined;
    if (next.lastBeacon.seq !== prev.lastBeacon.seq + 1) return undefined;
    return [next.lastBeacon.at - prev.lastBeacon.at];
  },
  unpack(prev, [dAt]) {
    const b = prev.lastBeacon as Beacon;
    return { ...prev, lastBeacon: Object.freeze({ ...b, at: b.at + (dAt ?? 0), seq: b.seq + 1 }) };
  },
};

const copyJob = (j: MigrationJob): MigrationJob => ({ ...j });

export class Feed {
  private readonly rows = new ListSender<VmRow>((r) => r.uuid, ROW_CODEC);
  private readonly findings = new ListSender<Finding>((f) => f.id);
  private readonly hosts = new ListSender<HostStatus>((h) => h.name);
  private readonly jobs = new ListSender<MigrationJob>((j) => j.id);
  private readonly pending = new ListSender<Registration>((r) => r.uuid);
  private readonly audit = new ListSender<AuditEntry>((a) => String(a.seq));
  private beacons?: BillboardSnapshot['beacons'];
  private attached: string[] = [];
  private version = -1;
  private at = 0;
  private readonly subscribers = new Set<(line: string) => void>();
  private timer?: NodeJS.Timeout;
  private dirty = true;

  constructor(
    private readonly src: FeedSource,
    private readonly intervalMs = 100,
  ) {
    this.flush();
  }

  /** something changed (a command ran, an operator came or went): send it within intervalMs */
  poke(): void {
    this.dirty = true;
    if (this.timer || !this.subscribers.size) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.intervalMs);
    this.timer.unref?.();
  }

  /** send the whole state now, then every change; returns unsubscribe */
  subscribe(send: (line: string) => void): () => void {
    this.flush();
    send(JSON.stringify(this.full()));
    this.subscribers.add(send);
    return () => this.subscribers.delete(send);
  }

  close(): void {
    clearTimeout(this.timer);
    this.subscribers.clear();
  }

  private full(): FeedMessage {
    return {
      t: 'full',
      v: this.version,
      at: this.at,
      rows: this.rows.full(),
      findings: this.findings.full(),
      hosts: this.hosts.full(),
      jobs: this.jobs.full(),
      pending: this.pending.full(),
      audit: this.audit.full(),
      ...(this.beacons ? { beacons: this.beacons } : {}),
      attached: this.attached,
    };
  }

  /** read the source, and broadcast what changed since the last flush */
  private flush(): void {
    if (!this.dirty && this.version === this.src.snapshot().version) return;
    this.dirty = false;
    const s = this.src.snapshot();
    const m: FeedMessage = { t: 'd', v: s.version, at: s.at };
    const put = <K extends 'rows' | 'findings' | 'hosts' | 'jobs' | 'pending' | 'audit'>(k: K, d: ListDelta | undefined) => {
      if (d) m[k] = d;
    };
    if (s.version !== this.version) {
      put('rows', this.rows.diff(s.rows));
      put('findings', this.findings.diff(s.findings));
      put('hosts', this.hosts.diff(s.hosts));
      if (s.beacons !== this.beacons) m.beacons = this.beacons = s.beacons;
    }
    put('jobs', this.jobs.diff(this.src.jobs().map(copyJob)));
    put('pending', this.pending.diff(this.src.pending()));
    put('audit', this.audit.diff(this.src.auditLog(AUDIT_TAIL)));
    const attached = this.src.attached();
    if (attached.join('\n') !== this.attached.join('\n')) m.attached = this.attached = attached;
    this.version = s.version;
    this.at = s.at;
    if (Object.keys(m).length <= 3 || !this.subscribers.size) return;
    const line = JSON.stringify(m);
    for (const send of this.subscribers) send(line);
  }

  /** the engine moved: flush on the interval */
  tick(): void {
    this.poke();
  }
}

/** The attached side: the state as the feed's messages build it. */
export class FeedState {
  readonly rows = new ListReceiver<VmRow>(ROW_CODEC);
  readonly findings = new ListReceiver<Finding>();
  readonly hosts = new ListReceiver<HostStatus>();
  readonly jobs = new ListReceiver<MigrationJob>();
  readonly pending = new ListReceiver<Registration>();
  readonly audit = new ListReceiver<AuditEntry>();
  beacons?: BillboardSnapshot['beacons'];
  attached: string[] = [];
  version = 0;
  at = 0;

  apply(m: FeedMessage): void {
    const lists = ['rows', 'findings', 'hosts', 'jobs', 'pending', 'audit'] as const;
    if (m.t === 'full') for (const k of lists) this[k].reset();
    for (const k of lists) {
      const d = m[k];
      if (d) (this[k] as ListReceiver<object>).apply(d);
    }
    if (m.beacons) this.beacons = m.beacons;
    if (m.attached) this.attached = m.attached;
    this.version = m.v;
    this.at = m.at;
  }
}
