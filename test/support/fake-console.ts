// The console the TUI's tests and bench/tui run against: the real Console (grammar, dispatch, every command's
// handler) over the real Engine, fed by a synthetic lab (fake-lab.ts) on a test clock. Only the edges are fakes:
// the store is in memory (FakeStore), hosts are a FakeScanner, migrations a FakeMigrations with scripted jobs.
// Test hooks: `commands` (every line run), `tick(ms)` (the clock, the jobs, the engine's timers), `beaconUpdates(n)`
// (n agents' next beacons), `setHostUp`.
import pino from 'pino';
import { Engine } from '../../src/billboard/engine.js';
import type { CommandResult, ConsoleEvent } from '../../src/console/api.js';
import { Console } from '../../src/console/console.js';
import type { ConsoleContext } from '../../src/console/context.js';
import { configSchema, type ResolvedConfig } from '../../src/model/config.js';
import { MIGRATION_STAGES, type MigrationJob } from '../../src/model/types.js';
import { FakeStore } from './fake-store.js';
import { buildLab, LAB_HOSTS, LAB_START, labDomains, nextBeacon, prng, type Lab, type LabVm } from './fake-lab.js';
import { FakeMigrations, type FakeMigrationEngine } from './fake-migrations.js';
import { FakeScanner } from './fake-scanner.js';

export interface FakeConsoleOptions {
  /** number of VMs on the billboard (default 24; the 9 special ones are always there) */
  vms?: number;
  seed?: number;
  /** a read-only session (the console refuses what changes state) */
  readOnly?: boolean;
  /** ms since epoch the lab's clock starts at (default a fixed date; the bench passes Date.now()) */
  start?: number;
  /**
   * false: only the engine over the registry, as when the runtime has just started and no scan or beacon has come in
   * (bench/tui's first frame); `playHistory()` then brings the lab to its start. Default true.
   */
  history?: boolean;
}

const BEACON_INTERVAL_S = 5;
const MISSED_BEFORE_SILENT = 3;

/** The real Console over the fake lab, with the hooks tests drive it by. */
/** The lab's clock: it moves only when told (tick), so what tests see is deterministic. */
export class LabClock {
  constructor(public t: number) {}
  readonly now = (): number => this.t;
}

interface Parts {
  lab: Lab;
  clock: LabClock;
  store: FakeStore;
  engine: Engine;
  scanner: FakeScanner;
  migrations: FakeMigrations;
  rand: () => number;
}

export class FakeConsole extends Console {
  /** every command line run, in order */
  readonly commands: string[] = [];
  private valid = 0;
  private counted: { valid: number; at: number };
  private played = false;

  constructor(
    ctx: ConsoleContext,
    private readonly p: Parts,
  ) {
    super(ctx);
    this.counted = { valid: 0, at: p.clock.t };
  }

  override run(line: string, onEvent?: (ev: ConsoleEvent) => void): Promise<CommandResult> {
    this.commands.push(line);
    return super.run(line, onEvent);
  }

  /** the lab's clock */
  readonly now = (): number => this.p.clock.t;

  /** Advance the clock by dtMs: migrations step, the engine's timers run, beacons/s is counted each second. */
  tick(dtMs: number): void {
    this.p.clock.t += dtMs;
    this.p.migrations.tick(dtMs);
    if (this.p.clock.t - this.counted.at >= 1000) this.countBeacons();
    this.p.engine.tick();
    this.notify();
  }

  /** the next beacon of n agents picked at random (each makes a new row object, as in production) */
  beaconUpdates(n: number): void {
    const agents = this.p.lab.agents;
    for (let k = 0; k < n && agents.length; k++) this.beacon(agents[Math.floor(this.p.rand() * agents.length)]!, this.p.clock.t);
  }

  /** one agent's next beacon, received at `at` */
  beacon(agent: LabVm, at: number): void {
    this.p.engine.ingestBeacon(nextBeacon(agent, at));
    this.valid++;
  }

  /** a host goes down or comes back, live */
  setHostUp(host: string, up: boolean): void {
    this.p.scanner.setUp(host, up);
  }

