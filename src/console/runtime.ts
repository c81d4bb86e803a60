import type { Logger } from 'pino';
import { BeaconListener } from '../beacon/listener.js';
import { Engine } from '../billboard/engine.js';
import { Scanner } from '../hosts/scanner.js';
import { MigrationManager } from '../migration/manager.js';
import type { MigrationExecutors } from '../migration/executor.js';
import type { MigrationEngineHooks } from '../migration/hooks.js';
import type { ResolvedConfig } from '../model/config.js';
import { BillboardError } from '../model/errors.js';
import type { StoreApi } from '../store/api.js';
import { openStore } from '../store/store.js';
import { requireKeySource } from '../store/key-source.js';
import { Console } from './console.js';
import { readOnlyView } from './read-only-store.js';
import type { ConsoleContext } from './context.js';
import { SessionAlerts } from './session-alerts.js';
import { acceptedAdmissionHooks } from './admission-hooks.js';

export interface RuntimeOptions {
  config: ResolvedConfig;
  actor: string;
  readOnly: boolean;
  mode: 'script' | 'tui';
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** create the store when it is missing (script/tui); `init` uses createStore instead */
  createStore?: boolean;
  /** open the store as its writer even in a read-only session: the demo builds its own throwaway store */
  storeWriter?: boolean;
  /** wait for the first scan of every host before returning (scripts: `hosts` right away means something) */
  awaitFirstScan?: boolean;
  /** who moves VMs (default: libvirt, and a simulation that cannot move domains where the hypervisor cannot
   *  migrate); the demo supplies a simulation that moves domains between its test-driver hosts */
  migrationExecutors?: Partial<MigrationExecutors>;
  /** tests and the demo may swap how drivers are made */
  createDriver?: ConstructorParameters<typeof Scanner>[0]['createDriver'];
}

export interface Runtime {
  ctx: ConsoleContext;
  console: Console;
  engine: Engine;
  scanner: Scanner;
  listener: BeaconListener;
  migrations: MigrationManager;
  /** alert sinks, the store's write watch and health (`health`, `alerts test`, the metrics) */
  alerts: SessionAlerts;
  /** where the beacon listener actually listens (port 0 in the config picks a free one) */
  beaconAddress: { address: string; port: number };
  close(): Promise<void>;
}

/**
 * Start everything a session runs in-process, wired in the one direction of DESIGN.md:
 * listener + scanner → engine (+ migrations) → console. One writer: the store lock is taken first.
 *
 * A read-only session acts on nothing: the store is opened without the writer lock (so it runs beside a writer)
 * and writes nothing, enforcement is 'ask' whatever the policy says, migrations left running by a writer are not
 * touched, and scans and beacons still feed the Billboard.
 */
/**
 * The engine, with policy enforcement wired to the host drivers: the request is on disk before the host is touched
 * (no log, no action), approval is checked again right before acting, and the engine audits the outcome.
 */
function startEngine(opts: RuntimeOptions, store: StoreApi, scanner: Scanner, readOnlyStore: boolean, alerts: SessionAlerts): Engine {
  const { config, log } = opts;
  return new Engine({
    store,
    beaconIntervalS: config.beacon.intervalS,
    missedBeforeSilent: config.beacon.missedBeforeSilent,
    enforcement: opts.readOnly ? 'ask' : config.policy.enforcement,
    // asked at each scan: a SIGHUP that changes policy.admission or admission.hookSha256 judges the next one
    admissionHooks: () => acceptedAdmissionHooks(config, (msg) => log.warn(msg)),
    readOnly: readOnlyStore,
    requestScan: (hosts) => void scanner.scan(hosts).catch(() => {}),
    enforce: async (action, uuid, host, reason, stillWarranted) => {
      if (opts.readOnly) return false;
      await store.audit('policy', `${action}-requested`, uuid, { host, reason });
      const home = store.registration(uuid)?.state === 'approved' ? store.registration(uuid)?.homeHost : undefined;
      if (home !== undefined && !(await bothRunNow(scanner, uuid, host, home))) return false;
      if (!stillWarranted()) return false;
      const d = scanner.driver(host);
      const told = { action, uuid, vmName: store.registration(uuid)?.name, host, reason };
      await (action === 'stop' ? d.stop(uuid) : d.isolate(uuid)).catch((e: unknown) => {
        alerts.enforcement({ ...told, result: 'failed', error: (e as Error).message });
        throw e;
      });
      alerts.enforcement({ ...told, result: 'ok' });
      void scanner.scan([host]).catch(() => {});
      return true;
    },
    log,
  });
}

