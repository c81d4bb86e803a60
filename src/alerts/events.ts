import { safeText } from '../model/text.js';
import { SEVERITY_ORDER, type Finding, type FindingCode, type MigrationJob, type Severity } from '../model/types.js';

// The events that reach a person, and the one JSON document each becomes. Everything from outside (VM names,
// evidence, error text) goes through safeText: a receiver's terminal or pager acts on none of it. No event carries
// a secret: findings, jobs and host statuses hold none, and the sinks' own settings (headers, URLs) never enter one.

export type AlertType =
  | 'finding'
  | 'escalation'
  | 'enforcement'
  | 'migration'
  | 'host-down'
  | 'host-up'
  | 'store-failure'
  | 'audit-failure'
  | 'aggregate'
  | 'test';

export interface FindingPayload {
  id: string;
  code: FindingCode;
  severity: Severity;
  vm: string;
  vmName?: string;
  hosts: string[];
  evidence: string;
  evidenceSource?: string;
  state: string;
  firstSeen: string;
  lastSeen: string;
}

export interface AlertEvent {
  type: AlertType;
  /** ms since epoch: when it happened */
  at: number;
  severity: Severity;
  /** the finding code, for a sink's `codes` filter */
  code?: FindingCode;
  summary: string;
  finding?: FindingPayload;
  job?: { id: string; vm: string; vmName: string; source: string; destination: string; state: string; error?: string };
  host?: { name: string; up: boolean; error?: string };
  /** enforcement: what policy did and how it went */
  action?: { action: string; host: string; result: 'ok' | 'failed'; error?: string };
  store?: { error: string };
  /** aggregate: how many events the window folded, by type and code, and the first few */
  count?: number;
  byType?: Record<string, number>;
  byCode?: Record<string, number>;
  samples?: string[];
  /** previous severity (escalation) */
  from?: Severity;
}

/** The document a sink sends: `{type, at, console, finding|job|host, summary}` plus what the type adds. */
export function payloadOf(ev: AlertEvent, consoleName: string): Record<string, unknown> {
  const { type, at, code: _code, summary, ...rest } = ev;
  return { type, at: new Date(at).toISOString(), console: consoleName, ...rest, summary };
}

/** whether `s` is at least as severe as `min` */
export function atLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_ORDER[s] <= SEVERITY_ORDER[min];
}

export function worse(a: Severity, b: Severity): Severity {
  return SEVERITY_ORDER[a] <= SEVERITY_ORDER[b] ? a : b;
}

/** "a", "a and b", "a, b and c" */
function list(items: readonly string[]): string {
  const safe = items.map((s) => safeText(s, 64));
  if (safe.length <= 1) return safe[0] ?? 'no host';
  return `${safe.slice(0, -1).join(', ')} and ${safe[safe.length - 1]}`;
}

function vmLabel(uuid: string, name: string | undefined): string {
  if (!uuid) return 'a shared address';
  return name && name !== uuid ? `VM ${safeText(name, 64)} (${safeText(uuid, 40)})` : `VM ${safeText(uuid, 40)}`;
}

/** one sentence, control characters escaped, bounded */
function sentence(s: string): string {
  return safeText(s, 1024);
}

function findingPayload(f: Finding): FindingPayload {
  return {
    id: f.id,
    code: f.code,
    severity: f.severity,
    vm: f.vm,
    ...(f.vmName !== undefined ? { vmName: safeText(f.vmName, 64) } : {}),
    hosts: f.hosts.map((h) => safeText(h, 64)),
    evidence: safeText(f.evidence, 512),
    ...(f.evidenceSource ? { evidenceSource: f.evidenceSource } : {}),
    state: f.state,
    firstSeen: new Date(f.firstSeen).toISOString(),
    lastSeen: new Date(f.lastSeen).toISOString(),
  };
}

export function findingEvent(f: Finding, at: number, from?: Severity): AlertEvent {
  const where = `${vmLabel(f.vm, f.vmName)} on ${list(f.hosts)}`;
  const evidence = safeText(f.evidence, 512);
  const summary = from
    ? `Finding ${f.id} ${f.code} escalated from ${from} to ${f.severity}: ${where}; evidence: ${evidence}`
    : `New ${f.severity} finding ${f.id} ${f.code}: ${where}; evidence: ${evidence}`;
  return {
    type: from ? 'escalation' : 'finding',
    at,
    severity: f.severity,
    code: f.code,
    summary: sentence(summary),
    finding: findingPayload(f),
    ...(from ? { from } : {}),
  };
}

export interface EnforcementOutcome {
  action: string;
  uuid: string;
  vmName?: string;
  host: string;
  /** why policy acted: "CODE F-n: evidence" */
  reason: string;
  result: 'ok' | 'failed';
  error?: string;
  finding?: Finding;
}

export function enforcementEvent(o: EnforcementOutcome, at: number): AlertEvent {
  const what = `Policy ${safeText(o.action, 16)} of ${vmLabel(o.uuid, o.vmName)} on ${safeText(o.host, 64)}`;
  const outcome = o.result === 'ok' ? 'done' : `FAILED: ${safeText(o.error, 256)}`;
  return {
    type: 'enforcement',
    at,
    severity: o.result === 'ok' ? 'high' : 'critical',
    ...(o.finding ? { code: o.finding.code, finding: findingPayload(o.finding) } : {}),
    action: { action: o.action, host: safeText(o.host, 64), result: o.result, ...(o.error ? { error: safeText(o.error, 256) } : {}) },
    summary: sentence(`${what}: ${outcome}; because ${safeText(o.reason, 512)}`),
  };
}

export function migrationEvent(job: MigrationJob, at: number): AlertEvent {
  const why = job.error ?? job.result;
  const summary =
    `Migration ${job.id} of ${vmLabel(job.vm, job.vmName)} from ${safeText(job.source, 64)} to ` +
    `${safeText(job.destination, 64)} ended ${job.state}${why ? `: ${safeText(why, 512)}` : ''}`;
  return {
    type: 'migration',
    at,
    severity: 'high',
    summary: sentence(summary),
    job: {
      id: job.id,
      vm: job.vm,
      vmName: safeText(job.vmName, 64),
      source: safeText(job.source, 64),
      destination: safeText(job.destination, 64),
      state: job.state,
      ...(why ? { error: safeText(why, 512) } : {}),
    },
  };
}

export function hostEvent(name: string, up: boolean, at: number, error?: string, domains?: number): AlertEvent {
  const host = safeText(name, 64);
  const summary = up
    ? `Host ${host} is back up${domains !== undefined ? ` (${domains} domains)` : ''}`
    : `Host ${host} is down: ${safeText(error ?? 'no answer', 256)}`;
  return {
    type: up ? 'host-up' : 'host-down',
    at,
    severity: 'high',
    summary: sentence(summary),
    host: { name: host, up, ...(error && !up ? { error: safeText(error, 256) } : {}) },
  };
}

export function storeEvent(kind: 'store-failure' | 'audit-failure', error: string, at: number): AlertEvent {
  const what = kind === 'store-failure' ? 'The store could not be written' : 'The audit chain did not verify';
  return {
    type: kind,
    at,
    severity: 'critical',
    summary: sentence(`${what}: ${safeText(error, 512)}`),
    store: { error: safeText(error, 512) },
  };
}

export function testEvent(at: number, sink: string): AlertEvent {
  return { type: 'test', at, severity: 'low', summary: sentence(`Test alert from billboard to sink ${sink}: delivery works`) };
}
