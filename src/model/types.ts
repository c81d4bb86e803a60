// Plain types shared by every layer. Nothing here does I/O; nothing here imports from another layer.
// Data flows beacon/ + hosts/ → billboard/ + migration/ → console/ → tui/ + cli/ (see DESIGN.md).

// ─── Hosts (hosts/ produces these) ────────────────────────────────────────────────────────────────

export type DomainState = 'running' | 'paused' | 'shutoff' | 'shutdown' | 'crashed' | 'pmsuspended' | 'blocked' | 'unknown';

export interface DomainInterface {
  /** lower-case, colon separated */
  mac: string;
  /** tap device / target name when libvirt knows it */
  target?: string;
  /** interface type: network, bridge, user, ... */
  type?: string;
  /** link state from <link state=…/>; absent means up */
  link?: 'up' | 'down';
  ips: string[];
}

export interface DomainInfo {
  uuid: string; // lower-case canonical 8-4-4-4-12
  name: string;
  state: DomainState;
  vcpus: number;
  memoryKiB: number;
  /** every NIC's MAC, lower-case */
  macs: string[];
  interfaces: DomainInterface[];
  /** all IPs libvirt knows (domifaddr lease/agent/arp), flattened */
  ips: string[];
  /** OS metadata if present (libosinfo metadata or <os><type>) */
  os?: string;
  arch?: string;
  disks: string[];
  /** SHA-256 hex of the normalized domain XML (volatile parts stripped) */
  definitionHash: string;
  /** the same under the first normal form (which kept <cpu> expansions and device addresses): approvals made before
   *  the current form bound this one, and still match a definition nobody changed */
  legacyDefinitionHash?: string;
  /** the same under the second form (which kept what libvirt fills in at start on <graphics> listens and on a unix
   *  channel defined without a path), where it differs: bindings made under it still match a definition nobody changed */
  previousDefinitionHash?: string;
  /** the hash of a running domain's saved definition when it differs from the running one: a `virsh edit` or `virsh
   *  define` that applies at its next start. Read by one-domain rescans (a `Defined` event asks for one) */
  savedDefinitionHash?: string;
  /** the scan asked for the saved definition of this running domain and could not read it: what was known stands */
  savedDefinitionUnread?: true;
  /** true when the domain has devices that cannot migrate (host passthrough, local-only) */
  localOnlyDevices?: string[];
  persistent?: boolean;
}

export interface NodeInfo {
  cpus: number;
  cpuModel?: string;
  arch?: string;
  memoryKiB: number;
  freeMemoryKiB: number;
  /** how freeMemoryKiB was obtained when it is not the hypervisor's own figure (shown wherever the figure is) */
  freeMemoryNote?: string;
}

export interface Inventory {
  host: string;
  /** ms since epoch when the scan completed */
  at: number;
  durationMs: number;
  domains: DomainInfo[];
  node?: NodeInfo;
  /** a rescan of these domains alone after their events (the others are the last full scan's) */
  targeted?: string[];
  /** the host's admission hook as the scan found it (absent: the driver cannot tell) */
  admissionHook?: AdmissionHookSeen;
}

/**
 * /etc/libvirt/hooks/qemu on a host: its sha256 when present and executable; 'missing' (no file), 'not-executable'
 * (libvirt skips it), or 'unknown' (a driver or host that cannot tell: a libvirt-driver or test:/// host, an
 * unreadable file). Only the first two are evidence of a bypass.
 */
export type AdmissionHookSeen =
  | { state: 'present'; sha256: string; settings?: AdmissionHookSettings }
  | { state: 'missing' | 'not-executable' | 'unknown'; detail?: string };

/** what a host's hook does when the service does not answer in timeoutS, per its settings file; or why it refuses all */
export type AdmissionHookSettings = { unreachable: 'allow' | 'deny'; timeoutS: number } | { problem: string };

export interface HostStatus {
  name: string;
  driver: 'ssh' | 'libvirt';
  /** address:port for ssh, uri for libvirt */
  target: string;
  up: boolean;
  /** never scanned yet */
  unknown?: boolean;
  lastScanAt?: number;
  lastScanMs?: number;
  lastError?: string;
  consecutiveFailures: number;
  nextRetryAt?: number;
  domains: number;
  running: number;
  node?: NodeInfo;
  /** the host's domain event stream: on (flowing), off (down, restarting), or unavailable (polled only; eventsNote says why) */
  events?: 'on' | 'off' | 'unavailable';
  eventsNote?: string;
  eventsReceived?: number;
  lastEventAt?: number;
  /** the last event, one line */
  lastEvent?: string;
  /** times the stream was restarted after it dropped */
  streamRestarts?: number;
  /** the poll interval in force (slower while events flow) */
  pollIntervalMs?: number;
  /** the admission hook its last scan saw (absent where a scan cannot tell) */
  admissionHook?: AdmissionHookSeen;
}

