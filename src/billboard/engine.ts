import { EventEmitter } from 'node:events';
import { BillboardError, errorLine } from '../model/errors.js';
import { canonicalMac, canonicalUuid, keyFingerprint } from '../model/fingerprint.js';
import { nameProblem, safeText } from '../model/text.js';
import type {
  BeaconCounters,
  BeaconEvent,
  BillboardSnapshot,
  DomainInfo,
  Finding,
  HostStatus,
  Inventory,
  Registration,
  VmInstance,
  VmRow,
} from '../model/types.js';
import type { StoreApi } from '../store/api.js';
import { duplicateMac, ipConflict, VM_DETECTORS, type IpClaim, type MacClaim } from './detectors/index.js';
import { FindingBook, type FindingChange } from './findings.js';
import { ScanRequester } from './scan-requests.js';
import {
  ACTIVE_STATES,
  displayName,
  type BeaconIncident,
  type CompletedMove,
  type DetectContext,
  type FindingDraft,
  type InstanceState,
  type MigrationWindow,
  type VmState,
} from './state.js';
import { deriveStatus, worstSeverity } from './status.js';
import { isSourceKey, UntrustedTallies, type UntrustedKind } from './untrusted.js';

/** pino-compatible subset */
export interface EngineLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error?(o: object, msg?: string): void;
}

export interface EngineOptions {
  store: StoreApi;
  beaconIntervalS: number;
  missedBeforeSilent: number;
  enforcement: 'ask' | 'isolate' | 'stop';
  /** injectable clock (ms since epoch) for scenarios */
  now?: () => number;
  /** active scan on suspicion; undefined hosts = all hosts */
  requestScan?: (hosts?: string[]) => void;
  /**
   * Executes an enforcement action through the host drivers (the console wires it). It calls stillWarranted()
   * right before touching the host (after its own awaits) and resolves false, acting on nothing, when that says
   * no: an operator may have approved the VM, or the cause cleared, in between.
   */
  enforce?: (action: 'stop' | 'isolate', uuid: string, host: string, reason: string, stillWarranted: () => boolean) => Promise<boolean>;
  log?: EngineLog;
  /** cap on identities tracked (an outsider with fresh keys can invent uuids); default 100,000 */
  maxVms?: number;
  /** automatic registration requests per second (token bucket, burst ×10); default 20 */
  autoRequestsPerSec?: number;
  /** identities tracked from beacons alone (no registration, no scan): anyone can mint them; default 256 */
  maxBeaconOnly?: number;
  /** pending registration requests that beacons opened, in total; default 256 */
  maxBeaconRequests?: number;
  /** source addresses tallied one by one for unauthenticated junk (the rest share one finding); default 32 */
  maxUntrustedSources?: number;
}

export interface Binding {
  definitionHash?: string;
  homeHost?: string;
  macs: string[];
  publicKey?: string;
}

const EMPTY: readonly string[] = Object.freeze([]);
const NO_WINDOWS: readonly MigrationWindow[] = Object.freeze([]);

/**
 * The Billboard: joins beacons, scans and the registry into one live table and findings.
 *
 * Everything is synchronous and incremental: an ingest touches only the identities (and MACs / IPs) it changed,
 * runs the per-VM detectors on those, and replaces their immutable rows; snapshot() reuses the frozen object
 * until the version moves. Emits 'change' (version, coalesced per event-loop turn) and 'finding' (Finding,
 * synchronously on raise / update / ack / resolve).
 *
 * Wiring (console): listener 'beacon' → ingestBeacon, listener keyLookup → knownKey, scanner 'inventory' →
 * ingestInventory, scanner statuses → hostStatuses, every second beaconCounters + tick.
 * Approve: store.decide(uuid, 'approved') → store.updateRegistration(uuid, engine.bindingFor(uuid), actor, 'bind')
 * → engine.registryChanged(). Reject / revoke / register: the store call, then registryChanged().
 */
export class Engine extends EventEmitter {
  private readonly store: StoreApi;
  private readonly now: () => number;
  private readonly silentAfterMs: number;
  private readonly incidentWindowMs: number;
  private readonly log?: EngineLog;
  private readonly book: FindingBook;
  private readonly scans: ScanRequester;
  private readonly startedAt: number;
  private readonly maxVms: number;

  private readonly vms = new Map<string, VmState>();
  /** host → engine time of its last inventory and the uuids it reported */
  private readonly inventories = new Map<string, { at: number; uuids: Set<string> }>();
  private hostList: readonly HostStatus[] = Object.freeze([]);
  private readonly hostUpMap = new Map<string, boolean>();
  private fullScanAt: number | undefined;
  private counters: BeaconCounters & { perSecond: number } = Object.freeze({
    valid: 0,
    'unknown-key': 0,
    'bad-signature': 0,
    replay: 0,
    'clone-suspect': 0,
    malformed: 0,
    'rate-limited': 0,
    overload: 0,
    received: 0,
    perSecond: 0,
  });

  private readonly macIndex = new Map<string, Map<string, MacClaim>>();
  private readonly ipIndex = new Map<string, Map<string, IpClaim>>();
  private readonly ipFlips = new Map<string, { last: string; flips: number }>();

  /** subject ('vm:uuid' | 'mac:m' | 'ip:a' | 'enf:originKey') → keys of its active findings */
  private readonly subjectKeys = new Map<string, Set<string>>();
  /** finding key → uuids it concerns; and the reverse, for rows */
  private readonly involved = new Map<string, readonly string[]>();
  private readonly vmKeys = new Map<string, Set<string>>();

  /** identities with no live instance: the only PHANTOM candidates */
  private readonly notLive = new Set<string>();
  private readonly windows = new Map<string, MigrationWindow>();
  private readonly moves = new Map<string, CompletedMove>();
  private readonly requesting = new Set<string>();
  /** pending requests already given their agent's key (once each) */
  private readonly keyed = new Set<string>();
  private requestTokens: number;
  private requestTokensAt: number;
  private readonly autoRequestsPerSec: number;
  private readonly enforced = new Map<string, Set<string>>();
  private readonly tallies: UntrustedTallies;
  /** identities known from beacons alone; may hold stale entries (swept when the cap is reached) */
  private readonly beaconOnly = new Set<string>();
  private readonly maxBeaconOnly: number;
  private readonly maxBeaconRequests: number;
  private beaconRequests = { count: 0, at: -Infinity };
  /** source-tally findings reloaded from the store → their last sighting (resolved once their window passes) */
  private readonly carriedSources = new Map<string, number>();

