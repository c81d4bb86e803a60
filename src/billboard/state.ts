import { LIVE_STATES } from '../model/domain-states.js';
import { nameProblem } from '../model/text.js';
import type { DomainState, EvidenceSource, FindingCode, Registration, Severity, VmInstance } from '../model/types.js';

// The joined state the detectors read. The engine owns and mutates it; detectors only read it
// (they receive it as readonly) and return FindingDrafts. Times here are the engine's clock (opts.now).

/** Domain states in which a guest is live: model/domain-states.ts says which and why. */
export const ACTIVE_STATES: ReadonlySet<DomainState> = LIVE_STATES;

export interface InstanceState extends VmInstance {
  /** engine time of the scan that first reported it in this form (the host's latest scan time is ctx.scannedAt) */
  scannedAt: number;
  /** engine time of the first scan of its current run on this host (running without a break), while it runs */
  runningSince?: number;
  /** the libosinfo id its definition carries, if any (never <os><type>: see hosts/domain-xml.ts) */
  os?: string;
}

/** The last beacon with a good signature (valid / unknown-key / clone-suspect) for one identity. */
export interface BeaconSeen {
  at: number;
  receivedAt: number;
  from: string;
  bootId: string;
  seq: number;
  ips: string[];
  macs: string[];
  os: string;
  keyFp: string;
  name: string;
  publicKey?: string;
  /** start of the current uninterrupted beacon stream (reset after a gap longer than the silent window) */
  since: number;
}

/** A remembered suspicious beacon (forged / replayed / clone): its finding lasts while these are recent. */
export interface BeaconIncident {
  at: number;
  from: string;
  reason: string;
  count: number;
  /** some beacon of this incident carried the identity's registered key (a key holder produced it) */
  authenticated: boolean;
}

export interface VmState {
  uuid: string;
  /** host → what its last scan said */
  instances: Map<string, InstanceState>;
  beacon?: BeaconSeen;
  /** the boot before the current one, to notice two boot ids interleaving */
  prevBoot?: { bootId: string; from: string; at: number };
  /** engine time the VM was first seen active by a scan in its current active streak */
  activeSince?: number;
  forged?: BeaconIncident;
  replayed?: BeaconIncident;
  clone?: BeaconIncident;
  /** IPs this identity claims right now (beacon when recent, else scan) */
  claimedIps: string[];
  /** MACs of active, current instances */
  activeMacs: string[];
}

export interface MigrationWindow {
  job: string;
  uuid: string;
  source: string;
  destination: string;
  startedAt: number;
  committedAt?: number;
  /** engine time of the first scan after commitment that showed the source no longer running it (the ghost window closed) */
  dischargedAt?: number;
}

/**
 * A completed migration, remembered so the move is not "unauthorized", and, until a scan shows the source
 * discharged, a leftover on the source is a ghost.
 */
export interface CompletedMove {
  job: string;
  uuid: string;
  source: string;
  destination: string;
  committedAt: number;
  /** as in MigrationWindow: once set, a later appearance on the source is no ghost of this move */
  dischargedAt?: number;
}

/** Everything besides the VM itself that a per-VM detector may look at. */
export interface DetectContext {
  now: number;
  /** no beacon for this long (intervalS × missedBeforeSilent) = silent */
  silentAfterMs: number;
  /** how long a forged/replayed/clone incident keeps its finding open */
  incidentWindowMs: number;
  registration?: Registration;
  /** active migration windows of this VM */
  windows: readonly MigrationWindow[];
  lastMove?: CompletedMove;
  /** is this host up (unknown hosts count as up) */
  hostUp(host: string): boolean;
  /** time of the most recent scan of `host` (engine clock), undefined if never scanned */
  scannedAt(host: string): number | undefined;
  /** oldest last-scan time across all up hosts, undefined until every up host was scanned once */
  fullScanAt?: number;
}

/** What a detector returns; the engine turns it into a Finding (dedupe, id, timestamps, state). */
export interface FindingDraft {
  code: FindingCode;
  severity: Severity;
  /** dedupe key; default `${code}:${vm}` */
  key?: string;
  vm: string;
  vmName?: string;
  hosts: string[];
  evidence: string;
  /** default 'scan' */
  evidenceSource?: EvidenceSource;
}

export type VmDetector = (vm: Readonly<VmState>, ctx: DetectContext) => FindingDraft | undefined;

/** Active instances on hosts that are up (a down host's last report is kept for the table, not as evidence). */
export function currentActive(vm: Readonly<VmState>, ctx: Pick<DetectContext, 'hostUp'>): InstanceState[] {
  const out: InstanceState[] = [];
  for (const i of vm.instances.values()) if (ACTIVE_STATES.has(i.state) && ctx.hostUp(i.host)) out.push(i);
  return out;
}

/** Active instances including those last reported by hosts now down. */
export function anyActive(vm: Readonly<VmState>): InstanceState[] {
  const out: InstanceState[] = [];
  for (const i of vm.instances.values()) if (ACTIVE_STATES.has(i.state)) out.push(i);
  return out;
}

export function displayName(vm: Readonly<VmState>, reg?: Registration): string {
  if (reg) return reg.name;
  if (vm.beacon) return vm.beacon.name;
  for (const i of vm.instances.values()) return shownName(i.name);
  return vm.uuid;
}

/**
 * A name as the tables show it. A host may name a domain anything; one that breaks the name rule (reads as a
 * UUID or UUID prefix, holds quotes or invisible characters) is shown in «», so it cannot pass for another VM's
 * UUID on screen (actions go by UUID anyway).
 */
function shownName(name: string): string {
  return nameProblem(name) ? `«${name}»` : name;
}

export function beaconRecent(vm: Readonly<VmState>, ctx: DetectContext): boolean {
  return vm.beacon !== undefined && ctx.now - vm.beacon.at <= ctx.silentAfterMs;
}

/** absolute time for evidence text (relative times would change the evidence, and so the finding, every tick) */
export function at(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