// ─── Migration job stats (hosts/ reads them, migration/ interprets) ────────────────────────────

export interface JobStats {
  /** ms since epoch when sampled */
  at: number;
  /** libvirt job type: none/bounded/unbounded/completed/failed/cancelled */
  type: string;
  operation?: string;
  elapsedMs?: number;
  dataProcessedBytes?: number;
  dataRemainingBytes?: number;
  dataTotalBytes?: number;
  memoryProcessedBytes?: number;
  memoryRemainingBytes?: number;
  memoryTotalBytes?: number;
  /** bytes per second */
  bandwidthBps?: number;
  /** bytes per second of dirtied memory */
  dirtyRateBps?: number;
  pageSize?: number;
  iteration?: number;
  expectedDowntimeMs?: number;
  totalDowntimeMs?: number;
  /** where the figures come from: libvirt's domjobinfo, libvirt's job-completed event, or the demo's pre-copy model */
  source?: 'libvirt' | 'libvirt-event' | 'simulated';
}

export interface MigrateOptions {
  bandwidthMiBs?: number;
  maxDowntimeMs?: number;
  transport: 'tls' | 'tunnelled' | 'direct';
  /** destination libvirt URI as seen from the source host */
  destUri: string;
  persistent?: boolean;
  undefineSource?: boolean;
}

// ─── Beacons (beacon/ produces these) ──────────────────────────────────────────────────────────

export interface BeaconPayload {
  v: number;
  uuid: string;
  name: string;
  macs: string[];
  ips: string[];
  os: string;
  hostname: string;
  bootId: string;
  seq: number;
  /** ms since epoch, as claimed by the agent */
  ts: number;
  /** SHA-256 fingerprint of the agent's Ed25519 public key, "SHA256:<base64>" */
  keyFp: string;
}

export type BeaconVerdict = 'valid' | 'unknown-key' | 'bad-signature' | 'replay' | 'clone-suspect';

/** Every datagram class the listener counts. */
export type BeaconClass = BeaconVerdict | 'malformed' | 'rate-limited' | 'overload';

export interface BeaconEvent {
  verdict: BeaconVerdict;
  /** present for every verdict except bad-signature on an unparseable key */
  beacon: BeaconPayload;
  /** base64 of the raw 32-byte Ed25519 public key, when the datagram carried or the session knows it */
  publicKey?: string;
  from: { address: string; port: number };
  /** ms since epoch at the listener */
  receivedAt: number;
  /** why, for anything other than valid */
  reason?: string;
}

export type BeaconCounters = Record<BeaconClass, number> & { received: number };

