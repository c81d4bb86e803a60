import { EventEmitter } from 'node:events';
import { canonicalUuid } from '../model/fingerprint.js';
import {
  NO_BEACON_COUNTERS,
  type BeaconCounters,
  type BeaconEvent,
  type BillboardSnapshot,
  type Finding,
  type HostStatus,
  type Inventory,
  type Registration,
  type VmRow,
} from '../model/types.js';
import { HostView } from './host-view.js';
import type { NewRegistration, StoreApi } from '../store/api.js';
import {
  DEFAULT_MAX_BEACON_ONLY,
  DEFAULT_MAX_BEACON_ONLY_PER_SOURCE,
  DEFAULT_MAX_VMS,
  type EngineLog,
  type EngineOptions,
} from './engine-options.js';
import { judgeBeacon } from './beacon-verdict.js';
import { incident, recordBeacon } from './beacon-record.js';
import { ClaimIndex, type ClaimContext, type ClaimSink } from './claims.js';
import { Deadlines, nextDeadline } from './deadlines.js';
import { VM_DETECTORS } from './detectors/index.js';
import { FindingLedger } from './ledger.js';
import { bindingOf, type Binding } from './instances.js';
import { MigrationWatch } from './migrations.js';
import { RegistrationRequests } from './requests.js';
import { resolveRow } from './resolve.js';
import { buildRow, RowTable } from './rows.js';
import { ScanRequester } from './scan-requests.js';
import { displayName, type DetectContext, type FindingDraft, type VmState } from './state.js';
import { subjectOf } from './subjects.js';
import { BeaconOnlyPool, isSourceKey, type UntrustedKind } from './untrusted.js';
import { VmTable } from './vm-table.js';

export type { Binding } from './instances.js';
export type { EngineLog, EngineOptions } from './engine-options.js';

/**
 * The Billboard: joins beacons, scans and the registry into one live table and findings.
 *
 * Everything is synchronous and incremental: an ingest touches only the identities (and MACs / IPs) it changed, runs the per-VM detectors
 * on those, and replaces their immutable rows; snapshot() reuses the frozen object until the version moves. Emits 'change' (version,
 * coalesced per event-loop turn) and 'finding' (Finding, synchronously on raise / update / ack / resolve). The engine orchestrates; its
 * parts live in their own files: rows (rows.ts), MAC/IP claims (claims.ts), deadlines (deadlines.ts), finding subjects (subjects.ts),
 * enforcement (enforcement.ts), registration requests (requests.ts), source tallies (untrusted.ts), admission hooks (admission-hooks.ts).
 *
 * Wiring (console): listener 'beacon' → ingestBeacon, listener keyLookup → knownKey, scanner 'inventory' →
 * ingestInventory, scanner statuses → hostStatuses, every second beaconCounters + tick. Approve / reject / revoke /
 * register: the store call, then registryChanged().
 */
export class Engine extends EventEmitter {
  private readonly store: StoreApi;
  private readonly now: () => number;
  private readonly silentAfterMs: number;
  private readonly incidentWindowMs: number;
  private readonly log?: EngineLog;
  private readonly startedAt: number;
  private readonly maxVms: number;
  private readonly ledger: FindingLedger;
  private readonly scans: ScanRequester;
  private readonly rows = new RowTable();
  private readonly claims = new ClaimIndex();
  private readonly deadlines = new Deadlines();
  private readonly requests: RegistrationRequests;