  /**
   * The two minutes before the start, through the engine's real inputs: the first scans, an operator's ack, the
   * migrations under way, a forged beacon, then every agent's latest beacon and the engine's tick (quiet-01 is silent).
   */
  async playHistory(): Promise<void> {
    if (this.played) return;
    this.played = true;
    const { lab, clock, engine, scanner, migrations } = this.p;
    const start = clock.t;
    const vm = (name: string) => lab.vms.find((v) => v.name === name)!;
    clock.t = start - 120_000;
    for (const [host, domains] of labDomains(lab)) for (const d of domains) scanner.domains(host).set(d.uuid, d);
    scanner.scanNow(['lab-a', 'lab-b']);
    const drift = engine.findings().find((f) => f.code === 'DEFINITION_DRIFT');
    if (drift) await engine.ack(drift.id, 'bob', 'definition edited during maintenance, ticket 311');

    seedJobs(migrations, clock, vm('web-01'), vm('db-01'), vm('web-02'), start);

    // someone sends beacons in vm-00010's name that do not verify under its key
    clock.t = start - 5000;
    const spoofed = lab.vms.find((v) => v.name === 'vm-00010');
    if (spoofed) {
      const { beacon } = nextBeacon(spoofed, clock.t);
      engine.ingestBeacon({
        verdict: 'bad-signature',
        beacon: { ...beacon, seq: 1 },
        from: { address: '10.0.9.9', port: 40112 },
        receivedAt: clock.t,
        reason: 'signature does not verify',
      });
    }

    clock.t = start;
    const rand = prng(11);
    for (const agent of lab.agents) this.beacon(agent, start - Math.floor(rand() * 4000));
    migrations.tick(0);
    engine.tick();
    this.countBeacons();
    await new Promise((r) => setImmediate(r));
  }

  /** the listener's counters, as the runtime reports them every second */
  countBeacons(): void {
    const dt = Math.max(1000, this.p.clock.t - this.counted.at);
    const perSecond = Math.round(((this.valid - this.counted.valid) * 1000 * 10) / dt) / 10;
    this.counted = { valid: this.valid, at: this.p.clock.t };
    this.p.engine.beaconCounters({
      received: this.valid + 1,
      valid: this.valid,
      'unknown-key': 0,
      'bad-signature': 1,
      replay: 0,
      'clone-suspect': 0,
      malformed: 0,
      'rate-limited': 0,
      overload: 0,
      perSecond,
    });
  }
}

export async function createFakeConsole(opts: FakeConsoleOptions = {}): Promise<FakeConsole> {
  const start = opts.start ?? LAB_START;
  const clock = new LabClock(start);
  const now = clock.now;
  const lab = buildLab(Math.max(opts.vms ?? 24, 9), opts.seed ?? 7, start);
  const config = labConfig();
  const store = new FakeStore({ registrations: lab.vms.flatMap((v) => (v.registration ? [v.registration] : [])) }, now);
  // The lab opens no registration requests of its own: its pending list is the two it was built with.
  const engine: Engine = new Engine({
    store,
    beaconIntervalS: BEACON_INTERVAL_S,
    missedBeforeSilent: MISSED_BEFORE_SILENT,
    enforcement: 'ask',
    now,
    autoRequestsPerSec: 0,
    requestScan: (hosts) => void scanner.scan(hosts).catch(() => undefined),
  });
  const scanner: FakeScanner = new FakeScanner(LAB_HOSTS, {
    now,
    ingest: (inv) => engine.ingestInventory(inv),
    statusChanged: (statuses) => engine.hostStatuses(statuses),
  });
  engine.hostStatuses(scanner.statuses());
  const hooks: FakeMigrationEngine = {
    resolveVm: (ref) => engine.resolveVm(ref),
    openCriticalFindings: (uuid) =>
      engine.findings(false).filter((f) => f.vm === uuid && f.severity === 'critical' && f.state !== 'resolved'),
    beginMigration: (w) => engine.beginMigration(w),
    commitMigration: (job) => engine.commitMigration(job),
    endMigration: (job, outcome) => engine.endMigration(job, outcome),
  };
  const rand = prng(opts.seed ?? 7);
  const migrations = new FakeMigrations({ store, engine: hooks, scanner, migration: config.migration, now, rand });
  const ctx: ConsoleContext = {
    actor: 'alice',
    readOnly: !!opts.readOnly,
    mode: 'tui',
    config,
    store,
    engine,
    scanner,
    migrations,
    log: pino({ level: 'silent' }),
    now,
  };
  const parts: Parts = { lab, clock, store, engine, scanner, migrations, rand };
  const fake = new FakeConsole(ctx, parts);
  migrations.on('event', () => fake.notify());
  if (opts.history !== false) await fake.playHistory();
  return fake;
}

