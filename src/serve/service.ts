import type { Logger } from 'pino';
import type ssh2 from 'ssh2';
import { Console } from '../console/console.js';
import { startRuntime, type Runtime } from '../console/runtime.js';
import { hostChanges } from '../hosts/host-changes.js';
import type { ResolvedConfig } from '../model/config.js';
import { errorLine } from '../model/errors.js';
import { Feed } from './feed.js';
import { loadHostKey } from './host-key.js';
import { startMetrics, type MetricsServer } from './metrics/index.js';
import { OperatorDirectory, type Operator } from './operators.js';
import { runSession, type SessionDeps, type ScriptRunner } from './sessions.js';
import { startSshEndpoint, type SshEndpoint } from './ssh-endpoint.js';

// `billboard serve`: what an embedded session runs (listener, scans, engine, migrations, the store as its only
// writer), standing, with an SSH endpoint where operators attach under their own keys. SIGHUP reloads the config
// (reload()): hosts, operators, policy.admission and admission.* change without a restart, the change is audited before
// it is applied, a bad file (or a change that cannot be audited) changes nothing, and reloads run one at a time.

export interface ServiceOptions {
  config: ResolvedConfig;
  log: Logger;
  /** read the config file again (SIGHUP); throws a one-line error when it is not valid */
  reloadConfig: () => ResolvedConfig;
  /** `script` over an exec channel: the CLI's runner */
  runScript: ScriptRunner;
  /** argv that starts a console child for an `ssh -t` session ([node, bin/billboard.js, '__console-child']) */
  consoleChild: string[];
  env?: NodeJS.ProcessEnv;
}

export interface Service {
  runtime: Runtime;
  ssh: SshEndpoint;
  reload(): Promise<{ ok: true; summary: string } | { ok: false; error: string }>;
  close(): Promise<void>;
}

/** connections at once (operators, scripts, hooks): enough for a lab, bounded for a flood */
const MAX_CONNECTIONS = 256;

export async function startService(opts: ServiceOptions): Promise<Service> {
  const { log } = opts;
  const hostKey = await loadHostKey(opts.config.hostKeyPath!);
  let directory = new OperatorDirectory(opts.config.operators);
  // the service is the writer of a store `init` made: a missing one is an error, not a new empty store
  const runtime = await startRuntime({
    config: opts.config,
    actor: 'service',
    readOnly: false,
    mode: 'script',
    log,
    createStore: false,
    env: opts.env,
  });
  const attached = new Map<ssh2.Connection, Operator>();
  const feed = serviceFeed(runtime, attached);
  const deps: SessionDeps = {
    runtime,
    feed,
    log,
    runScript: opts.runScript,
    consoleChild: opts.consoleChild,
    console: (op, readOnly) => new Console({ ...runtime.ctx, actor: op.name, role: op.role, readOnly }),
  };
  let ssh: SshEndpoint;
  try {
    ssh = await startSshEndpoint({
      listen: opts.config.serve.listen,
      hostKey: hostKey.privateKey,
      operators: () => directory,
      log,
      maxConnections: MAX_CONNECTIONS,
      onClient: (op, conn) => {
        attached.set(conn, op);
        feed.poke();
        conn.on('close', () => {
          attached.delete(conn);
          feed.poke();
          log.info({ operator: op.name }, 'operator detached');
        });
      },
      onSession: (op, req) => runSession(op, req, deps),
    });
  } catch (e) {
    await runtime.close();
    throw e;
  }
  const metrics = await serviceMetrics(opts.config, runtime, attached).catch(async (e: unknown) => {
    await ssh.close();
    await runtime.close();
    throw e;
  });
  logStarted(log, ssh, runtime, hostKey.fingerprint, opts.config.operators.length);

  const reload = oneAtATime(() =>
    reloadService({
      runtime,
      attached,
      feed,
      log,
      reloadConfig: opts.reloadConfig,
      directory: () => directory,
      setDirectory: (d) => (directory = d),
    }),
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const conn of attached.keys()) conn.end();
      feed.close();
      await Promise.race([ssh.close(), new Promise((r) => setTimeout(r, 2000))]);
      await metrics?.close();
      await runtime.close();
    })());
  return { runtime, ssh, reload, close };
}