  private readonly vms = new VmTable((uuid) => this.rows.markDirty(uuid));
  private readonly hosts = new HostView();
  private counters: BeaconCounters & { perSecond: number } = NO_BEACON_COUNTERS;
  private readonly migrations = new MigrationWatch();
  private readonly beaconOnly: BeaconOnlyPool;
  private version = 0;
  private snap: BillboardSnapshot | undefined;
  private changeScheduled = false;
  private closed = false;
  /** beacons dropped because maxVms identities are already tracked */
  droppedBeacons = 0;
  /** beacon events that named no valid uuid (e.g. bad signature on an unparseable key) */
  unattributed = 0;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.silentAfterMs = opts.beaconIntervalS * 1000 * opts.missedBeforeSilent;
    this.incidentWindowMs = Math.max(this.silentAfterMs * 2, opts.beaconIntervalS * 1000 * 4);
    this.maxVms = opts.maxVms ?? DEFAULT_MAX_VMS;
    const maxBeaconOnly = opts.maxBeaconOnly ?? DEFAULT_MAX_BEACON_ONLY;
    const stillBeaconOnly = (uuid: string): boolean => this.vms.has(uuid) && !this.isVouchedFor(uuid, this.store.registration(uuid));
    this.beaconOnly = new BeaconOnlyPool(maxBeaconOnly, opts.maxBeaconOnlyPerSource ?? DEFAULT_MAX_BEACON_ONLY_PER_SOURCE, stillBeaconOnly);
    this.startedAt = this.now();
    this.scans = new ScanRequester(opts.requestScan, this.now);
    this.requests = RegistrationRequests.forEngine(opts, this.now, (uuid) => this.afterwards(() => this.evaluateVm(uuid, this.now())));
    this.ledger = FindingLedger.forEngine(opts, this.now, this.incidentWindowMs, {
      rowChanged: (uuid) => this.rows.markDirty(uuid),
      runs: (uuid) => ({ ...this.vms.runs(uuid, this.hosts), migrating: this.migrations.migrating(uuid) }),
      closed: () => this.closed,
      changed: () => this.publish(),
      emit: (f) => this.emit('finding', f),
    });
    for (const uuid of this.ledger.reattach()) this.vms.ensure(uuid);
    for (const r of this.store.registrations()) this.vms.ensure(r.uuid);
    for (const uuid of this.vms.uuids()) this.rows.markDirty(uuid);
    this.publish();
  }

  // ─── inputs ────────────────────────────────────────────────────────────────────────────────

  ingestBeacon(ev: BeaconEvent): void {
    if (this.closed) return;
    const b = ev.beacon as BeaconEvent['beacon'] | undefined;
    const uuid = b ? canonicalUuid(String(b.uuid)) : undefined;
    if (!b || !uuid) {
      // an outsider can send these at will: count them, log only now and then
      if (this.unattributed++ % 1000 === 0) {
        this.log?.warn(
          { from: ev.from?.address, verdict: ev.verdict, total: this.unattributed },
          'beacon without a usable identity ignored',
        );
      }
      return;
    }
    const now = this.now();
    const reg = this.store.registration(uuid);
    const from = ev.from.address;
    const vouched = this.isVouchedFor(uuid, reg);
    const j = judgeBeacon(ev, { registration: reg, vouched, tracked: this.vms.has(uuid), room: () => this.beaconOnly.room(from) });
    if (j.kind === 'tally') return this.tallyUntrusted(j.tally, from, uuid, now);
    if (!this.vms.has(uuid) && !reg && this.vms.size >= this.maxVms) {
      this.droppedBeacons++;
      return;
    }
    const vm = this.vms.ensure(uuid);
    if (!vouched) this.beaconOnly.add(uuid, from);
    const w = { silentAfterMs: this.silentAfterMs, incidentWindowMs: this.incidentWindowMs };
    let suspicious = true;
    if (j.kind === 'replay') vm.replayed = incident(vm.replayed, now, from, j.reason, false, w);
    else if (j.kind === 'forged') vm.forged = incident(vm.forged, now, from, j.reason, j.authenticated, w);
    else suspicious = this.acceptBeacon(vm, ev, reg, j.authenticated, now);
    if (suspicious) this.scans.forEvidence(vm.uuid, [...vm.instances.keys()], j.kind !== 'replay' && j.authenticated);
    this.evaluateVm(uuid, now);
    this.publish();
  }

  ingestInventory(inv: Inventory): void {
    if (this.closed) return;
    const now = this.now();
    const host = inv.host;
    const { seen, touched, domains } = this.vms.applyInventory(host, inv.domains, now);
    for (const [uuid, d] of domains) {
      if (this.store.registration(uuid)) continue;
      const macs = d.macs.map((m) => m.toLowerCase());
      this.requests.request(uuid, { uuid, name: d.name, macs, os: d.os, origin: 'scan', firstSeen: `scan of ${host}` });
    }
    const { previous, fullScanMoved } = this.hosts.recordInventory(host, now, seen);
    this.ledger.hostScanned(inv, now);
    this.vms.dropFromHost(
      host,
      [...(previous ?? [])].filter((uuid) => !seen.has(uuid)),
      touched,
    );
    if (fullScanMoved) this.fullScanMoved(now);
    // Migration checks depend on scan times, not only on changes (and a scan may discharge a migration's source).
    for (const uuid of this.migrations.scanned(host, now, (u) => this.vms.get(u))) touched.add(uuid);
    for (const uuid of touched) this.refreshVm(uuid, now);
    this.publish();
  }

  hostStatuses(statuses: HostStatus[]): void {
    const now = this.now();
    const { flipped, fullScanMoved } = this.hosts.setStatuses(statuses);
    if (fullScanMoved) this.fullScanMoved(now);
    for (const h of flipped) for (const uuid of this.hosts.uuidsOn(h)) this.refreshVm(uuid, now);
    this.bump();
    this.publish();
  }

  beaconCounters(c: BeaconCounters & { perSecond: number }): void {
    this.counters = Object.freeze({ ...c });
    this.bump();
    this.publish();
  }

  /**
   * Time-based detectors (SILENT, PHANTOM, incident expiry); call every second. Only identities whose next deadline
   * has passed are re-evaluated, so a tick costs nothing in a quiet fleet.
   */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    const ctx = this.claimContextFactory(now);
    for (const uuid of this.deadlines.takeDue(now)) {
      const vm = this.vms.get(uuid);
      if (!vm) continue;
      this.updateIpClaims(vm, ctx(vm), false, now);
      this.evaluateVm(uuid, now);
      if (this.isForgettable(vm, now)) this.forgetVm(uuid);
    }
    for (const subject of this.ledger.subjectNames()) {
      if (subject.startsWith('mac:')) this.evaluateMac(subject.slice(4), now);
      else if (subject.startsWith('ip:')) this.evaluateIp(subject.slice(3), now);
    }
    this.ledger.sweepTallies(now, this.startedAt);
    this.publish();
  }

  registryChanged(): void {
    const now = this.now();
    for (const r of this.store.registrations()) this.vms.ensure(r.uuid);
    for (const uuid of this.vms.uuids()) {
      this.evaluateVm(uuid, now);
      this.rows.markDirty(uuid);
    }
    this.publish();
  }

  // ─── reads ─────────────────────────────────────────────────────────────────────────────────

  snapshot(): BillboardSnapshot {
    if (this.snap && this.snap.version === this.version) return this.snap;
    this.snap = Object.freeze({
      version: this.version,
      at: this.now(),
      rows: Object.freeze(this.rows.rows()),
      findings: this.ledger.book.list(),
      hosts: this.hosts.statuses(),
      beacons: this.counters,
    });
    return this.snap;
  }

  /** A VM reference (name, full UUID, unique UUID prefix; see resolveRow); throws NOT_FOUND / AMBIGUOUS. */
  resolveVm(ref: string): VmRow {
    return resolveRow(this.rows.all(), (uuid) => this.rows.get(uuid), ref);
  }

  findings(all = false): Finding[] {
    return all ? this.ledger.book.all() : [...this.ledger.book.list()];
  }

  /** acknowledge a finding: audited first, then marked (a failed audit leaves it un-acked) */
  async ack(id: string, actor: string, note?: string): Promise<Finding> {
    const acked = await this.ledger.ack(id, actor, note);
    this.publish();
    return acked;
  }

  knownKey(uuid: string): string | undefined {
    const u = canonicalUuid(uuid);
    return u ? this.store.registration(u)?.publicKey : undefined;
  }

  /** What `approve` binds into the registry: the definition, home host and MACs seen by scan, the beacon's key. */
  bindingFor(uuid: string): Binding {
    return bindingOf(this.vms.get(canonicalUuid(uuid) ?? uuid));
  }

  lastBeacon(uuid: string): VmRow['lastBeacon'] {
    return this.rows.get(canonicalUuid(uuid) ?? uuid)?.lastBeacon;
  }

  /** Resolves true as soon as pred(row) holds (checked now and on every change of that row), false on timeout. */
  waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean> {
    return this.rows.waitFor(pred, canonicalUuid(uuid) ?? uuid, timeoutMs);
  }

  /** counters of what unauthenticated beacons cost (for `health`, metrics and the flood bench) */
  untrustedCounters(): { forged: number; untracked: number; requestsCapped: number; beaconOnly: number } {
    return { ...this.ledger.talliedTotals(), requestsCapped: this.requests.capped, beaconOnly: this.beaconOnly.size };
  }

  // ─── migration hooks ───────────────────────────────────────────────────────────────────────
  // The migration manager calls these around a job so the detectors know what is expected:
  // begin → the VM may be live on source and destination (no DUPLICATE_UUID / UNAUTHORIZED_MIGRATION);
  // commit → from now on a scan that shows it on the source is a MIGRATION_GHOST (critical);
  // end(completed) → the destination becomes an authorized place for it (until homeHost is re-bound).

  beginMigration(w: { job: string; uuid: string; source: string; destination: string }): void {
    const uuid = canonicalUuid(w.uuid) ?? w.uuid;
    this.migrations.begin({ ...w, uuid }, this.now());
    this.vms.ensure(uuid);
    this.afterwards(() => this.refreshVm(uuid, this.now()));
  }

  commitMigration(job: string): void {
    const uuid = this.migrations.commit(job, this.now());
    if (uuid) this.afterwards(() => this.refreshVm(uuid, this.now()));
  }

  endMigration(job: string, outcome: 'completed' | 'failed' | 'aborted'): void {
    const uuid = this.migrations.end(job, outcome, this.now());
    if (uuid) this.afterwards(() => this.refreshVm(uuid, this.now()));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scans.close();
    await this.ledger.book.close();
  }

  // ─── evaluation ────────────────────────────────────────────────────────────────────────────

  private ctx(uuid: string, reg: Registration | undefined, now: number): DetectContext {
    return {
      now,
      silentAfterMs: this.silentAfterMs,
      incidentWindowMs: this.incidentWindowMs,
      registration: reg,
      windows: this.migrations.windowsOf(uuid),
      lastMove: this.migrations.lastMove(uuid),
      hostUp: this.hosts.hostUp,
      scannedAt: this.hosts.scannedAt,
      fullScanAt: this.hosts.fullScanAt,
    };
  }

  /** after an instance change: MAC and IP claims, then detectors */
  private refreshVm(uuid: string, now: number): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    this.vms.updateLive(vm, now);
    const ctx = this.claimContextFactory(now)(vm);
    for (const mac of this.claims.updateMacs(vm, ctx)) this.evaluateMac(mac, now);
    this.updateIpClaims(vm, ctx, false, now);
    this.evaluateVm(uuid, now);
    if (this.isForgettable(vm, now)) this.forgetVm(uuid);
  }

  private evaluateVm(uuid: string, now: number): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    const ctx = this.ctx(uuid, this.store.registration(uuid), now);
    let next: Set<string> | undefined;
    for (const detect of VM_DETECTORS) {
      const d = detect(vm, ctx);
      if (d) (next ??= new Set()).add(this.raise(d, [uuid], now));
    }
    this.settle(`vm:${uuid}`, next, now);
    this.rows.markDirty(uuid);
    this.deadlines.set(uuid, nextDeadline(vm, now, this.silentAfterMs, this.incidentWindowMs));
  }

  /** PHANTOM and reloaded findings depend on "every up host scanned": re-judge them when that moves */
  private fullScanMoved(now: number): void {
    for (const uuid of this.vms.beaconingNotLive()) this.evaluateVm(uuid, now);
    for (const key of [...this.ledger.book.carried]) {
      const f = this.ledger.book.get(key);
      if (!f || isSourceKey(key)) continue;
      const subject = subjectOf(f);
      if (subject.startsWith('vm:')) this.evaluateVm(f.vm, now);
      else if (subject.startsWith('mac:')) this.evaluateMac(subject.slice(4), now);
      else if (subject.startsWith('ip:')) this.evaluateIp(subject.slice(3), now);
    }
  }

  /** where judged MAC / IP claims raise and settle their findings */
  private readonly claimSink: ClaimSink = {
    raise: (d, uuids, now) => this.raise(d, uuids, now),
    settle: (subject, next, now) => this.settle(subject, next, now),
    hasSubject: (subject) => this.ledger.hasSubject(subject),
  };

  private evaluateMac(mac: string, now: number): void {
    this.claims.judgeMac(mac, now, this.claimSink);
  }

  private evaluateIp(ip: string, now: number): void {
    this.claims.judgeIp(ip, now, this.claimSink);
  }

  private updateIpClaims(vm: VmState, ctx: ClaimContext, fromBeacon: boolean, now: number): void {
    const { dirty, changed } = this.claims.updateIps(vm, ctx, fromBeacon);
    if (changed) this.rows.markDirty(vm.uuid);
    for (const ip of dirty) this.evaluateIp(ip, now);
  }

  private claimContextFactory(now: number): (vm: VmState) => ClaimContext {
    return (vm) => ({
      now,
      silentAfterMs: this.silentAfterMs,
      hostUp: this.hosts.hostUp,
      name: () => displayName(vm, this.store.registration(vm.uuid)),
    });
  }

  private raise(d: FindingDraft, uuids: readonly string[], now: number): string {
    return this.ledger.raise(d, uuids, now);
  }

  /** resolve the subject's keys that were not raised again; reloaded findings wait for a full scan after start */
  private settle(subject: string, next: Set<string> | undefined, now: number): void {
    const at = this.hosts.fullScanAt;
    this.ledger.settle(subject, next, now, at !== undefined && at >= this.startedAt);
  }

  // ─── beacons ───────────────────────────────────────────────────────────────────────────────

  /** A beacon with a good signature that is not forged: the identity's latest word. @returns whether suspicious */
  private acceptBeacon(vm: VmState, ev: BeaconEvent, reg: Registration | undefined, authenticated: boolean, now: number): boolean {
    let suspicious = recordBeacon(vm, ev, authenticated, now, {
      silentAfterMs: this.silentAfterMs,
      incidentWindowMs: this.incidentWindowMs,
    });
    const b = vm.beacon!;
    if (!reg) {
      const req: NewRegistration = {
        uuid: vm.uuid,
        name: b.name,
        publicKey: ev.publicKey,
        macs: b.macs,
        os: b.os,
        origin: 'beacon',
        firstSeen: `beacon from ${b.from}`,
      };
      this.requests.request(vm.uuid, req);
      suspicious = true;
    } else if (reg.state === 'pending' && !reg.publicKey && ev.publicKey) {
      this.requests.learnKey(vm.uuid, ev.publicKey);
    }
    this.updateIpClaims(vm, this.claimContextFactory(now)(vm), true, now);
    return suspicious;
  }

  private tallyUntrusted(kind: UntrustedKind, from: string, uuid: string, now: number): void {
    if (this.ledger.tally(kind, from, uuid, now)) this.publish();
  }

  /**
   * Whether something besides beacons vouches for an identity: a scan saw it, or a registration other than the
   * request its own beacons opened. Only such identities get per-VM findings on unauthenticated evidence.
   */
  private isVouchedFor(uuid: string, reg: Registration | undefined): boolean {
    if (reg && !(reg.origin === 'beacon' && reg.state === 'pending')) return true;
    return (this.vms.get(uuid)?.instances.size ?? 0) > 0;
  }

  // ─── table ─────────────────────────────────────────────────────────────────────────────────

  private isForgettable(vm: VmState, now: number): boolean {
    const old = (at: number | undefined): boolean => at === undefined || now - at > this.incidentWindowMs;
    return (
      vm.instances.size === 0 &&
      old(vm.beacon?.at) &&
      old(vm.forged?.at) &&
      old(vm.replayed?.at) &&
      !this.ledger.hasVmFindings(vm.uuid) &&
      !this.isVouchedFor(vm.uuid, this.store.registration(vm.uuid)) &&
      !this.requests.has(vm.uuid) &&
      !this.migrations.migrating(vm.uuid)
    );
  }

  private forgetVm(uuid: string): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    this.claims.forget(vm);
    this.vms.delete(uuid);
    this.migrations.forget(uuid);
    this.deadlines.delete(uuid);
    this.ledger.forgetVm(uuid);
    this.rows.markDirty(uuid);
  }

  private rowOf(uuid: string): VmRow | undefined {
    const vm = this.vms.get(uuid);
    if (!vm) return undefined;
    return buildRow(vm, this.store.registration(uuid), this.ledger.vmFindings(uuid), this.migrations.migrating(uuid));
  }

  /** run a change from outside an ingest (a timer, a store write settling), unless closed, then publish */
  private afterwards(change: () => void): void {
    if (this.closed) return;
    change();
    this.publish();
  }

  private bump(): void {
    this.version++;
    if (this.changeScheduled || this.listenerCount('change') === 0) return;
    this.changeScheduled = true;
    setImmediate(() => {
      this.changeScheduled = false;
      this.emit('change', this.version);
    });
  }

  /** rebuild dirty rows and move the version if anything changed (findings alone count too), wake waiters */
  private publish(): void {
    const rebuilt = this.rows.rebuild(
      (uuid) => this.rowOf(uuid),
      () => this.bump(),
    );
    if (!rebuilt && this.snap && this.ledger.book.list() !== this.snap.findings) this.bump();
  }
}
