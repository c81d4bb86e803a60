// A deterministic, in-memory ConsoleApi for the TUI's tests and bench/tui: N VMs across three hosts (one down),
// duplicates, an unregistered VM, pending registrations, findings, and a simulated migration whose stats move
// (memory remaining goes backwards while the dirty rate beats the bandwidth). It understands enough of the
// command grammar for the TUI's actions; every state change is recorded in `commands` and the audit log.
import type { CommandResult, ConsoleApi, ConsoleEvent } from '../console/api.js';
import {
  MIGRATION_STAGES,
  type AuditEntry,
  type BillboardSnapshot,
  type ConvergenceEstimate,
  type Finding,
  type HostStatus,
  type JobStats,
  type MigrationJob,
  type MigrationStage,
  type PreCheck,
  type Registration,
  type Severity,
  type VmRow,
} from '../model/types.js';

export interface FakeConsoleOptions {
  /** number of VMs on the billboard (default 24; at least the 8 special ones are always there) */
  vms?: number;
  seed?: number;
  readOnly?: boolean;
  /** ms since epoch the fake lab starts at (default a fixed date; pass Date.now() for a live demo) */
  start?: number;
  /** clock (default: a fixed start time advanced only by tick(), so output is deterministic) */
  now?: () => number;
}

export interface FakeConsole extends ConsoleApi {
  /** every command line run, in order */
  readonly commands: string[];
  /** advance the simulated migration and the clock by dtMs */
  tick(dtMs: number): void;
  /** apply n beacon updates to random rows (new row objects, so caches by identity see them) */
  beaconUpdates(n: number): void;
  /** mark a host down/up, live */
  setHostUp(host: string, up: boolean): void;
  /** run tick() on a timer (demo in a real terminal); returns stop */
  animate(periodMs?: number): () => void;
  /** the current time of the fake clock */
  now(): number;
}

const MiB = 1024 * 1024;
const MUTATING = new Set([
  'register', 'approve', 'reject', 'revoke', 'stop', 'suspend', 'isolate', 'migrate', 'authorize', 'deny',
  'abort', 'ack',
]);
const COMMANDS = [
  'help', 'hosts', 'vms', 'show', 'scan', 'pending', 'findings', 'ack', 'register', 'approve', 'reject', 'revoke',
  'stop', 'suspend', 'isolate', 'migrate', 'authorize', 'deny', 'jobs', 'watch', 'abort', 'audit',
];
const FLAGS: Record<string, string[]> = {
  approve: ['--note'], reject: ['--reason'], revoke: ['--reason'], stop: ['--host'], suspend: ['--host'],
  isolate: ['--host'], migrate: ['--to', '--bandwidth', '--max-downtime'], deny: ['--reason'], ack: ['--note'],
  findings: ['--all'], audit: ['--last', 'verify'],
};

/** mulberry32: small, fast, deterministic */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, n: number): string {
  let s = '';
  // 7 hex digits per draw keeps 10,000-VM labs quick to build
  while (s.length < n) s += Math.floor(rand() * 0x10000000).toString(16).padStart(7, '0');
  return s.slice(0, n);
}

function uuidFrom(rand: () => number): string {
  return `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-a${hex(rand, 3)}-${hex(rand, 12)}`;
}

function macFrom(rand: () => number): string {
  return ['52', '54', '00', hex(rand, 2), hex(rand, 2), hex(rand, 2)].join(':');
}

/** split a command line into words; double quotes group */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2]!);
  return out;
}

function parseFlags(ws: string[]): { args: string[]; flags: Record<string, string> } {
  const args: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!;
    if (w.startsWith('--')) {
      const next = ws[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        flags[w.slice(2)] = next;
        i++;
      } else flags[w.slice(2)] = 'true';
    } else args.push(w);
  }
  return { args, flags };
}