/**
 * Whether a clone of an approved VM still runs on `target` and, asked after it, on its `home` host too: asked of
 * the hosts themselves now, never from a scan in flight. In that order a live migration home → target cannot pass
 * (once the target runs, the home copy is paused or gone), so the registered original is never the one stopped.
 * A host that cannot answer is a no.
 */
async function bothRunNow(scanner: Scanner, uuid: string, target: string, home: string): Promise<boolean> {
  const runs = async (host: string): Promise<boolean> => {
    const d = scanner.driver(host);
    return d.scanDomain !== undefined && (await d.scanDomain(uuid))?.state === 'running';
  };
  try {
    return (await runs(target)) && (await runs(home));
  } catch {
    return false;
  }
}

/** the window beacons/s is averaged over: a one-second count jitters by a beacon or two under load */
const RATE_WINDOW_MS = 10_000;

/** Every second: the time-based detectors (SILENT, PHANTOM) and the header's beacons/s (over RATE_WINDOW_MS). */
function startTicker(listener: BeaconListener, engine: Engine): NodeJS.Timeout {
  const samples: { at: number; valid: number }[] = [{ at: Date.now(), valid: 0 }];
  const ticker = setInterval(() => {
    const c = listener.counters();
    const now = Date.now();
    samples.push({ at: now, valid: c.valid });
    while (samples.length > 2 && now - samples[1]!.at >= RATE_WINDOW_MS) samples.shift();
    const first = samples[0]!;
    const perSecond = ((c.valid - first.valid) * 1000) / Math.max(1, now - first.at);
    engine.beaconCounters({ ...c, perSecond: Math.round(perSecond * 10) / 10 });
    engine.tick();
  }, 1000);
  ticker.unref();
  return ticker;
}

/** What the migration manager may ask of the engine and the scanner. */
function migrationHooks(engine: Engine, scanner: Scanner): MigrationEngineHooks {
  return {
    resolveVm: (ref) => engine.resolveVm(ref),
    openCriticalFindings: (uuid) =>
      engine.findings(false).filter((f) => f.vm === uuid && f.severity === 'critical' && f.state !== 'resolved'),
    beginMigration: (w) => engine.beginMigration(w),
    commitMigration: (job) => engine.commitMigration(job),
    endMigration: (job, outcome) => engine.endMigration(job, outcome),
    lastBeacon: (uuid) => engine.lastBeacon(uuid),
    waitFor: (pred, uuid, ms) => engine.waitFor(pred, uuid, ms),
    requestScan: async (hosts) => {
      await scanner.scan(hosts);
    },
  };
}

/** The migration manager, over the engine and the scanner's hosts (their drivers, statuses and domain events). */
function startMigrations(opts: RuntimeOptions, store: StoreApi, engine: Engine, scanner: Scanner, readOnlyStore: boolean) {
  const { config, log } = opts;
  return new MigrationManager({
    store,
    engine: migrationHooks(engine, scanner),
    hosts: {
      configs: () => config.hosts,
      status: (host) => scanner.statuses().find((s) => s.name === host),
      driver: (host) => scanner.driver(host),
      domainEvents: (listener) => scanner.onDomainEvent(listener),
    },
    migration: config.migration,
    executors: opts.migrationExecutors,
    readOnly: readOnlyStore,
    log,
  });
}

/**
 * The beacon listener, feeding the engine: sessions only for approved identities, replay marks kept in the store so
 * a restart reopens no replays (a read-only session writes nothing, but still knows the saved marks).
 */