/**
 * `run`, one call at a time: reloads run one after another, since two SIGHUPs close together would otherwise
 * interleave at their awaits (the audit, setHosts) and the older file could end in force. Each reads the file when its
 * turn comes, so the last signal's file is the one in force.
 */
function oneAtATime<T>(run: () => Promise<T>): () => Promise<T> {
  let turn: Promise<unknown> = Promise.resolve();
  return () => {
    const mine = turn.then(run);
    turn = mine.catch(() => {});
    return mine;
  };
}

function logStarted(log: Logger, ssh: SshEndpoint, runtime: Runtime, hostKey: string, operators: number): void {
  const at = `${ssh.address.address}:${ssh.address.port}`;
  log.info({ ssh: at, beacons: runtime.beaconAddress, hostKey, operators }, 'service started');
}

interface ReloadDeps {
  runtime: Runtime;
  attached: Map<ssh2.Connection, Operator>;
  feed: Feed;
  log: Logger;
  reloadConfig: () => ResolvedConfig;
  directory: () => OperatorDirectory;
  setDirectory: (d: OperatorDirectory) => void;
}

/**
 * SIGHUP: read the config again; hosts, operators and admission change in place, a bad file changes nothing. The
 * change is audited first and applied only once its record is written: an admit answered under the new policy never
 * precedes the change in the audit chain, and a change that cannot be audited is not made. `admit` and the scans' hook
 * judgement read the config object at each use, so changing its admission settings here is what applies them.
 */
async function reloadService(d: ReloadDeps): Promise<{ ok: true; summary: string } | { ok: false; error: string }> {
  const { runtime, log } = d;
  let next: ResolvedConfig;
  let nextDirectory: OperatorDirectory;
  try {
    next = d.reloadConfig();
    nextDirectory = new OperatorDirectory(next.operators);
  } catch (e) {
    const error = errorLine(e);
    log.error({ err: error }, 'config reload refused: keeping the running config');
    return { ok: false, error };
  }
  const cur = runtime.ctx.config;
  const hosts = hostChanges(cur.hosts, next.hosts);
  const ops = operatorChanges(d.directory(), nextDirectory);
  const admission = admissionChanges(cur, next);
  const restart = restartOnly(cur, next);
  const details = {
    hosts,
    operators: ops,
    ...(admission.length ? { admission } : {}),
    ...(restart.length ? { needRestart: restart } : {}),
  };
  try {
    await runtime.ctx.store.audit('service', 'config-reloaded', next.file ?? '(defaults)', details);
  } catch (e) {
    const error = `the change cannot be audited, so none of it is applied (${errorLine(e)})`;
    log.error({ err: errorLine(e) }, 'config reload not applied: its audit record could not be written; keeping the running config');
    return { ok: false, error };
  }
  // admission and operators are in force before setHosts waits on the hosts it closes
  cur.policy.admission = next.policy.admission;
  cur.admission = next.admission;
  d.setDirectory(nextDirectory);
  cur.operators = next.operators;
  // a removed operator, or one whose role or keys changed, is detached: they attach again under the new config
  for (const [conn, op] of d.attached) if (ops.removed.includes(op.name) || ops.changed.includes(op.name)) conn.end();
  await runtime.scanner.setHosts(next.hosts);
  cur.hosts = next.hosts;
  runtime.engine.hostStatuses(runtime.scanner.statuses());
  // which hooks count as installed may have changed: every host is judged again now rather than at its next scan
  const rejudge = admission.some((c) => c.setting === 'policy.admission' || c.setting === 'admission.hookSha256');
  const rescan = rejudge ? undefined : [...hosts.added, ...hosts.changed];
  if (!rescan || rescan.length) void runtime.scanner.scan(rescan).catch(() => {});
  d.feed.poke();
  const summary = describeReload(hosts, ops, admission, restart);
  log.info({ ...details }, `config reloaded: ${summary}`);
  return { ok: true, summary };
}

