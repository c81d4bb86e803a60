import type { Logger } from 'pino';
import { BeaconListener } from '../beacon/listener.js';
import { Engine } from '../billboard/engine.js';
import { Scanner } from '../hosts/scanner.js';
import { MigrationManager } from '../migration/manager.js';
import type { MigrationExecutors } from '../migration/executor.js';
import type { MigrationEngineHooks } from '../migration/hooks.js';
import type { ResolvedConfig } from '../model/config.js';
import { BillboardError } from '../model/errors.js';
import type { HostDriver } from '../model/host-driver.js';
import type { StoreApi } from '../store/api.js';
import { openStore } from '../store/store.js';
import { requireKeySource } from '../store/key-source.js';
import { Console } from './console.js';
import { readOnlyView } from './read-only-store.js';
import type { ConsoleContext } from './context.js';

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
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, log } = opts;
  const env = opts.env ?? process.env;
  const key = requireKeySource(env, config.store.keyFile);
  const readOnlyStore = opts.readOnly && !opts.storeWriter;
  const opened: StoreApi = await openStore(config.storePath, key, {
    create: !readOnlyStore && (opts.createStore ?? true),
    readOnly: readOnlyStore,
  });
  const store = readOnlyStore ? readOnlyView(opened) : opened;
  const cleanups: (() => Promise<unknown>)[] = [() => store.close()];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => log.warn({ err: String(e) }, 'shutdown step failed'));
  };
  try {
    const scanner = new Scanner({
      hosts: config.hosts,
      timeoutMs: config.scan.timeoutS * 1000,
      concurrency: config.scan.concurrency,
      intervalMs: config.scan.intervalS * 1000,
      log,
      ...(opts.createDriver ? { createDriver: opts.createDriver } : {}),
    });
    const driver = (host: string): HostDriver => scanner.driver(host);

    const engine = new Engine({
      store,
      beaconIntervalS: config.beacon.intervalS,
      missedBeforeSilent: config.beacon.missedBeforeSilent,
      enforcement: opts.readOnly ? 'ask' : config.policy.enforcement,
      readOnly: readOnlyStore,
      requestScan: (hosts) => void scanner.scan(hosts).catch(() => {}),
      // Policy enforcement: the request is on disk before the host is touched (no log, no action);
      // the engine audits the outcome.
      enforce: async (action, uuid, host, reason, stillWarranted) => {
        if (opts.readOnly) return false;
        await store.audit('policy', `${action}-requested`, uuid, { host, reason });
        if (!stillWarranted()) return false;
        const d = driver(host);
        await (action === 'stop' ? d.stop(uuid) : d.isolate(uuid));
        void scanner.scan([host]).catch(() => {});
        return true;
      },
      log,
    });
    cleanups.push(() => engine.close());

    scanner.on('inventory', (inv) => engine.ingestInventory(inv));
    scanner.on('status', () => engine.hostStatuses(scanner.statuses()));
    engine.hostStatuses(scanner.statuses());
    cleanups.push(() => scanner.stop());

    const listener = new BeaconListener({
      listen: config.beacon.listen,
      maxSkewMs: config.beacon.maxSkewS * 1000,
      // sessions only for approved identities; replay marks kept in the store so a restart reopens no replays
      keyLookup: (uuid) => {
        const publicKey = engine.knownKey(uuid);
        return publicKey === undefined ? undefined : { publicKey, approved: store.registration(uuid)?.state === 'approved' };
      },
      // a read-only session writes nothing, but still knows the saved marks
      marks: store,
      log,
    });
    listener.on('beacon', (ev) => engine.ingestBeacon(ev));
    const beaconAddress = await listener.start();
    cleanups.push(() => listener.stop());

    // Time-based detectors (SILENT, PHANTOM) and the header's beacons/s.
    let lastValid = 0;
    let lastAt = Date.now();
    const ticker = setInterval(() => {
      const c = listener.counters();
      const now = Date.now();
      const perSecond = ((c.valid - lastValid) * 1000) / Math.max(1, now - lastAt);
      lastValid = c.valid;
      lastAt = now;
      engine.beaconCounters({ ...c, perSecond: Math.round(perSecond * 10) / 10 });
      engine.tick();
    }, 1000);
    ticker.unref();
    cleanups.push(async () => clearInterval(ticker));

    const hooks: MigrationEngineHooks = {
      resolveVm: (ref) => engine.resolveVm(ref),
      openCriticalFindings: (uuid) => engine.findings(false).filter((f) => f.vm === uuid && f.severity === 'critical' && f.state !== 'resolved'),
      beginMigration: (w) => engine.beginMigration(w),
      commitMigration: (job) => engine.commitMigration(job),
      endMigration: (job, outcome) => engine.endMigration(job, outcome),
      lastBeacon: (uuid) => engine.lastBeacon(uuid),
      waitFor: (pred, uuid, ms) => engine.waitFor(pred, uuid, ms),
      requestScan: async (hosts) => {
        await scanner.scan(hosts);
      },
    };
    const migrations = new MigrationManager({
      store,
      engine: hooks,
      hosts: {
        configs: () => config.hosts,
        status: (host) => scanner.statuses().find((s) => s.name === host),
        driver,
      },
      migration: config.migration,
      executors: opts.migrationExecutors,
      readOnly: readOnlyStore,
      log,
    });
    cleanups.push(() => migrations.close());

    const ctx: ConsoleContext = {
      actor: opts.actor,
      readOnly: opts.readOnly,
      mode: opts.mode,
      config,
      store,
      engine,
      scanner,
      migrations,
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
    return {
      ctx,
      console,
      engine,
      scanner,
      listener,
      migrations,
      beaconAddress,
      close: () => (closed ??= closeAll()),
    };
  } catch (e) {
    await closeAll();
    if (e instanceof BillboardError) throw e;
    throw new BillboardError('INTERNAL', `could not start: ${(e as Error).message}`);
  }
}