function beaconListener(opts: RuntimeOptions, store: StoreApi, engine: Engine): BeaconListener {
  const listener = new BeaconListener({
    listen: opts.config.beacon.listen,
    maxSkewMs: opts.config.beacon.maxSkewS * 1000,
    keyLookup: (uuid) => {
      const publicKey = engine.knownKey(uuid);
      return publicKey === undefined ? undefined : { publicKey, approved: store.registration(uuid)?.state === 'approved' };
    },
    marks: store,
    log: opts.log,
  });
  listener.on('beacon', (ev) => engine.ingestBeacon(ev));
  return listener;
}

/** Start the beacon listener; while it runs it counts as up in `health` and /healthz. */
async function startListener(listener: BeaconListener, alerts: SessionAlerts, cleanups: (() => Promise<unknown>)[]) {
  const address = await listener.start();
  let listening = true;
  alerts.sessionHealth.addListener('beacon', () => ({ up: listening, detail: `udp ${address.address}:${address.port}` }));
  cleanups.push(async () => {
    listening = false;
    await listener.stop();
  });
  return address;
}

/** The store, as the session may use it: a read-only session opens it without the writer lock and writes nothing. */
async function openSessionStore(opts: RuntimeOptions): Promise<{ store: StoreApi; readOnlyStore: boolean }> {
  const key = requireKeySource(opts.env ?? process.env, opts.config.store.keyFile);
  const readOnlyStore = opts.readOnly && !opts.storeWriter;
  const create = !readOnlyStore && (opts.createStore ?? true);
  const opened: StoreApi = await openStore(opts.config.storePath, key, { create, readOnly: readOnlyStore });
  return { store: readOnlyStore ? readOnlyView(opened) : opened, readOnlyStore };
}

export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, log } = opts;
  const opened = await openSessionStore(opts);
  const { readOnlyStore } = opened;
  const alerts = new SessionAlerts(config, readOnlyStore, log);
  const store = alerts.storeWatch.wrap(opened.store);
  const cleanups: (() => Promise<unknown>)[] = [() => store.close(), () => alerts.close()];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => log.warn({ err: String(e) }, 'shutdown step failed'));
  };
  try {
    const { timeoutS, concurrency, intervalS, eventsIntervalS } = config.scan;
    const drivers = opts.createDriver ? { createDriver: opts.createDriver } : {};
    const scanner = new Scanner({
      hosts: config.hosts,
      timeoutMs: timeoutS * 1000,
      concurrency,
      intervalMs: intervalS * 1000,
      eventsIntervalMs: eventsIntervalS * 1000,
      log,
      ...drivers,
    });

    const engine = startEngine(opts, store, scanner, readOnlyStore, alerts);
    cleanups.push(() => engine.close());
    scanner.on('inventory', (inv) => engine.ingestInventory(inv));
    scanner.on('status', () => engine.hostStatuses(scanner.statuses()));
    engine.hostStatuses(scanner.statuses());
    cleanups.push(() => scanner.stop());

    const listener = beaconListener(opts, store, engine);
    const beaconAddress = await startListener(listener, alerts, cleanups);
    const ticker = startTicker(listener, engine);
    cleanups.push(async () => clearInterval(ticker));

    const migrations = startMigrations(opts, store, engine, scanner, readOnlyStore);
    cleanups.push(() => migrations.close());
    alerts.wire({ engine, scanner, migrations });

    const ctx: ConsoleContext = {
      actor: opts.actor,
      readOnly: opts.readOnly,
      mode: opts.mode,
      config,
      store,
      engine,
      scanner,
      migrations,
      alerts,
      log,
      now: Date.now,
    };
    const console = new Console(ctx);
    migrations.on('event', () => console.notify());
    scanner.on('status', () => console.notify());
    cleanups.push(async () => console.dispose());

    if (opts.awaitFirstScan) await scanner.scan().catch(() => {});
    scanner.start();
    await migrations.ready;

    let closed: Promise<void> | undefined;
    return { ctx, console, engine, scanner, listener, migrations, alerts, beaconAddress, close: () => (closed ??= closeAll()) };
  } catch (e) {
    await closeAll();
    if (e instanceof BillboardError) throw e;
    throw new BillboardError('INTERNAL', `could not start: ${(e as Error).message}`);
  }
}