  /** time buckets (seconds) → identities with a deadline then; and the reverse */
  private readonly due = new Map<number, Set<string>>();
  private readonly dueOf = new Map<string, number>();

  private readonly rowIndex = new Map<string, number>();
  private readonly rowList: VmRow[] = [];
  private readonly dirtyRows = new Set<string>();
  private readonly rowWaiters = new Map<string, Set<(row: VmRow | undefined) => void>>();
  private version = 0;
  private snap: BillboardSnapshot | undefined;
  private changeScheduled = false;
  private closed = false;
  /** beacons dropped because maxVms identities are already tracked */
  droppedBeacons = 0;
  /** beacon events that named no valid uuid (e.g. bad signature on an unparseable key) */
  unattributed = 0;
  /** registration requests not opened because maxBeaconRequests beacon-opened requests are pending */
  requestsCapped = 0;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.silentAfterMs = opts.beaconIntervalS * 1000 * opts.missedBeforeSilent;
    this.incidentWindowMs = Math.max(this.silentAfterMs * 2, opts.beaconIntervalS * 1000 * 4);
    this.maxVms = opts.maxVms ?? 100_000;
    this.autoRequestsPerSec = opts.autoRequestsPerSec ?? 20;
    this.startedAt = this.now();
    this.requestTokens = this.autoRequestsPerSec * 10;
    this.requestTokensAt = this.startedAt;
    this.maxBeaconOnly = opts.maxBeaconOnly ?? 256;
    this.maxBeaconRequests = opts.maxBeaconRequests ?? 256;
    this.tallies = new UntrustedTallies(this.incidentWindowMs, opts.maxUntrustedSources ?? 32);
    this.scans = new ScanRequester(opts.requestScan, this.now);
    this.book = new FindingBook({
      store: opts.store,
      log: opts.log,
      onChange: (f, change) => this.onFinding(f, change),
    });
    // A restart must not forget open findings: re-attach them to their subjects so fresh evidence resolves them.
    for (const key of this.book.carried) {
      const f = this.book.get(key)!;
      if (isSourceKey(key)) {
        this.carriedSources.set(key, f.lastSeen);
        continue;
      }
      this.keysOf(subjectOf(f)).add(key);
      if (f.vm) {
        this.vmOf(f.vm);
        this.setInvolved(key, [f.vm]);
      }
    }
    for (const r of this.store.registrations()) this.vmOf(r.uuid);
    for (const uuid of this.vms.keys()) this.dirtyRows.add(uuid);
    this.commit();
  }

  // ─── inputs ────────────────────────────────────────────────────────────────────────────────

  ingestBeacon(ev: BeaconEvent): void {
    if (this.closed) return;
    const b = ev.beacon as BeaconEvent['beacon'] | undefined;
    const uuid = b ? canonicalUuid(String(b.uuid)) : undefined;
    if (!b || !uuid) {
      // an outsider can send these at will: count them, log only now and then
      if (this.unattributed++ % 1000 === 0) {
        this.log?.warn({ from: ev.from?.address, verdict: ev.verdict, total: this.unattributed }, 'beacon without a usable identity ignored');
      }
      return;
    }
    const now = this.now();
    const reg = this.store.registration(uuid);
    const from = ev.from.address;
    // No key holder had to produce a bad signature or a replay: for an identity nobody tracks, it is tallied per
    // source, never given a row, a finding or a request of its own.
    const signed = ev.verdict !== 'bad-signature' && ev.verdict !== 'replay';
    const known = this.isVouchedFor(uuid, reg);
    if (!known && !signed) return this.tallyUntrusted('forged', from, uuid, now);
    if (!known && !this.vms.has(uuid) && !this.roomForBeaconOnly()) return this.tallyUntrusted('untracked', from, uuid, now);
    if (!this.vms.has(uuid) && !reg && this.vms.size >= this.maxVms) {
      this.droppedBeacons++;
      return;
    }
    const vm = this.vmOf(uuid);
    if (!known) this.beaconOnly.add(uuid);
    // authenticated: signed under the key the registry holds for this identity (not merely under some key)
    const authenticated = signed && !!reg?.publicKey && !keyMismatch(reg, ev);
    let forged: string | undefined;
    let suspicious = false;
    if (ev.verdict === 'bad-signature') {
      forged = `bad signature${ev.reason ? ` (${safeText(ev.reason, 120)})` : ''}`;
    } else if (ev.verdict === 'replay') {
      vm.replayed = this.incident(vm.replayed, now, from, safeText(ev.reason ?? 'sequence number or timestamp reused', 120), false);
      suspicious = true;
    } else if (reg?.state === 'revoked') {
      forged = 'beacon for a revoked identity';
    } else if (reg && keyMismatch(reg, ev)) {
      forged = `signed with key ${safeText(b.keyFp, 60)} which is not the registered key ${reg.keyFp ?? keyFingerprint(reg.publicKey!)}`;
    }
    if (forged) {
      vm.forged = this.incident(vm.forged, now, from, forged, authenticated);
      suspicious = true;
    } else if (ev.verdict !== 'replay') {
      suspicious = this.acceptBeacon(vm, ev, reg, authenticated, now) || suspicious;
    }
    if (suspicious) this.requestScanFor(vm, authenticated);
    this.evaluateVm(uuid, now);
    this.commit();
  }

  /** A beacon with a good signature that is not forged: the identity's latest word. @returns whether suspicious */
  private acceptBeacon(vm: VmState, ev: BeaconEvent, reg: Registration | undefined, authenticated: boolean, now: number): boolean {
    const b = ev.beacon;
    const from = ev.from.address;
    let suspicious = false;
    const prev = vm.beacon;
    if (prev && prev.bootId !== b.bootId) {
      if (vm.prevBoot?.bootId === b.bootId && now - vm.prevBoot.at <= this.incidentWindowMs) {
        const both = [`boot ${short(b.bootId)} from ${from}`, `boot ${short(prev.bootId)} from ${prev.from}`].sort().join(' and ');
        vm.clone = this.incident(vm.clone, now, from, safeText(both), authenticated);
        suspicious = true;
      } else if (now - prev.at <= this.silentAfterMs && prev.from !== from) {
        suspicious = true; // a new boot from a new address while the old one was alive: clone or reboot+DHCP
      }
      vm.prevBoot = { bootId: prev.bootId, from: prev.from, at: prev.at };
    }
    if (ev.verdict === 'clone-suspect') {
      vm.clone = this.incident(vm.clone, now, from, safeText(ev.reason ?? 'listener saw two boot ids interleaving'), authenticated);
      suspicious = true;
    }
    const name = safeText(b.name, 64);
    vm.beacon = {
      at: now,
      receivedAt: ev.receivedAt,
      from,
      bootId: safeText(b.bootId, 64),
      seq: b.seq,
      ips: cleanIps(b.ips),
      macs: (b.macs ?? []).map((m) => canonicalMac(String(m))).filter((m): m is string => m !== undefined),
      os: safeText(b.os),
      keyFp: safeText(b.keyFp, 60),
      name: name && !nameProblem(name) ? name : vm.uuid,
      publicKey: ev.publicKey ?? prev?.publicKey,
      since: prev && now - prev.at <= this.silentAfterMs ? prev.since : now,
    };
    if (!reg) {
      this.requestRegistration(vm.uuid, {
        uuid: vm.uuid,
        name: vm.beacon.name,
        publicKey: ev.publicKey,
        macs: vm.beacon.macs,
        os: vm.beacon.os,
        origin: 'beacon',
        firstSeen: `beacon from ${from}`,
      });
      suspicious = true;
    } else if (reg.state === 'pending' && !reg.publicKey && ev.publicKey && !this.keyed.has(vm.uuid)) {
      this.learnRequestKey(vm.uuid, ev.publicKey);
    }
    this.updateIpClaims(vm, true);
    return suspicious;
  }

  /**
   * A pending request that has no key learns the key its beacons carry, so the operator sees it. It arrived
   * after the request was made, so it is marked: approve binds it only when the operator confirms its
   * fingerprint (`approve VM --key SHA256:…`).
   */
  private learnRequestKey(uuid: string, publicKey: string): void {
    this.keyed.add(uuid);
    void this.store
      .updateRegistration(uuid, { publicKey, keyLearned: true }, 'system', 'request-key')
      .catch((e: unknown) => this.log?.warn({ uuid, err: errorLine(e) }, 'could not add the key to a registration request'));
  }

  /**
   * Evidence a key holder produced may scan every host (a new identity is looked for everywhere); evidence nobody
   * had to sign scans only the hosts where the identity already runs, so an outsider cannot order lab-wide scans.
   */
  private requestScanFor(vm: VmState, authenticated: boolean): void {
    const hosts = [...vm.instances.keys()];
    if (authenticated) this.scans.request(vm.uuid, undefined);
    else if (hosts.length) this.scans.request(vm.uuid, hosts);
    else this.scans.request(vm.uuid, undefined, { untrusted: true });
  }

  private tallyUntrusted(kind: UntrustedKind, from: string, uuid: string, now: number): void {
    const { key, fresh } = this.tallies.record(kind, from, uuid, now);
    if (!fresh) return; // refreshed on tick: a flood costs a counter, not a finding update per datagram
    const d = this.tallies.draft(key);
    if (d) this.raise(d, EMPTY, now);
    this.commit();
  }

  /**
   * Whether something besides beacons vouches for an identity: a scan saw it, or a registration other than the
   * request its own beacons opened. Only such identities get per-VM findings on unauthenticated evidence.
   */
  private isVouchedFor(uuid: string, reg: Registration | undefined): boolean {
    if (reg && !(reg.origin === 'beacon' && reg.state === 'pending')) return true;
    return (this.vms.get(uuid)?.instances.size ?? 0) > 0;
  }

  /** Whether another identity known from beacons alone (no registration, no scan) may be tracked. */
  private roomForBeaconOnly(): boolean {
    if (this.beaconOnly.size < this.maxBeaconOnly) return true;
    for (const uuid of this.beaconOnly) {
      const vm = this.vms.get(uuid);
      if (!vm || this.isVouchedFor(uuid, this.store.registration(uuid))) this.beaconOnly.delete(uuid);
    }
    return this.beaconOnly.size < this.maxBeaconOnly;
  }

  ingestInventory(inv: Inventory): void {
    if (this.closed) return;
    const now = this.now();
    const host = inv.host;
    const prev = this.inventories.get(host);
    const seen = new Set<string>();
    const touched = new Set<string>();
    for (const d of inv.domains) {
      const uuid = this.vms.has(d.uuid) ? d.uuid : (canonicalUuid(d.uuid) ?? d.uuid.toLowerCase());
      seen.add(uuid);
      const vm = this.vmOf(uuid);
      const old = vm.instances.get(host);
      // unchanged instances keep their (frozen, shared-with-rows) object; the host's scan time says when seen
      if (!old || !sameAsDomain(old, d)) {
        vm.instances.set(host, toInstance(host, d, now));
        touched.add(uuid);
      }
      if (!this.store.registration(uuid)) {
        this.requestRegistration(uuid, {
          uuid,
          name: d.name,
          macs: d.macs.map((m) => m.toLowerCase()),
          os: d.os,
          origin: 'scan',
          firstSeen: `scan of ${host}`,
        });
      }
    }
    if (prev) {
      for (const uuid of prev.uuids) {
        if (seen.has(uuid)) continue;
        this.vms.get(uuid)?.instances.delete(host);
        touched.add(uuid);
      }
    }
    this.inventories.set(host, { at: now, uuids: seen });
    if (this.recomputeFullScan()) this.fullScanMoved(now);
    // Migration checks depend on scan times, not only on changes.
    for (const w of this.windows.values()) touched.add(w.uuid);
    for (const m of this.moves.values()) if (m.source === host) touched.add(m.uuid);
    for (const uuid of touched) this.refreshVm(uuid, now);
    this.commit();
  }

  hostStatuses(statuses: HostStatus[]): void {
    const now = this.now();
    this.hostList = Object.freeze([...statuses]);
    const flipped: string[] = [];
    for (const s of statuses) {
      const was = this.hostUpMap.get(s.name);
      this.hostUpMap.set(s.name, s.up);
      if (was !== undefined && was !== s.up) flipped.push(s.name);
    }
    if (this.recomputeFullScan()) this.fullScanMoved(now);
    for (const h of flipped) for (const uuid of this.inventories.get(h)?.uuids ?? []) this.refreshVm(uuid, now);
    this.bump();
    this.commit();
  }

  beaconCounters(c: BeaconCounters & { perSecond: number }): void {
    this.counters = Object.freeze({ ...c });
    this.bump();
    this.commit();
  }

  /**
   * Time-based detectors (SILENT, PHANTOM, incident expiry); call every second. Only identities whose next
   * deadline has passed are re-evaluated (see schedule()), so a tick costs nothing in a quiet fleet.
   */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    const nowBucket = Math.floor(now / 1000);
    for (const [bucket, uuids] of this.due) {
      if (bucket > nowBucket) continue;
      this.due.delete(bucket);
      for (const uuid of uuids) {
        this.dueOf.delete(uuid);
        const vm = this.vms.get(uuid);
        if (!vm) continue;
        this.updateIpClaims(vm, false);
        this.evaluateVm(uuid, now);
        if (this.isForgettable(vm, now)) this.forgetVm(uuid);
      }
    }
    for (const subject of [...this.subjectKeys.keys()]) {
      if (subject.startsWith('mac:')) this.evaluateMac(subject.slice(4), now);
      else if (subject.startsWith('ip:')) this.evaluateIp(subject.slice(3), now);
    }
    this.sweepTallies(now);
    this.commit();
  }

  /** refresh the source tallies' findings (once a tick, not per datagram) and resolve those past their window */
  private sweepTallies(now: number): void {
    const { live, expired } = this.tallies.sweep(now);
    for (const d of live) this.raise(d, EMPTY, now);
    for (const key of expired) this.resolveKey(key, now);
    for (const [key, last] of this.carriedSources) {
      if (this.tallies.has(key)) this.carriedSources.delete(key);
      else if (now - Math.max(last, this.startedAt) > this.incidentWindowMs) {
        this.carriedSources.delete(key);
        this.resolveKey(key, now);
      }
    }
  }

  /** counters of what unauthenticated beacons cost (for `health`, metrics and the flood bench) */
  untrustedCounters(): { forged: number; untracked: number; requestsCapped: number; beaconOnly: number } {
    return { ...this.tallies.totals, requestsCapped: this.requestsCapped, beaconOnly: this.beaconOnly.size };
  }

  registryChanged(): void {
    const now = this.now();
    for (const r of this.store.registrations()) this.vmOf(r.uuid);
    for (const uuid of [...this.vms.keys()]) {
      this.evaluateVm(uuid, now);
      this.dirtyRows.add(uuid);
    }
    this.commit();
  }

  // ─── reads ─────────────────────────────────────────────────────────────────────────────────

  snapshot(): BillboardSnapshot {
    if (this.snap && this.snap.version === this.version) return this.snap;
    this.snap = Object.freeze({
      version: this.version,
      at: this.now(),
      rows: Object.freeze(this.rowList.slice()),
      findings: this.book.list(),
      hosts: this.hostList,
      beacons: this.counters,
    });
    return this.snap;
  }

  /**
   * A VM reference: a full UUID always wins; otherwise a name (exact, else case-insensitive) or a unique UUID
   * prefix. A reference that matches both a name and a UUID prefix is AMBIGUOUS, listing both, so that a VM
   * named like another VM's short UUID can never stand in for it.
   */
  resolveVm(ref: string): VmRow {
    const r = ref.trim();
    if (!r) throw new BillboardError('USAGE', 'expected a VM name, UUID or UUID prefix');
    const lower = r.toLowerCase();
    const full = canonicalUuid(r);
    const exact = full !== undefined ? this.rowIndex.get(full) : undefined;
    if (exact !== undefined) return this.rowList[exact];
    let named = this.rowList.filter((row) => row.name === r);
    if (named.length === 0) named = this.rowList.filter((row) => row.name.toLowerCase() === lower);
    const byPrefix = /^[0-9a-f-]+$/.test(lower) ? this.rowList.filter((row) => row.uuid.startsWith(lower)) : [];
    const shown = (rows: readonly VmRow[]): string => rows.slice(0, 5).map((x) => `${safeText(x.name, 64)} (${x.uuid})`).join(', ');
    const said = safeText(r, 80);
    if (named.length && byPrefix.some((p) => !named.includes(p))) {
      throw new BillboardError(
        'AMBIGUOUS',
        `"${said}" is the name of ${shown(named)} and a UUID prefix of ${shown(byPrefix)}: use the full UUID`,
      );
    }
    if (named.length === 1) return named[0];
    if (named.length > 1) throw new BillboardError('AMBIGUOUS', `${named.length} VMs are named "${said}": use a UUID (${shown(named)})`);
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) throw new BillboardError('AMBIGUOUS', `UUID prefix "${said}" matches ${byPrefix.length} VMs: type more of it`);
    throw new BillboardError('NOT_FOUND', `no VM "${said}" (try: vms)`);
  }

  findings(all = false): Finding[] {
    return all ? this.book.all() : [...this.book.list()];
  }

  async ack(id: string, actor: string, note?: string): Promise<Finding> {
    const f = this.book.byId(id);
    if (!f) throw new BillboardError('NOT_FOUND', `no finding ${id} (try: findings --all)`);
    if (f.state === 'resolved') throw new BillboardError('CONFLICT', `finding ${f.id} is already resolved`);
    await this.store.audit(actor, 'ack', f.id, { code: f.code, vm: f.vm, ...(note ? { note } : {}) });
    const acked = this.book.ack(f.id, actor, note);
    this.commit();
    return acked;
  }

  knownKey(uuid: string): string | undefined {
    const u = canonicalUuid(uuid);
    return u ? this.store.registration(u)?.publicKey : undefined;
  }

  /** What `approve` binds into the registry: the definition, home host and MACs seen by scan, the beacon's key. */
  bindingFor(uuid: string): Binding {
    const u = canonicalUuid(uuid) ?? uuid;
    const vm = this.vms.get(u);
    if (!vm) return { macs: [] };
    const all = [...vm.instances.values()];
    const live = all.filter((i) => ACTIVE_STATES.has(i.state));
    const pick = live.length ? live : all;
    const liveHosts = [...new Set(live.map((i) => i.host))];
    const macs = [...new Set(pick.flatMap((i) => i.macs))].sort();
    return {
      definitionHash: pick[0]?.definitionHash || undefined,
      homeHost: liveHosts.length === 1 ? liveHosts[0] : undefined,
      macs: macs.length ? macs : [...(vm.beacon?.macs ?? [])].sort(),
      publicKey: vm.beacon?.publicKey,
    };
  }

  lastBeacon(uuid: string): VmRow['lastBeacon'] {
    const i = this.rowIndex.get(canonicalUuid(uuid) ?? uuid);
    return i === undefined ? undefined : this.rowList[i].lastBeacon;
  }

  /** Resolves true as soon as pred(row) holds (checked now and on every change of that row), false on timeout. */
  waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean> {
    const u = canonicalUuid(uuid) ?? uuid;
    const cur = this.rowIndex.get(u);
    if (pred(cur === undefined ? undefined : this.rowList[cur])) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.rowWaiters.get(u);
      if (!set) this.rowWaiters.set(u, (set = new Set()));
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        set!.delete(check);
        if (set!.size === 0) this.rowWaiters.delete(u);
        resolve(ok);
      };
      const check = (row: VmRow | undefined): void => {
        if (pred(row)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      set.add(check);
    });
  }

  // ─── migration hooks ───────────────────────────────────────────────────────────────────────
  // The migration manager calls these around a job so the detectors know what is expected:
  // begin → the VM may be live on source and destination (no DUPLICATE_UUID / UNAUTHORIZED_MIGRATION);
  // commit → from now on a scan that shows it on the source is a MIGRATION_GHOST (critical);
  // end(completed) → the destination becomes an authorized place for it (until homeHost is re-bound).

  beginMigration(w: { job: string; uuid: string; source: string; destination: string }): void {
    const uuid = canonicalUuid(w.uuid) ?? w.uuid;
    this.windows.set(w.job, { job: w.job, uuid, source: w.source, destination: w.destination, startedAt: this.now() });
    this.vmOf(uuid);
    this.refreshVm(uuid, this.now());
    this.commit();
  }

  commitMigration(job: string): void {
    const w = this.windows.get(job);
    if (!w) return;
    w.committedAt = this.now();
    this.refreshVm(w.uuid, this.now());
    this.commit();
  }

  endMigration(job: string, outcome: 'completed' | 'failed' | 'aborted'): void {
    const w = this.windows.get(job);
    if (!w) return;
    this.windows.delete(job);
    if (outcome === 'completed') {
      this.moves.set(w.uuid, {
        job: w.job,
        uuid: w.uuid,
        source: w.source,
        destination: w.destination,
        committedAt: w.committedAt ?? this.now(),
      });
    }
    this.refreshVm(w.uuid, this.now());
    this.commit();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scans.close();
    await this.book.close();
  }

  // ─── evaluation ────────────────────────────────────────────────────────────────────────────

  private readonly hostUpFn = (h: string): boolean => this.hostUpMap.get(h) !== false;
  private readonly scannedAtFn = (h: string): number | undefined => this.inventories.get(h)?.at;

  private ctx(uuid: string, reg: Registration | undefined, now: number): DetectContext {
    let windows: readonly MigrationWindow[] = NO_WINDOWS;
    if (this.windows.size) windows = [...this.windows.values()].filter((w) => w.uuid === uuid);
    return {
      now,
      silentAfterMs: this.silentAfterMs,
      incidentWindowMs: this.incidentWindowMs,
      registration: reg,
      windows,
      lastMove: this.moves.size ? this.moves.get(uuid) : undefined,
      hostUp: this.hostUpFn,
      scannedAt: this.scannedAtFn,
      fullScanAt: this.fullScanAt,
    };
  }

  /** after an instance change: MAC and IP claims, then detectors */
  private refreshVm(uuid: string, now: number): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    const live = [...vm.instances.values()].some((i) => ACTIVE_STATES.has(i.state));
    if (!live) {
      vm.activeSince = undefined;
      this.notLive.add(uuid);
    } else {
      vm.activeSince ??= now;
      this.notLive.delete(uuid);
    }
    this.updateMacClaims(vm, now);
    this.updateIpClaims(vm, false);
    this.evaluateVm(uuid, now);
    this.dirtyRows.add(uuid);
    if (this.isForgettable(vm, now)) this.forgetVm(uuid);
  }

  private evaluateVm(uuid: string, now: number): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    const reg = this.store.registration(uuid);
    const ctx = this.ctx(uuid, reg, now);
    const subject = `vm:${uuid}`;
    const prev = this.subjectKeys.get(subject);
    let next: Set<string> | undefined;
    for (const detect of VM_DETECTORS) {
      const d = detect(vm, ctx);
      if (!d) continue;
      const key = this.raise(d, [uuid], now);
      (next ??= new Set()).add(key);
    }
    this.settle(subject, prev, next, now);
    this.dirtyRows.add(uuid);
    this.schedule(vm, now);
  }

  /** file the identity under the second of its next time-based deadline (silence, incident expiry) */
  private schedule(vm: VmState, now: number): void {
    let d = Infinity;
    const consider = (t: number): void => {
      if (t > now && t < d) d = t;
    };
    const lastHeard = Math.max(vm.beacon?.at ?? -Infinity, vm.activeSince ?? -Infinity);
    consider(lastHeard + this.silentAfterMs + 1);
    if (vm.beacon) consider(vm.beacon.at + this.incidentWindowMs + 1);
    for (const inc of [vm.forged, vm.replayed, vm.clone]) if (inc) consider(inc.at + this.incidentWindowMs + 1);
    const bucket = d === Infinity ? undefined : Math.ceil(d / 1000);
    const old = this.dueOf.get(vm.uuid);
    if (old === bucket) return;
    if (old !== undefined) {
      const set = this.due.get(old);
      set?.delete(vm.uuid);
      if (set?.size === 0) this.due.delete(old);
    }
    if (bucket === undefined) {
      this.dueOf.delete(vm.uuid);
      return;
    }
    let set = this.due.get(bucket);
    if (!set) this.due.set(bucket, (set = new Set()));
    set.add(vm.uuid);
    this.dueOf.set(vm.uuid, bucket);
  }

  /** PHANTOM and reloaded findings depend on "every up host scanned": re-judge them when that moves */
  private fullScanMoved(now: number): void {
    for (const uuid of this.notLive) if (this.vms.get(uuid)?.beacon) this.evaluateVm(uuid, now);
    for (const key of [...this.book.carried]) {
      const f = this.book.get(key);
      if (!f || isSourceKey(key)) continue;
      const subject = subjectOf(f);
      if (subject.startsWith('vm:')) this.evaluateVm(f.vm, now);
      else if (subject.startsWith('mac:')) this.evaluateMac(subject.slice(4), now);
      else if (subject.startsWith('ip:')) this.evaluateIp(subject.slice(3), now);
    }
  }

  private evaluateMac(mac: string, now: number): void {
    const claims = this.macIndex.get(mac);
    const subject = `mac:${mac}`;
    if ((claims?.size ?? 0) < 2 && !this.subjectKeys.has(subject)) return;
    const d = claims ? duplicateMac(mac, [...claims.values()]) : undefined;
    const next = d ? new Set([this.raise(d, [...new Set([...claims!.values()].map((c) => c.uuid))], now)]) : undefined;
    this.settle(subject, this.subjectKeys.get(subject), next, now);
  }

  private evaluateIp(ip: string, now: number): void {
    const claims = this.ipIndex.get(ip);
    const subject = `ip:${ip}`;
    if ((claims?.size ?? 0) < 2 && !this.subjectKeys.has(subject)) {
      this.ipFlips.delete(ip);
      return;
    }
    const d = claims ? ipConflict(ip, [...claims.values()], this.ipFlips.get(ip)?.flips ?? 0) : undefined;
    if (!d) this.ipFlips.delete(ip);
    const next = d ? new Set([this.raise(d, [...claims!.keys()], now)]) : undefined;
    this.settle(subject, this.subjectKeys.get(subject), next, now);
  }

  private raise(d: FindingDraft, uuids: readonly string[], now: number): string {
    const f = this.book.upsert(d, now);
    this.setInvolved(f.key, uuids);
    return f.key;
  }

  /** resolve the subject's keys that were not raised again; reloaded findings wait for a full scan after start */
  private settle(subject: string, prev: Set<string> | undefined, next: Set<string> | undefined, now: number): void {
    if (prev) {
      for (const key of prev) {
        if (next?.has(key)) continue;
        if (this.book.carried.has(key) && !(this.fullScanAt !== undefined && this.fullScanAt >= this.startedAt)) {
          (next ??= new Set()).add(key);
          continue;
        }
        this.resolveKey(key, now);
      }
    }
    if (next?.size) this.subjectKeys.set(subject, next);
    else this.subjectKeys.delete(subject);
  }

  private resolveKey(key: string, now: number): void {
    this.book.resolve(key, now);
    this.setInvolved(key, EMPTY);
    this.involved.delete(key);
    this.enforced.delete(key);
    const enf = this.subjectKeys.get(`enf:${key}`);
    if (enf) {
      this.subjectKeys.delete(`enf:${key}`);
      for (const k of enf) this.resolveKey(k, now);
    }
  }

  private setInvolved(key: string, uuids: readonly string[]): void {
    const old = this.involved.get(key) ?? EMPTY;
    if (old.length === uuids.length && old.every((u, i) => u === uuids[i])) return;
    for (const u of old) {
      if (uuids.includes(u)) continue;
      this.vmKeys.get(u)?.delete(key);
      this.dirtyRows.add(u);
    }
    for (const u of uuids) {
      let s = this.vmKeys.get(u);
      if (!s) this.vmKeys.set(u, (s = new Set()));
      s.add(key);
      this.dirtyRows.add(u);
    }
    this.involved.set(key, uuids);
  }

  private keysOf(subject: string): Set<string> {
    let s = this.subjectKeys.get(subject);
    if (!s) this.subjectKeys.set(subject, (s = new Set()));
    return s;
  }

  // ─── MAC / IP indexes ──────────────────────────────────────────────────────────────────────

  private updateMacClaims(vm: VmState, now: number): void {
    const next: string[] = [];
    for (const i of vm.instances.values()) {
      if (!ACTIVE_STATES.has(i.state) || this.hostUpMap.get(i.host) === false) continue;
      for (const m of i.macs) next.push(`${m}\t${i.host}`);
    }
    next.sort();
    if (sameList(next, vm.activeMacs)) return;
    const dirty = new Set<string>();
    const claimKey = (e: string): string => `${vm.uuid}\t${e.slice(e.indexOf('\t') + 1)}`;
    for (const e of vm.activeMacs) {
      const mac = e.slice(0, e.indexOf('\t'));
      const m = this.macIndex.get(mac);
      m?.delete(claimKey(e));
      if (m && m.size === 0) this.macIndex.delete(mac);
      dirty.add(mac);
    }
    const name = displayName(vm, this.store.registration(vm.uuid));
    for (const e of next) {
      const tab = e.indexOf('\t');
      const mac = e.slice(0, tab);
      let m = this.macIndex.get(mac);
      if (!m) this.macIndex.set(mac, (m = new Map()));
      m.set(claimKey(e), { uuid: vm.uuid, name, host: e.slice(tab + 1) });
      dirty.add(mac);
    }
    vm.activeMacs = next;
    for (const mac of dirty) this.evaluateMac(mac, now);
  }

  /** what this identity claims now: its recent beacon's IPs, else the IPs scans saw on its live instances */
  private updateIpClaims(vm: VmState, fromBeacon: boolean): void {
    const now = this.now();
    const recent = vm.beacon !== undefined && now - vm.beacon.at <= this.silentAfterMs;
    const liveOf = (): InstanceState[] =>
      [...vm.instances.values()].filter((i) => ACTIVE_STATES.has(i.state) && this.hostUpMap.get(i.host) !== false);
    let live: InstanceState[] | undefined;
    const next = recent ? vm.beacon!.ips : [...new Set((live = liveOf()).flatMap((i) => cleanIps(i.ips)))].sort();
    if (sameList(next, vm.claimedIps) && (!fromBeacon || next.length === 0)) return;
    const dirty = new Set<string>();
    if (!sameList(next, vm.claimedIps)) {
      live ??= liveOf();
      for (const ip of vm.claimedIps) {
        const m = this.ipIndex.get(ip);
        m?.delete(vm.uuid);
        if (m && m.size === 0) this.ipIndex.delete(ip);
        dirty.add(ip);
      }
      const name = displayName(vm, this.store.registration(vm.uuid));
      const source = recent ? `beacon from ${vm.beacon!.from}` : `scan of ${[...new Set(live.map((i) => i.host))].join(', ')}`;
      const hosts = [...new Set(live.map((i) => i.host))].sort();
      for (const ip of next) {
        let m = this.ipIndex.get(ip);
        if (!m) this.ipIndex.set(ip, (m = new Map()));
        m.set(vm.uuid, { uuid: vm.uuid, name, source, hosts });
        dirty.add(ip);
      }
      vm.claimedIps = next;
      this.dirtyRows.add(vm.uuid);
    }
    if (fromBeacon) {
      // arpwatch-style flip-flop: count each time a contested IP's latest claimant changes
      for (const ip of next) {
        if ((this.ipIndex.get(ip)?.size ?? 0) < 2) continue;
        const f = this.ipFlips.get(ip);
        if (!f) this.ipFlips.set(ip, { last: vm.uuid, flips: 1 });
        else if (f.last !== vm.uuid) {
          f.last = vm.uuid;
          f.flips++;
          dirty.add(ip);
        }
      }
    }
    for (const ip of dirty) this.evaluateIp(ip, now);
  }

  /** @returns whether fullScanAt moved */
  private recomputeFullScan(): boolean {
    const before = this.fullScanAt;
    const names = this.hostList.length ? this.hostList.map((h) => h.name) : [...this.inventories.keys()];
    let min: number | undefined;
    let complete = names.length > 0;
    for (const h of names) {
      if (this.hostUpMap.get(h) === false) continue;
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

  // ─── registration requests and enforcement ─────────────────────────────────────────────────

  private requestRegistration(uuid: string, reg: Parameters<StoreApi['register']>[0]): void {
    if (this.requesting.has(uuid)) return;
    const now = this.now();
    if (reg.origin === 'beacon' && this.pendingBeaconRequests(now) >= this.maxBeaconRequests) {
      if (this.requestsCapped++ % 1000 === 0) {
        this.log?.warn({ uuid, cap: this.maxBeaconRequests, total: this.requestsCapped }, 'registration request not opened: too many beacon requests pending');
      }
      return;
    }
    // a name that breaks the rule (hostile, or reads as a UUID) is not carried into the registry
    if (nameProblem(reg.name)) reg = { ...reg, name: `vm-${uuid.slice(0, 8)}` };
    this.requestTokens = Math.min(
      this.autoRequestsPerSec * 10,
      this.requestTokens + ((now - this.requestTokensAt) / 1000) * this.autoRequestsPerSec,
    );
    this.requestTokensAt = now;
    if (this.requestTokens < 1) return; // asked again the next time it is seen
    this.requestTokens--;
    this.requesting.add(uuid);
    this.store
      .register(reg, 'system')
      .then(
        () => this.log?.info({ uuid, origin: reg.origin, firstSeen: reg.firstSeen }, 'registration request created'),
        (e: unknown) => {
          if (!(e instanceof BillboardError && e.code === 'CONFLICT')) {
            this.log?.warn({ uuid, err: errorLine(e) }, 'registration request failed');
          }
        },
      )
      .finally(() => {
        this.requesting.delete(uuid);
        if (reg.origin === 'beacon') this.beaconRequests.at = -Infinity; // recount
        if (this.closed) return;
        this.evaluateVm(uuid, this.now());
        this.commit();
      });
  }

  /** pending requests opened by beacons (recounted at most once a second; requests are rate-limited anyway) */
  private pendingBeaconRequests(now: number): number {
    if (now - this.beaconRequests.at >= 1000) {
      let n = 0;
      for (const r of this.store.registrations()) if (r.state === 'pending' && r.origin === 'beacon') n++;
      this.beaconRequests = { count: n + this.requesting.size, at: now };
    }
    return this.beaconRequests.count;
  }

  private onFinding(f: Finding, change: FindingChange): void {
    this.emit('finding', f);
    if (change === 'resolved' || change === 'acked') return;
    if (enforceable(f) && this.opts.enforcement !== 'ask') this.enforceFor(f);
  }

  /**
   * Automatic enforcement, only for critical findings that rest on scan or authenticated evidence, on identities
   * the operator has not approved (unknown, pending, rejected, revoked). An approved VM is never touched without
   * the operator; approval is checked again at the moment of acting (runEnforcement).
   */
  private enforceFor(f: Finding): void {
    const action = this.opts.enforcement as 'stop' | 'isolate';
    const reg = this.store.registration(f.vm);
    if (reg?.state === 'approved') return;
    const vm = this.vms.get(f.vm);
    if (!vm) return;
    let done = this.enforced.get(f.key);
    for (const i of vm.instances.values()) {
      if (!ACTIVE_STATES.has(i.state) || this.hostUpMap.get(i.host) === false) continue;
      if (done?.has(i.host)) continue;
      if (!done) this.enforced.set(f.key, (done = new Set()));
      done.add(i.host);
      void this.runEnforcement(action, f, i.host);
    }
  }

  private async runEnforcement(action: 'stop' | 'isolate', f: Finding, host: string): Promise<void> {
    const reason = `${f.code} ${f.id}: ${f.evidence}`;
    // Checked at the moment of acting: an operator may have approved the VM, or the cause cleared, since the
    // finding was raised.
    const warranted = (): boolean => {
      const cur = this.book.get(f.key);
      return !this.closed && this.store.registration(f.vm)?.state !== 'approved' && !!cur && enforceable(cur);
    };
    let error: string | undefined;
    let acted = false;
    try {
      if (!this.opts.enforce) throw new Error('no enforcement driver is wired');
      acted = warranted() && (await this.opts.enforce(action, f.vm, host, reason, warranted));
    } catch (e) {
      error = errorLine(e);
    }
    if (!error && !acted) {
      this.enforced.get(f.key)?.delete(host);
      this.log?.info({ uuid: f.vm, host, action, finding: f.id }, 'enforcement skipped: no longer warranted');
      await this.store.audit('policy', action, f.vm, { host, finding: f.id, code: f.code, result: 'skipped' }).catch(() => {});
      return;
    }
    try {
      await this.store.audit('policy', action, f.vm, {
        host,
        finding: f.id,
        code: f.code,
        result: error ? 'failed' : 'ok',
        ...(error ? { error } : {}),
      });
    } catch (e) {
      this.log?.warn({ uuid: f.vm, host, err: errorLine(e) }, 'auditing an enforcement action failed');
    }
    if (this.closed) return;
    if (error) {
      this.log?.warn({ uuid: f.vm, host, action, err: error }, 'enforcement failed');
      if (!this.book.get(f.key)) return; // resolved meanwhile
      const key = this.raise(
        {
          code: f.code,
          severity: 'critical',
          key: `${f.key}:enforce:${host}`,
          vm: f.vm,
          vmName: f.vmName,
          hosts: [host],
          evidence: `enforcement failed: ${action} ${f.vmName ?? f.vm} on ${host}: ${error}`,
        },
        [f.vm],
        this.now(),
      );
      this.keysOf(`enf:${f.key}`).add(key);
    } else {
      this.log?.info({ uuid: f.vm, host, action, finding: f.id }, 'enforcement applied');
    }
    this.commit();
  }

  private incident(cur: BeaconIncident | undefined, now: number, from: string, reason: string, authenticated: boolean): BeaconIncident {
    const fresh = cur && now - cur.at <= this.incidentWindowMs;
    return { at: now, from, reason, count: fresh ? cur.count + 1 : 1, authenticated: fresh ? cur.authenticated || authenticated : authenticated };
  }

  // ─── table ─────────────────────────────────────────────────────────────────────────────────

  private vmOf(uuid: string): VmState {
    let vm = this.vms.get(uuid);
    if (!vm) {
      vm = { uuid, instances: new Map(), claimedIps: [], activeMacs: [] };
      this.vms.set(uuid, vm);
      this.notLive.add(uuid);
      this.dirtyRows.add(uuid);
    }
    return vm;
  }

  private isForgettable(vm: VmState, now: number): boolean {
    return (
      vm.instances.size === 0 &&
      (!vm.beacon || now - vm.beacon.at > this.incidentWindowMs) &&
      (!vm.forged || now - vm.forged.at > this.incidentWindowMs) &&
      (!vm.replayed || now - vm.replayed.at > this.incidentWindowMs) &&
      !this.vmKeys.get(vm.uuid)?.size &&
      !this.store.registration(vm.uuid) &&
      !this.requesting.has(vm.uuid) &&
      ![...this.windows.values()].some((w) => w.uuid === vm.uuid)
    );
  }

  private forgetVm(uuid: string): void {
    const vm = this.vms.get(uuid);
    if (!vm) return;
    for (const ip of vm.claimedIps) this.ipIndex.get(ip)?.delete(uuid);
    this.vms.delete(uuid);
    this.notLive.delete(uuid);
    this.moves.delete(uuid);
    const bucket = this.dueOf.get(uuid);
    if (bucket !== undefined) this.due.get(bucket)?.delete(uuid);
    this.dueOf.delete(uuid);
    this.vmKeys.delete(uuid);
    this.subjectKeys.delete(`vm:${uuid}`);
    this.dirtyRows.add(uuid);
  }

  private buildRow(uuid: string): VmRow | undefined {
    const vm = this.vms.get(uuid);
    if (!vm) return undefined;
    const reg = this.store.registration(uuid);
    const findings: Finding[] = [];
    for (const k of this.vmKeys.get(uuid) ?? []) {
      const f = this.book.get(k);
      if (f) findings.push(f);
    }
    const instances: VmInstance[] = [...vm.instances.values()];
    const live = instances.some((i) => ACTIVE_STATES.has(i.state));
    const b = vm.beacon;
    const migrating = this.windows.size > 0 && [...this.windows.values()].some((w) => w.uuid === uuid);
    return Object.freeze({
      uuid,
      name: displayName(vm, reg),
      instances,
      lastBeacon: b
        ? { at: b.receivedAt, from: b.from, bootId: b.bootId, seq: b.seq, ips: b.ips, macs: b.macs, os: b.os, keyFp: b.keyFp }
        : undefined,
      registration: reg?.state,
      os: b?.os || reg?.os,
      // shown: what it claims; an agent that reports no address still has the ones its hosts see
      ips: vm.claimedIps.length ? vm.claimedIps : [...new Set(instances.filter((i) => ACTIVE_STATES.has(i.state)).flatMap((i) => i.ips))],
      openFindings: findings.length,
      worstSeverity: worstSeverity(findings),
      status: deriveStatus({ registration: reg?.state, findings, migrating, live }),
    });
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

  /** rebuild dirty rows, bump the version if anything changed, wake waiters */
  private commit(): void {
    if (this.dirtyRows.size === 0) {
      if (this.snap && this.book.list() !== this.snap.findings) this.bump();
      return;
    }
    const changed: [string, VmRow | undefined][] = [];
    for (const uuid of this.dirtyRows) {
      const row = this.buildRow(uuid);
      const idx = this.rowIndex.get(uuid);
      if (row) {
        if (idx === undefined) {
          this.rowIndex.set(uuid, this.rowList.length);
          this.rowList.push(row);
        } else this.rowList[idx] = row;
      } else if (idx !== undefined) {
        const last = this.rowList.pop()!;
        if (last.uuid !== uuid) {
          this.rowList[idx] = last;
          this.rowIndex.set(last.uuid, idx);
        }
        this.rowIndex.delete(uuid);
      } else continue;
      if (this.rowWaiters.has(uuid)) changed.push([uuid, row]);
    }
    this.dirtyRows.clear();
    this.bump();
    for (const [uuid, row] of changed) for (const w of [...(this.rowWaiters.get(uuid) ?? [])]) w(row);
  }
}

// ─── helpers ───────────────────────────────────────────────────────────────────────────────────

/** Automatic enforcement acts only on critical findings about one VM that rest on scan or authenticated evidence. */
function enforceable(f: Finding): boolean {
  return f.severity === 'critical' && !!f.vm && !f.key.includes(':enforce:') && f.evidenceSource !== 'unauthenticated';
}

function subjectOf(f: Finding): string {
  if (isSourceKey(f.key)) return `src:${f.key}`;
  const enf = f.key.indexOf(':enforce:');
  if (enf >= 0) return `enf:${f.key.slice(0, enf)}`;
  if (f.code === 'DUPLICATE_MAC') return `mac:${f.key.slice('DUPLICATE_MAC:'.length)}`;
  if (f.code === 'IP_CONFLICT') return `ip:${f.key.slice('IP_CONFLICT:'.length)}`;
  return `vm:${f.vm}`;
}

function keyMismatch(reg: Registration, ev: BeaconEvent): boolean {
  if (!reg.publicKey) return false; // registered without a key: nothing to compare against yet
  if (ev.publicKey) return ev.publicKey !== reg.publicKey;
  const fp = reg.keyFp ?? keyFingerprint(reg.publicKey);
  return ev.beacon.keyFp !== fp;
}

function toInstance(host: string, d: DomainInfo, now: number): InstanceState {
  return Object.freeze({
    host,
    state: d.state,
    name: d.name,
    macs: d.macs.map((m) => m.toLowerCase()),
    ips: d.ips,
    definitionHash: d.definitionHash,
    memoryKiB: d.memoryKiB,
    vcpus: d.vcpus,
    scannedAt: now,
  });
}

function sameAsDomain(a: InstanceState, d: DomainInfo): boolean {
  return (
    a.state === d.state &&
    a.name === d.name &&
    a.definitionHash === d.definitionHash &&
    a.memoryKiB === d.memoryKiB &&
    a.vcpus === d.vcpus &&
    sameList(a.macs, d.macs) &&
    sameList(a.ips, d.ips)
  );
}

/** drop addresses every guest has (loopback, link-local, unspecified): they prove nothing about identity */
function cleanIps(ips: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const raw of ips ?? []) {
    const ip = String(raw).toLowerCase().replace(/\/\d+$/, '');
    if (!ip || ip.startsWith('127.') || ip === '::1' || ip === '::' || ip === '0.0.0.0') continue;
    if (ip.startsWith('169.254.') || ip.startsWith('fe80:')) continue;
    out.push(ip);
  }
  return out.length > 1 ? [...new Set(out)].sort() : out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function short(id: string): string {
  return id.slice(0, 8);
}