export function createFakeConsole(opts: FakeConsoleOptions = {}): FakeConsole {
  const START = opts.start ?? Date.UTC(2025, 0, 15, 9, 0, 0);
  const rand = prng(opts.seed ?? 7);
  let clock = START;
  const now = opts.now ?? (() => clock);
  const listeners = new Set<() => void>();
  const commands: string[] = [];
  let version = 1;
  let snap: BillboardSnapshot | undefined;
  let beaconsTotal = 0;
  let beaconsWindow: { at: number; n: number }[] = [];

  const hosts: HostStatus[] = [
    { name: 'lab-a', driver: 'libvirt', target: 'qemu:///system', up: true, lastScanAt: START - 2000, lastScanMs: 41, consecutiveFailures: 0, domains: 0, running: 0 },
    { name: 'lab-b', driver: 'ssh', target: '10.0.0.12:22', up: true, lastScanAt: START - 3000, lastScanMs: 88, consecutiveFailures: 0, domains: 0, running: 0 },
    { name: 'lab-c', driver: 'ssh', target: '10.0.0.13:22', up: false, lastScanAt: START - 60_000, lastScanMs: 5000, consecutiveFailures: 4, lastError: 'connect ECONNREFUSED 10.0.0.13:22', nextRetryAt: START + 15_000, domains: 0, running: 0 },
  ];

  const OSES = ['debian-12', 'ubuntu-24.04', 'alpine-3.20', 'fedora-40', 'rocky-9'];
  const rows: VmRow[] = [];
  const mkRow = (name: string, host: string | string[], extra: Partial<VmRow> = {}): VmRow => {
    const uuid = uuidFrom(rand);
    const mac = macFrom(rand);
    const ip = `10.0.${1 + (rows.length >> 8)}.${(rows.length % 250) + 2}`;
    const os = OSES[rows.length % OSES.length]!;
    const hs = Array.isArray(host) ? host : [host];
    const row: VmRow = {
      uuid,
      name,
      instances: hs.map((h) => ({ host: h, state: 'running', name, macs: [mac], ips: [ip], definitionHash: hex(rand, 16), memoryKiB: 1024 * 1024, vcpus: 1 })),
      lastBeacon: { at: START - Math.floor(rand() * 4000), from: ip, bootId: hex(rand, 8), seq: 1 + Math.floor(rand() * 1000), ips: [ip], macs: [mac], os, keyFp: 'SHA256:' + hex(rand, 16) },
      registration: 'approved',
      os,
      ips: [ip],
      openFindings: 0,
      status: 'ok',
      ...extra,
    };
    rows.push(row);
    return row;
  };
  mkRow('web-01', 'lab-a');
  const web02 = mkRow('web-02', 'lab-a');
  const db01 = mkRow('db-01', 'lab-a', { status: 'migrating' });
  const clone = mkRow('clone-01', ['lab-a', 'lab-b'], { status: 'ghost', openFindings: 1, worstSeverity: 'critical' });
  const rogue = mkRow('rogue-01', 'lab-b', { status: 'unregistered', registration: undefined, lastBeacon: undefined, openFindings: 1, worstSeverity: 'high' });
  const newbie = mkRow('new-01', 'lab-b', { status: 'pending', registration: 'pending' });
  const quiet = mkRow('quiet-01', 'lab-b', { status: 'silent', lastBeacon: undefined, openFindings: 1, worstSeverity: 'medium' });
  mkRow('old-01', 'lab-a', { status: 'stopped', instances: [] });
  const total = Math.max(opts.vms ?? 24, rows.length);
  for (let i = rows.length; i < total; i++) mkRow(`vm-${String(i).padStart(5, '0')}`, i % 2 ? 'lab-b' : 'lab-a');
  for (const h of hosts) {
    h.domains = rows.filter((r) => r.instances.some((x) => x.host === h.name)).length;
    h.running = h.domains;
  }

  const pending: Registration[] = [
    { uuid: newbie.uuid, name: 'new-01', publicKey: 'k'.repeat(43) + '=', keyFp: newbie.lastBeacon!.keyFp, macs: newbie.instances[0]!.macs, os: newbie.os, state: 'pending', origin: 'beacon', firstSeen: `beacon from ${newbie.ips[0]}`, createdAt: START - 120_000, createdBy: 'beacon' },
    { uuid: uuidFrom(rand), name: 'new-02', macs: [macFrom(rand)], os: 'alpine-3.20', homeHost: 'lab-b', state: 'pending', origin: 'scan', firstSeen: 'scan of lab-b', createdAt: START - 30_000, createdBy: 'scan' },
  ];

  let findingSeq = 0;
  const finding = (code: Finding['code'], severity: Severity, vm: VmRow | undefined, hs: string[], evidence: string, state: Finding['state'] = 'open'): Finding => ({
    id: `F-${++findingSeq}`, key: `${code}:${vm?.uuid ?? evidence}`, code, severity, vm: vm?.uuid ?? '', vmName: vm?.name, hosts: hs,
    evidence, firstSeen: START - findingSeq * 45_000, lastSeen: START - 1000, count: findingSeq, state,
  });
  let findings: Finding[] = [
    finding('DUPLICATE_UUID', 'critical', clone, ['lab-a', 'lab-b'], `uuid ${clone.uuid} running on lab-a and lab-b`),
    finding('UNREGISTERED', 'high', rogue, ['lab-b'], 'running on lab-b, no registration'),
    finding('SILENT', 'medium', quiet, ['lab-b'], 'running per scan, no beacon for 93s'),
    finding('FORGED_BEACON', 'high', web02, [], 'bad signature from 10.0.9.9:40112'),
    finding('IP_CONFLICT', 'medium', undefined, ['lab-a', 'lab-b'], 'ip 10.0.1.20 claimed by vm-00012 and vm-00013'),
    finding('DEFINITION_DRIFT', 'low', db01, ['lab-a'], 'definition hash changed since approval', 'acked'),
  ];

  // ─ migrations ─
  let jobSeq = 0;
  const jobs: MigrationJob[] = [];
  const newJob = (vm: VmRow, source: string, destination: string, patch: Partial<MigrationJob> = {}): MigrationJob => {
    const job: MigrationJob = {
      id: `J-${++jobSeq}`, vm: vm.uuid, vmName: vm.name, source, destination, state: 'awaiting-authorization',
      requestedBy: 'alice', requestedAt: now(), transport: 'tls', checks: checksFor(destination), stages: [], simulated: true, ...patch,
    };
    jobs.push(job);
    return job;
  };
  const checksFor = (dest: string): PreCheck[] => {
    const h = hosts.find((x) => x.name === dest);
    const up = !!h?.up;
    return [
      { name: 'destination reachable', ok: up, detail: up ? `${dest} answered in 12 ms` : `${dest} is down: ${h?.lastError ?? 'unknown'}` },
      { name: 'cpu compatible', ok: true, detail: 'same cpu model' },
      { name: 'memory available', ok: up, detail: up ? '22.1 GiB free, 1 GiB needed' : 'unknown' },
      { name: 'shared storage', ok: dest !== 'lab-c', detail: dest !== 'lab-c' ? 'disk on nfs:/lab' : 'disk not visible on destination' },
    ];
  };
  const memTotal = 1024 * MiB;
  const sim = { remaining: memTotal * 0.6, bandwidth: 100 * MiB, dirty: 112 * MiB, iteration: 1, downtimeMs: 300 };
  const enter = (job: MigrationJob, stage: MigrationStage) => {
    const t = now();
    const last = job.stages[job.stages.length - 1];
    if (last && last.leftAt === undefined) last.leftAt = t;
    job.stages.push({ stage, enteredAt: t });
    job.state = stage;
  };
  const finish = (job: MigrationJob, state: 'completed' | 'failed' | 'aborted' | 'denied', why?: string) => {
    const last = job.stages[job.stages.length - 1];
    if (last && last.leftAt === undefined) last.leftAt = now();
    job.state = state;
    job.endedAt = now();
    if (why) job.result = why;
  };
  const estimate = (): ConvergenceEstimate => {
    const converges = sim.bandwidth > sim.dirty * 1.1;
    return converges
      ? { converges, advice: `converges in ~${Math.ceil(sim.remaining / (sim.bandwidth - sim.dirty))} s at the current rates` }
      : {
          converges,
          advice: `dirty rate ${Math.round(sim.dirty / MiB)} MiB/s beats bandwidth ${Math.round(sim.bandwidth / MiB)} MiB/s: raise bandwidth or allow more downtime`,
          suggestedBandwidthMiBs: Math.ceil((sim.dirty * 1.6) / MiB / 10) * 10,
          suggestedMaxDowntimeMs: 500,
        };
  };
  const statsNow = (): JobStats => ({
    at: now(), type: 'unbounded', operation: 'outgoing migration', elapsedMs: now() - (jobs[0]?.authorizedAt ?? now()),
    memoryTotalBytes: memTotal, memoryRemainingBytes: Math.round(sim.remaining), memoryProcessedBytes: Math.round(memTotal * sim.iteration - sim.remaining),
    dataTotalBytes: memTotal, dataRemainingBytes: Math.round(sim.remaining), bandwidthBps: sim.bandwidth, dirtyRateBps: sim.dirty,
    iteration: sim.iteration, expectedDowntimeMs: Math.round((sim.remaining / sim.bandwidth) * 1000), pageSize: 4096, source: 'simulated',
  });
  // J-1: done long ago; J-2: db-01 pre-copying (the interesting one); J-3: awaiting authorization.
  const done = newJob(rows[0]!, 'lab-b', 'lab-a', { requestedAt: START - 3_600_000, authorizedBy: 'bob', authorizedAt: START - 3_590_000 });
  clock = START - 3_590_000;
  for (const s of MIGRATION_STAGES) { enter(done, s); clock += 2000; }
  finish(done, 'completed', 'running on lab-a, identity re-verified by beacon');
  done.lastStats = { at: clock, type: 'completed', memoryTotalBytes: memTotal, memoryRemainingBytes: 0, totalDowntimeMs: 212, iteration: 4, source: 'simulated' };
  clock = START - 20_000;
  const live = newJob(db01, 'lab-a', 'lab-b', { authorizedBy: 'bob', authorizedAt: START - 20_000, bandwidthMiBs: 100, maxDowntimeMs: 300 });
  for (const s of ['pre-migration', 'reservation', 'iterative-pre-copy'] as const) { enter(live, s); clock += 4000; }
  clock = START;
  live.lastStats = statsNow();
  live.convergence = estimate();
  newJob(web02, 'lab-a', 'lab-b', { requestedBy: 'carol', requestedAt: START - 5000 });

  const audit: AuditEntry[] = [];
  const addAudit = (action: string, target: string, details: Record<string, unknown> = {}) => {
    const prevHash = audit[audit.length - 1]?.hash ?? '0'.repeat(64);
    audit.push({ seq: audit.length + 1, time: new Date(now()).toISOString(), actor: 'alice', action, target, details, prevHash, hash: hex(rand, 64) });
    if (audit.length > 5000) audit.splice(0, audit.length - 5000);
  };
  addAudit('store.init', 'store');
  addAudit('approve', 'web-01', { note: 'baseline' });
  addAudit('migrate.request', 'db-01', { to: 'lab-b' });
  addAudit('migrate.authorize', 'J-2', {});

  const changed = () => {
    version++;
    snap = undefined;
    for (const l of listeners) l();
  };

  const findRow = (ref: string): VmRow | undefined => {
    const r = ref.toLowerCase();
    return rows.find((x) => x.name === ref || x.uuid === r) ?? (r.length >= 4 ? rows.find((x) => x.uuid.startsWith(r)) : undefined);
  };
  const replaceRow = (row: VmRow, patch: Partial<VmRow>) => {
    const i = rows.indexOf(row);
    const next = { ...row, ...patch };
    rows[i] = next;
    return next;
  };
  const findJob = (ref: string) => jobs.find((j) => j.id === ref) ?? [...jobs].reverse().find((j) => (j.vmName === ref || j.vm === ref) && !j.endedAt);
  const err = (command: string, code: string, message: string): CommandResult => ({ command, ok: false, error: { code, message } });
  const ok = (command: string, text: string, data: unknown = null): CommandResult => ({ command, ok: true, data, text });

  function exec(line: string, onEvent?: (ev: ConsoleEvent) => void): CommandResult {
    const ws = words(line.trim());
    const cmd = ws[0] ?? '';
    const { args, flags } = parseFlags(ws.slice(1));
    if (!cmd) return err(cmd, 'USAGE', 'empty command');
    if (!COMMANDS.includes(cmd)) return err(cmd, 'USAGE', `unknown command "${cmd}" (try help)`);
    if (api.readOnly && MUTATING.has(cmd)) return err(cmd, 'READ_ONLY', `${cmd} is refused in read-only mode`);
    const vmArg = () => {
      if (!args[0]) throw err(cmd, 'USAGE', `usage: ${cmd} VM`);
      const row = findRow(args[0]);
      if (!row) throw err(cmd, 'NOT_FOUND', `no VM matches "${args[0]}"`);
      return row;
    };
    const hostFlag = (row: VmRow) => {
      const h = flags.host;
      if (!h || h === 'true') throw err(cmd, 'USAGE', `usage: ${cmd} VM --host HOST`);
      if (!row.instances.some((x) => x.host === h)) throw err(cmd, 'NOT_FOUND', `${row.name} is not running on ${h}`);
      return h;
    };
    try {
      switch (cmd) {
        case 'help':
          return ok(cmd, api.help(args[0]));
        case 'hosts':
          return ok(cmd, hosts.map((h) => `${h.name} ${h.up ? 'up' : 'down'}`).join('\n'), hosts);
        case 'vms':
          return ok(cmd, `${rows.length} VMs`, rows.length);
        case 'show': {
          const row = vmArg();
          return ok(cmd, `${row.name} ${row.uuid} ${row.status}`, row);
        }
        case 'scan':
          return ok(cmd, `scanned ${args.length ? args.join(', ') : 'all hosts'}`);
        case 'pending':
          return ok(cmd, `${pending.length} pending`, pending);
        case 'findings':
          return ok(cmd, `${findings.filter((f) => f.state === 'open').length} open findings`, findings);
        case 'jobs':
          return ok(cmd, `${jobs.length} jobs`, jobs);
        case 'audit':
          return ok(cmd, args[0] === 'verify' ? `audit chain verified: ${audit.length} entries` : `${audit.length} entries`);
        case 'ack': {
          const f = findings.find((x) => x.id === args[0]);
          if (!f) return err(cmd, 'NOT_FOUND', `no finding ${args[0] ?? ''}`.trim());
          findings = findings.map((x) => (x === f ? { ...x, state: 'acked', ackedBy: 'alice', note: flags.note } : x));
          addAudit('ack', f.id, { note: flags.note });
          return ok(cmd, `acknowledged ${f.id}`);
        }
        case 'approve':
        case 'reject':
        case 'revoke': {
          const name = args[0];
          if (!name) return err(cmd, 'USAGE', `usage: ${cmd} VM`);
          const reg = pending.find((p) => p.name === name || p.uuid === name || p.uuid.startsWith(name));
          const row = findRow(name);
          if (!reg && !row) return err(cmd, 'NOT_FOUND', `no VM matches "${name}"`);
          if (cmd !== 'revoke' && !reg && row?.registration === 'approved') return err(cmd, 'CONFLICT', `${row.name} is already approved`);
          if (reg) pending.splice(pending.indexOf(reg), 1);
          const state = cmd === 'approve' ? 'approved' : cmd === 'reject' ? 'rejected' : 'revoked';
          if (row) replaceRow(row, { registration: state, status: cmd === 'approve' ? 'ok' : state as VmRow['status'] });
          if (cmd === 'approve' && row) findings = findings.map((f) => (f.vm === row.uuid && f.code === 'UNREGISTERED' ? { ...f, state: 'resolved', resolvedAt: now() } : f));
          addAudit(cmd, reg?.name ?? row!.name, { note: flags.note, reason: flags.reason });
          return ok(cmd, `${state} ${reg?.name ?? row!.name}`);
        }
        case 'stop':
        case 'suspend':
        case 'isolate': {
          const row = vmArg();
          const host = hostFlag(row);
          const state = cmd === 'suspend' ? 'paused' : cmd === 'stop' ? 'shutoff' : 'running';
          replaceRow(row, { instances: row.instances.map((x) => (x.host === host ? { ...x, state } : x)), status: cmd === 'stop' ? 'stopped' : row.status });
          addAudit(cmd, row.name, { host });
          return ok(cmd, `${cmd === 'isolate' ? 'isolated' : cmd === 'stop' ? 'stopped' : 'suspended'} ${row.name} on ${host}`);
        }
        case 'tune': {
          const ref = args[0];
          const running = jobs.find((j) => (j.id === ref || j.vmName === ref) && !j.endedAt && j.state !== 'awaiting-authorization');
          if (!running) return err(cmd, 'NOT_FOUND', `no running job ${ref}`);
          if (flags.bandwidth) { sim.bandwidth = Number(flags.bandwidth) * MiB; running.bandwidthMiBs = Number(flags.bandwidth); }
          if (flags['max-downtime']) { sim.downtimeMs = Number(flags['max-downtime']); running.maxDowntimeMs = Number(flags['max-downtime']); }
          running.convergence = estimate();
          addAudit('migrate-tune', running.id, { bandwidth: flags.bandwidth, maxDowntime: flags['max-downtime'] });
          return ok(cmd, `${running.id}: bandwidth ${Math.round(sim.bandwidth / MiB)} MiB/s, max downtime ${sim.downtimeMs} ms`);
        }
        case 'migrate': {
          const row = vmArg();
          const to = flags.to;
          if (!to || to === 'true') return err(cmd, 'USAGE', 'usage: migrate VM --to HOST');
          const running = jobs.find((j) => j.vm === row.uuid && !j.endedAt && j.state !== 'awaiting-authorization');
          if (running) return err(cmd, 'CONFLICT', `${row.name} already has job ${running.id}`);
          const source = row.instances[0]?.host;
          if (!source) return err(cmd, 'CONFLICT', `${row.name} is not running`);
          if (source === to) return err(cmd, 'USAGE', `${row.name} is already on ${to}`);
          if (!hosts.some((h) => h.name === to)) return err(cmd, 'NOT_FOUND', `no host ${to}`);
          const job = newJob(row, source, to, { bandwidthMiBs: flags.bandwidth ? Number(flags.bandwidth) : undefined });
          addAudit('migrate.request', row.name, { to });
          return ok(cmd, `${job.id} awaits authorization (${row.name} ${source} → ${to})`);
        }
        case 'authorize':
        case 'deny':
        case 'abort': {
          const job = args[0] ? findJob(args[0]) : undefined;
          if (!job) return err(cmd, 'NOT_FOUND', `no job ${args[0] ?? ''}`.trim());
          if (job.endedAt) return err(cmd, 'CONFLICT', `${job.id} already ${job.state}`);
          if (cmd === 'abort') {
            if (job.state === 'commitment' || job.state === 'activation') return err(cmd, 'REFUSED', `${job.id} is past commitment`);
            finish(job, 'aborted', flags.reason);
          } else {
            if (job.state !== 'awaiting-authorization') return err(cmd, 'CONFLICT', `${job.id} is ${job.state}`);
            if (cmd === 'deny') finish(job, 'denied', flags.reason);
            else {
              const bad = job.checks.filter((c) => !c.ok);
              if (bad.length) return err(cmd, 'REFUSED', `${job.id}: pre-check failed: ${bad[0]!.name}`);
              job.authorizedBy = 'alice';
              job.authorizedAt = now();
              enter(job, 'pre-migration');
            }
          }
          onEvent?.({ type: 'stage', job: job.id, stage: job.state, at: now() });
          addAudit(cmd, job.id, { reason: flags.reason });
          return ok(cmd, `${job.id} ${job.state}`);
        }
        default:
          return err(cmd, 'UNSUPPORTED', `${cmd} is not available here`);
      }
    } catch (e) {
      if (e && typeof e === 'object' && 'ok' in e) return e as CommandResult;
      throw e;
    }
  }

  function tickJobs(dtMs: number) {
    for (const job of jobs) {
      if (job.endedAt || job.state === 'awaiting-authorization') continue;
      const inStage = now() - (job.stages[job.stages.length - 1]?.enteredAt ?? now());
      if (job.state === 'pre-migration' && inStage >= 1000) enter(job, 'reservation');
      else if (job.state === 'reservation' && inStage >= 1000) enter(job, 'iterative-pre-copy');
      else if (job.state === 'iterative-pre-copy') {
        const dt = dtMs / 1000;
        // the dirty rate wobbles around its mean, so remaining memory can grow between samples
        const dirty = sim.dirty * (0.8 + rand() * 0.45);
        sim.remaining = Math.min(memTotal, Math.max(0, sim.remaining - sim.bandwidth * dt + dirty * dt * 0.85));
        if (rand() < dt) sim.iteration++;
        job.lastStats = { ...statsNow(), dirtyRateBps: Math.round(dirty) };
        job.convergence = estimate();
        if ((sim.remaining / sim.bandwidth) * 1000 <= sim.downtimeMs) enter(job, 'stop-and-copy');
      } else if (job.state === 'stop-and-copy' && inStage >= 300) {
        job.lastStats = { ...statsNow(), memoryRemainingBytes: 0, totalDowntimeMs: 240 + Math.round(rand() * 40) };
        enter(job, 'commitment');
      } else if (job.state === 'commitment' && inStage >= 500) enter(job, 'activation');
      else if (job.state === 'activation' && inStage >= 1000) {
        finish(job, 'completed', `running on ${job.destination}`);
        const row = rows.find((r) => r.uuid === job.vm);
        if (row) replaceRow(row, { status: 'ok', instances: row.instances.map((x) => (x.host === job.source ? { ...x, host: job.destination } : x)) });
      }
    }
  }

  const api: FakeConsole = {
    readOnly: !!opts.readOnly,
    actor: 'alice',
    commands,
    async run(line, onEvent) {
      commands.push(line);
      const r = exec(line, onEvent);
      if (r.ok) changed();
      return r;
    },
    snapshot() {
      if (!snap) {
        const t = now();
        beaconsWindow = beaconsWindow.filter((w) => w.at > t - 1000);
        snap = {
          version, at: t, rows: rows.slice(), findings, hosts: hosts.map((h) => ({ ...h })),
          beacons: { received: beaconsTotal, valid: beaconsTotal, 'unknown-key': 0, 'bad-signature': 1, replay: 0, 'clone-suspect': 0, malformed: 0, 'rate-limited': 0, overload: 0, perSecond: beaconsWindow.reduce((s, w) => s + w.n, 0) },
        };
      }
      return snap;
    },
    jobs: () => jobs.map((j) => ({ ...j })),
    pending: () => pending.slice(),
    auditLog: (last = 200) => audit.slice(-last),
    async migrationChoices(vmRef) {
      const row = findRow(vmRef);
      if (!row) throw new Error(`no VM matches "${vmRef}"`);
      const here = new Set(row.instances.map((x) => x.host));
      return hosts.filter((h) => !here.has(h.name)).map((h) => {
        const checks = checksFor(h.name);
        return { host: h.name, ok: checks.every((c) => c.ok), checks };
      });
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    complete(partial) {
      const ws = partial.split(/\s+/);
      if (ws.length <= 1) return COMMANDS.filter((c) => c.startsWith(ws[0] ?? ''));
      const last = ws[ws.length - 1]!;
      const pool = [...(FLAGS[ws[0]!] ?? []), ...(last.startsWith('-') ? [] : rows.slice(0, 200).map((r) => r.name)), ...jobs.map((j) => j.id)];
      return pool.filter((c) => c.startsWith(last) && c !== last);
    },
    help(command) {
      if (command) return COMMANDS.includes(command) ? `${command} ${(FLAGS[command] ?? []).join(' ')}`.trim() : `no command ${command}`;
      return ['commands:', ...COMMANDS.map((c) => `  ${c} ${(FLAGS[c] ?? []).join(' ')}`.trimEnd())].join('\n');
    },
    isMutating(line) {
      return MUTATING.has(words(line.trim())[0] ?? '');
    },
    tick(dtMs) {
      clock += dtMs;
      tickJobs(dtMs);
      changed();
    },
    beaconUpdates(n) {
      const t = now();
      for (let k = 0; k < n; k++) {
        const i = Math.floor(rand() * rows.length);
        const row = rows[i]!;
        if (!row.lastBeacon) continue;
        rows[i] = { ...row, lastBeacon: { ...row.lastBeacon, at: t, seq: row.lastBeacon.seq + 1 } };
        beaconsTotal++;
        version++;
        snap = undefined;
        for (const l of listeners) l();
      }
      beaconsWindow.push({ at: t, n });
      if (beaconsWindow.length > 1000) beaconsWindow.shift();
    },
    setHostUp(name, up) {
      const h = hosts.find((x) => x.name === name);
      if (!h) return;
      h.up = up;
      h.consecutiveFailures = up ? 0 : h.consecutiveFailures + 1;
      h.lastError = up ? undefined : 'connection lost';
      changed();
    },
    animate(periodMs = 250) {
      const timer = setInterval(() => {
        api.tick(periodMs);
        api.beaconUpdates(Math.max(1, Math.round(rows.length / 8)));
      }, periodMs);
      timer.unref?.();
      return () => clearInterval(timer);
    },
    now,
  };
  return api;
}