/** The lab's config as cli/config-load would resolve it: the schema fills every default. */
function labConfig(): ResolvedConfig {
  const config = configSchema.parse({
    log: { level: 'silent' },
    beacon: { listen: '127.0.0.1:7447', intervalS: BEACON_INTERVAL_S, missedBeforeSilent: MISSED_BEFORE_SILENT, maxSkewS: 120 },
    scan: { intervalS: 30, timeoutS: 15, concurrency: 8 },
    hosts: LAB_HOSTS.map((h) => h.config),
    migration: { transport: 'tls', requireDifferentAuthorizer: false },
    policy: { enforcement: 'ask' },
  });
  return { ...config, storePath: ':memory:', logPath: '/dev/null' };
}

/** M-1 done an hour ago, M-2 (db-01) in a pre-copy that does not converge, M-3 (web-02) awaiting authorization. */
function seedJobs(m: FakeMigrations, clock: LabClock, web01: LabVm, db01: LabVm, web02: LabVm, start: number): void {
  const job = (id: string, vm: LabVm, source: string, destination: string, patch: Partial<MigrationJob>): MigrationJob => ({
    id,
    vm: vm.uuid,
    vmName: vm.name,
    source,
    destination,
    state: 'awaiting-authorization',
    requestedBy: 'alice',
    requestedAt: start,
    transport: 'tls',
    checks: [],
    stages: [],
    simulated: true,
    ...patch,
  });
  const stages = (from: number, names: readonly (typeof MIGRATION_STAGES)[number][], stepMs: number, open: boolean) =>
    names.map((stage, i) => ({
      stage,
      enteredAt: from + i * stepMs,
      ...(open && i === names.length - 1 ? {} : { leftAt: from + (i + 1) * stepMs }),
    }));
  const t1 = start - 3_600_000;
  m.seed(
    job('M-1', web01, 'lab-b', 'lab-a', {
      state: 'completed',
      requestedAt: t1,
      authorizedBy: 'bob',
      authorizedAt: t1 + 10_000,
      stages: stages(t1, MIGRATION_STAGES, 2000, false),
      endedAt: t1 + 12_000,
      result: 'web-01 now on lab-a, downtime 212 ms (simulated)',
      lastStats: {
        at: t1 + 12_000,
        type: 'completed',
        memoryTotalBytes: 1024 ** 3,
        memoryRemainingBytes: 0,
        totalDowntimeMs: 212,
        iteration: 4,
        source: 'simulated',
      },
    }),
  );
  clock.t = start - 16_000; // authorized then; its pre-copy began 4 s later
  m.seed(
    job('M-2', db01, 'lab-a', 'lab-b', {
      state: 'iterative-pre-copy',
      requestedAt: start - 20_000,
      authorizedBy: 'bob',
      authorizedAt: start - 16_000,
      bandwidthMiBs: 100,
      maxDowntimeMs: 300,
      stages: stages(start - 20_000, ['pre-migration', 'reservation', 'iterative-pre-copy'], 4000, true),
    }),
    { precopyMs: 12_000, dirtyRateMiBs: 112 },
  );
  m.seed(
    job('M-3', web02, 'lab-a', 'lab-b', {
      requestedBy: 'carol',
      requestedAt: start - 5000,
      stages: [{ stage: 'pre-migration', enteredAt: start - 5000 }],
    }),
  );
}