/** `serve.metrics`: /metrics and /healthz, when the config asks for them */
async function serviceMetrics(
  config: ResolvedConfig,
  runtime: Runtime,
  attached: Map<ssh2.Connection, Operator>,
): Promise<MetricsServer | undefined> {
  if (config.serve.metrics === 'off') return undefined;
  return startMetrics(config.serve.metrics, { runtime, attachedOperators: () => new Set([...attached.values()].map((o) => o.name)).size });
}

/** the feed of attached consoles, poked whenever the service's console sees a change */
function serviceFeed(runtime: Runtime, attached: Map<ssh2.Connection, Operator>): Feed {
  const c = runtime.console;
  const feed = new Feed({
    snapshot: () => c.snapshot(),
    jobs: () => c.jobs(),
    pending: () => c.pending(),
    auditLog: (n) => c.auditLog(n),
    attached: () => [...new Set([...attached.values()].map((o) => o.name))].sort(),
  });
  c.subscribe(() => feed.poke());
  return feed;
}

function operatorChanges(a: OperatorDirectory, b: OperatorDirectory) {
  const before = a.summary();
  const after = b.summary();
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    changed: [...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n)),
  };
}

/** what a SIGHUP applies, and what needs a restart: one list each, so `serve --help` says what the reload does */
export const RELOAD_APPLIES = ['hosts', 'operators', 'policy.admission', 'admission.*'] as const;
export const RESTART_ONLY = ['store', 'log', 'beacon', 'scan', 'migration', 'alerts', 'serve', 'policy.enforcement'] as const;

/** settings a reload does not apply (they need a restart): named, so the operator knows */
function restartOnly(cur: ResolvedConfig, next: ResolvedConfig): string[] {
  const at = (c: ResolvedConfig, setting: string) => setting.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], c);
  return RESTART_ONLY.filter((k) => JSON.stringify(at(cur, k)) !== JSON.stringify(at(next, k)));
}

interface SettingChange {
  setting: string;
  from: unknown;
  to: unknown;
}

/** what a reload changes of admission: policy.admission, and admission.* (install-hook writes those into new hooks) */
function admissionChanges(cur: ResolvedConfig, next: ResolvedConfig): SettingChange[] {
  const pairs: [string, unknown, unknown][] = [
    ['policy.admission', cur.policy.admission, next.policy.admission],
    ['admission.unreachable', cur.admission.unreachable, next.admission.unreachable],
    ['admission.timeoutS', cur.admission.timeoutS, next.admission.timeoutS],
    ['admission.hookSha256', cur.admission.hookSha256, next.admission.hookSha256],
  ];
  return pairs.filter(([, a, b]) => JSON.stringify(a) !== JSON.stringify(b)).map(([setting, from, to]) => ({ setting, from, to }));
}

function describeAdmission(c: SettingChange): string {
  const show = (v: unknown) => (Array.isArray(v) ? `[${v.length} hash${v.length === 1 ? '' : 'es'}]` : String(v));
  const note = c.setting === 'admission.unreachable' || c.setting === 'admission.timeoutS' ? ' (for hooks installed from now on)' : '';
  return `${c.setting} ${show(c.from)} → ${show(c.to)}${note}`;
}

function describeReload(
  h: { added: string[]; removed: string[]; changed: string[] },
  o: { added: string[]; removed: string[]; changed: string[] },
  admission: SettingChange[],
  restart: string[],
): string {
  const part = (what: string, x: { added: string[]; removed: string[]; changed: string[] }) =>
    [
      x.added.length ? `${what} added ${x.added.join(', ')}` : '',
      x.removed.length ? `${what} removed ${x.removed.join(', ')}` : '',
      x.changed.length ? `${what} changed ${x.changed.join(', ')}` : '',
    ].filter(Boolean);
  const parts = [...part('hosts', h), ...part('operators', o), ...admission.map(describeAdmission)];
  if (restart.length) parts.push(`${restart.join(', ')} changed: applied on the next restart`);
  return parts.join('; ') || 'no change';
}
