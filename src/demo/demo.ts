import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileLogger } from '../cli/logger.js';
import { resolveConfig } from '../cli/config-load.js';
import { runLine } from '../console/dispatch.js';
import { startRuntime, type Runtime } from '../console/runtime.js';
import { configSchema, type ResolvedConfig } from '../model/config.js';
import { SimulatedExecutor } from '../migration/simulated-executor.js';
import { BillboardError } from '../model/errors.js';
import { makeKey, DemoAgents, type AgentKey } from './agents.js';
import { DEMO_VMS, INTRUDER, TIMELINE } from './cast.js';
import { DemoLab } from './lab.js';

export interface DemoOptions {
  readOnly: boolean;
  actor: string;
  mode: 'script' | 'tui';
  body: (rt: Runtime) => Promise<number>;
  /** told where things are (script mode prints nothing extra to stdout) */
  note?: (line: string) => void;
}

const INTERVAL_S = 2;

/**
 * `billboard demo` / `script --demo`: a throwaway lab that needs nothing but the installed packages —
 * three libvirt test-driver hosts, a fresh encrypted store, real agents over real UDP — and a minute of
 * incidents. Everything (agents, sockets, temp folder) is gone when it returns, including on ctrl-c.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'billboard-demo-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', removeDir);
  const timers: NodeJS.Timeout[] = [];
  let agents: DemoAgents | undefined;
  let rt: Runtime | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      timers.forEach(clearTimeout);
      await agents?.stopAll().catch(() => {});
      await rt?.close().catch(() => {});
      removeDir();
      process.off('exit', removeDir);
    })());
  // `on`, not `once`: Ink's signal-exit re-raises a signal when no other listener is left, which would kill the
  // process before the clean-up finishes. A second signal while cleaning up ends it at once, agents and folder
  // still removed (synchronously, by the exit handlers).
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(130);
    signalled = true;
    void cleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    const lab = new DemoLab(dir, DEMO_VMS);
    const config = demoConfig(dir, lab);
    rt = await startRuntime({
      config,
      actor: opts.actor,
      readOnly: opts.readOnly,
      storeWriter: true, // the demo's own throwaway store: its baseline is written even in a read-only demo
      mode: opts.mode,
      log: fileLogger(config.logPath, config.log.level),
      env: { ...process.env, BILLBOARD_PASSPHRASE: randomBytes(24).toString('base64') },
      awaitFirstScan: true,
      // test-driver hosts cannot migrate: the pre-copy model runs the move, and the lab moves the domain at commitment
      migrationExecutors: { simulated: new SimulatedExecutor({ move: (uuid, from, to) => lab.move(uuid, from, to) }) },
      createDriver: lab.createDriver,
    });

    const keys = await writeBaseline(rt, dir);
    agents = new DemoAgents(dir, `127.0.0.1:${rt.beaconAddress.port}`, INTERVAL_S);
    const a = agents;
    lab.onDown = (host, uuid) => a.stopIn(host, uuid);
    lab.onMoved = (uuid, from, to) => a.moved(uuid, from, to);
    for (const v of DEMO_VMS) if (v.agent && v.state === 'running') agents.start(v.name, v, keys.get(v.name)!, { host: v.host });
    scheduleIncidents({ dir, lab, rt, agents, keys, timers });

    opts.note?.(`demo lab in ${dir}: hosts lab-a, lab-b, lab-c (libvirt test driver); beacons on 127.0.0.1:${rt.beaconAddress.port}`);
    return await opts.body(rt);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    await cleanup();
  }
}

function demoConfig(dir: string, lab: DemoLab): ResolvedConfig {
  return resolveConfig(
    configSchema.parse({
      store: { path: join(dir, 'store.db') },
      log: { path: join(dir, 'billboard.log'), level: 'info' },
      beacon: { listen: '127.0.0.1:0', intervalS: INTERVAL_S, missedBeforeSilent: 3, maxSkewS: 60 },
      scan: { intervalS: 3, timeoutS: 5, concurrency: 3 },
      hosts: lab.hostConfigs(),
      migration: { transport: 'tunnelled', bandwidthMiBs: 256, maxDowntimeMs: 300 },
      policy: { enforcement: 'ask' },
    }),
    undefined,
  );
}

/** The shop's known-good baseline, through the same commands an operator would type. @returns the agents' keys */
async function writeBaseline(rt: Runtime, dir: string): Promise<Map<string, AgentKey>> {
  const setup = { ...rt.ctx, readOnly: false, actor: 'demo-setup' };
  const keys = new Map<string, AgentKey>();
  for (const v of DEMO_VMS) {
    if (v.agent) keys.set(v.name, makeKey(dir, v.name));
    if (!v.approved) continue;
    const key = keys.get(v.name);
    const macs = v.macs.map((m) => `--mac ${m}`).join(' ');
    const register = `register ${v.name} --uuid ${v.uuid} ${macs} --os ${v.os} --host ${v.host}${key ? ` --pubkey ${key.publicKey}` : ''}`;
    for (const line of [register, `approve ${v.name} --note "demo baseline"`]) {
      const r = await runLine(line, setup);
      if (!r.ok) throw new BillboardError('INTERNAL', `demo setup failed at "${line}": ${r.error.message}`);
    }
  }
  return keys;
}

interface DemoScene {
  dir: string;
  lab: DemoLab;
  rt: Runtime;
  agents: DemoAgents;
  keys: Map<string, AgentKey>;
  timers: NodeJS.Timeout[];
}

/** The demo's first minute of incidents, on timers the clean-up clears. */
function scheduleIncidents({ dir, lab, rt, agents, keys, timers }: DemoScene): void {
  const at = (ms: number, f: () => Promise<void> | void) =>
    timers.push(setTimeout(() => void Promise.resolve(f()).catch((e) => rt.ctx.log.warn({ err: String(e) }, 'demo incident failed')), ms));
  const byName = (n: string) => DEMO_VMS.find((v) => v.name === n)!;
  // An unregistered VM appears on lab-c, beaconing with a key nobody approved.
  at(TIMELINE.unregisteredAtMs, async () => {
    await lab.start('lab-c', INTRUDER);
    agents.start(INTRUDER.name, INTRUDER, makeKey(dir, INTRUDER.name), { host: 'lab-c' });
    void rt.scanner.scan(['lab-c']).catch(() => {});
  });
  // cache-01's agent falls silent while its domain keeps running.
  at(TIMELINE.silentAtMs, () => agents.stop('cache-01'));
  // A clone of db-01 (same UUID, MAC and key: a copied disk) boots on lab-b.
  at(TIMELINE.cloneAtMs, async () => {
    const db = byName('db-01');
    await lab.start('lab-b', db);
    agents.start('db-01-clone', db, keys.get('db-01')!, { host: 'lab-b' });
  });
  // Someone beacons as web-02 with a key of their own.
  at(TIMELINE.forgedAtMs, () => agents.start('forger', byName('web-02'), makeKey(dir, 'forger')));
}