/** Counters before the first beacon (and where no listener runs). */
export const NO_BEACON_COUNTERS: Readonly<BeaconCounters & { perSecond: number }> = Object.freeze({
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

// ─── Registry and audit (store/ keeps these) ───────────────────────────────────────────────────

export type RegistrationState = 'pending' | 'approved' | 'rejected' | 'revoked';

export interface Registration {
  uuid: string;
  name: string;
  /** base64 raw Ed25519 public key; absent for agentless VMs */
  publicKey?: string;
  keyFp?: string;
  /** the key came from a beacon after the request was made: approve binds it only once its fingerprint is confirmed */
  keyLearned?: boolean;
  macs: string[];
  os?: string;
  homeHost?: string;
  /** definitionHash bound at approval */
  definitionHash?: string;
  state: RegistrationState;
  /** where the request came from */
  origin: 'operator' | 'beacon' | 'scan' | 'admission';
  /** where/what first saw it, e.g. "beacon from 10.0.0.5" or "scan of lab-b" */
  firstSeen?: string;
  createdAt: number;
  createdBy: string;
  decidedAt?: number;
  decidedBy?: string;
  /** note on approve, reason on reject/revoke */
  reason?: string;
}

export interface AuditEntry {
  seq: number;
  /** ISO-8601 */
  time: string;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

// ─── Findings (billboard/ raises these) ─────────────────────────────────────────────────────────

export const FINDING_CODES = [
  'DUPLICATE_UUID',
  'DUPLICATE_MAC',
  'IP_CONFLICT',
  'UNREGISTERED',
  'FORGED_BEACON',
  'REPLAYED_BEACON',
  'SILENT',
  'PHANTOM',
  'UNAUTHORIZED_MIGRATION',
  'DEFINITION_DRIFT',
  'MIGRATION_GHOST',
  'ADMISSION_BYPASSED',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export type Severity = 'critical' | 'high' | 'medium' | 'low';
export const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export type FindingState = 'open' | 'acked' | 'resolved';

export type EvidenceSource = 'scan' | 'authenticated' | 'unauthenticated';

export interface Finding {
  /** stable: F-<n> */
  id: string;
  /** dedupe key: code + subject (e.g. DUPLICATE_UUID:uuid) */
  key: string;
  code: FindingCode;
  severity: Severity;
  /** VM uuid the finding is about ('' when about a MAC/IP shared by several) */
  vm: string;
  vmName?: string;
  hosts: string[];
  evidence: string;
  /**
   * What the finding rests on: a scan of a host, a beacon under the identity's registered key, or evidence no
   * key holder had to produce (a bad signature, a replay, an unregistered key). Automatic enforcement and the
   * migration pre-check act only on the first two. Absent on findings saved before it existed: read as 'scan'.
   */
  evidenceSource?: EvidenceSource;
  firstSeen: number;
  lastSeen: number;
  count: number;
  state: FindingState;
  ackedBy?: string;
  note?: string;
  resolvedAt?: number;
}

// ─── Migration jobs (migration/ runs these) ─────────────────────────────────────────────────────

export const MIGRATION_STAGES = [
  'pre-migration',
  'reservation',
  'iterative-pre-copy',
  'stop-and-copy',
  'commitment',
  'activation',
] as const;
export type MigrationStage = (typeof MIGRATION_STAGES)[number];
export type JobTerminal = 'completed' | 'failed' | 'aborted' | 'denied';
export type JobState = 'awaiting-authorization' | MigrationStage | JobTerminal;

export interface PreCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface MigrationJob {
  id: string;
  vm: string; // uuid
  vmName: string;
  source: string;
  destination: string;
  state: JobState;
  requestedBy: string;
  requestedAt: number;
  authorizedBy?: string;
  authorizedAt?: number;
  bandwidthMiBs?: number;
  maxDowntimeMs?: number;
  transport: 'tls' | 'tunnelled' | 'direct';
  checks: PreCheck[];
  stages: { stage: MigrationStage; enteredAt: number; leftAt?: number }[];
  lastStats?: JobStats;
  /** the latest convergence estimate for lastStats (what the TUI shows and can apply with one key) */
  convergence?: ConvergenceEstimate;
  /** the demo's pre-copy model drove this job, not libvirt */
  simulated?: boolean;
  result?: string;
  error?: string;
  endedAt?: number;
}

export type MigrationEvent =
  | { type: 'stage'; job: string; stage: JobState; at: number; detail?: string }
  | { type: 'progress'; job: string; stats: JobStats; convergence?: ConvergenceEstimate }
  | { type: 'end'; job: string; state: JobTerminal; at: number; detail?: string };

export interface ConvergenceEstimate {
  converges: boolean;
  /** human sentence */
  advice: string;
  suggestedBandwidthMiBs?: number;
  suggestedMaxDowntimeMs?: number;
}

// ─── The live table (billboard/ keeps it, views read snapshots) ────────────────────────────────

export type VmStatus =
  'ok' | 'pending' | 'unregistered' | 'suspect' | 'ghost' | 'silent' | 'migrating' | 'rejected' | 'revoked' | 'stopped';

export interface VmInstance {
  host: string;
  state: DomainState;
  name: string;
  macs: string[];
  ips: string[];
  definitionHash: string;
  /** see DomainInfo.legacyDefinitionHash */
  legacyDefinitionHash?: string;
  /** see DomainInfo.previousDefinitionHash */
  previousDefinitionHash?: string;
  /** see DomainInfo.savedDefinitionHash */
  savedDefinitionHash?: string;
  memoryKiB: number;
  vcpus: number;
}

export interface VmRow {
  uuid: string;
  name: string;
  instances: VmInstance[];
  lastBeacon?: {
    at: number;
    from: string;
    bootId: string;
    seq: number;
    ips: string[];
    macs: string[];
    os: string;
    keyFp: string;
  };
  /** the boot before the last beacon's, when the agent's boot id changed (a reboot, or a clone answering too) */
  previousBoot?: { bootId: string; from: string; at: number };
  registration?: RegistrationState;
  /** approved: the host its registration calls home (where the registered copy runs) */
  homeHost?: string;
  /** approved with no beacon key: known to scans only */
  agentless?: boolean;
  os?: string;
  ips: string[];
  openFindings: number;
  worstSeverity?: Severity;
  status: VmStatus;
}

export interface BillboardSnapshot {
  /** increases on every change; views re-render only when it moves */
  version: number;
  at: number;
  rows: readonly VmRow[];
  findings: readonly Finding[];
  hosts: readonly HostStatus[];
  beacons: BeaconCounters & { perSecond: number };
}
