#!/usr/bin/env node
// npm run bench -- serve [--vms 10000] [--seconds 30] [--tuis 3] [--probes 1000] [--poll-ms 2000] [--sources 64]
//                        [--profile FILE]
//
// `billboard serve` under a lab's load with operators attached (issue 15). THIS process runs the service as
// `billboard serve` does (startService from dist/serve/service.js, with the CLI's script runner), on temp XDG dirs:
// the real encrypted store, the Engine, the BeaconListener on real UDP loopback, the SSH endpoint on an ephemeral
// port. Everything else runs in child processes, so process.cpuUsage() here is the service's CPU and nothing else:
//   - the fleet: bench/flood/generators.mjs --role fleet, --vms VMs beaconing at 1 Hz (±10%) with the real protocol
//     (signed hello with an X25519 key, authenticated ACCEPT, HMAC beacons, re-signed every DEFAULT_RESIGN_EVERY);
//     every VM is registered with its key and approved in the store before the service starts;
//   - --tuis attached consoles (this file with --client tui): `billboard --connect`'s code path — sshConnect() with
//     an identity and a strict known_hosts, exec `api`, the RemoteConsole the TUI renders from — each reading the
//     snapshot on every change, as the TUI does;
//   - one script client (this file with --client script): every --poll-ms an exec `script --json` on one SSH
//     connection running `health`, `findings`, `jobs` (what a cron check asks), as `billboard script --connect` does.
//
// Phases, each --seconds long, with the fleet running throughout: `none` (nobody attached), `clients` (all attached
// and reading), `none` again (they detached). cpuRatioVsNoClients = the clients phase's service CPU over the mean of
// the two no-client phases (the machine is shared: the two baselines bracket the measured phase).
//
// beaconDrops is exact, per beacon, from the first phase's start to the last one's end (the clients attaching and
// leaving between phases included): at each phase's start and end the fleet reports each VM's last sent seq (lo, hi);
// this process records every 'valid' event of the listener (the events runtime.ts hands to the engine) by VM and
// seq; drops = Σ (hi − lo) − |valid seqs in (lo, hi]|, counted after the beacons in flight land. Each phase has its
// own count, and dropCauses (listener counters, the socket's own drops column of /proc/net/udp) beside it.
//
// clientLagP95Ms: for --probes VMs (every Nth), the listener's event gives the beacon's ts (the agent's send time,
// same clock) per seq; each TUI client notes when its snapshot first shows that seq (lastBeacon.seq). lag = seen −
// sent, p95 over every probe beacon every client saw in the clients phase. clientBytesPerSec = the most any TUI
// client's TCP socket received per second in that phase (SSH framing and all); the script client's is beside it.
// Load average and the machine's busy CPU are reported per phase: other work on the machine shows there.
// Progress → stderr; last stdout line = one JSON object.

import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(here, '..');
const log = (s) => process.stderr.write(`serve: ${s}\n`);
function opt(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    log(`--${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}
const VMS = Math.floor(opt('vms', 10_000));
const SECONDS = opt('seconds', 30);
const TUIS = Math.floor(opt('tuis', 3));
const PROBES = Math.min(VMS, Math.floor(opt('probes', 1000)));
const POLL_MS = opt('poll-ms', 2000);
const SOURCES = Math.min(254, Math.floor(opt('sources', 64)));
const PASSPHRASE = 'serve-bench-passphrase';
/** --profile FILE: the service's main thread's CPU profile over the clients phase (a .cpuprofile for DevTools) */
const PROFILE = argv.includes('--profile') ? argv[argv.indexOf('--profile') + 1] : undefined;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

// ─── Client side (child processes) ────────────────────────────────────────────────────────────

/** An attached console: the TUI's RemoteConsole over `api`, reading the snapshot on each change. */
async function tuiClient(init) {
  const { sshConnect, execChannel } = await import('../dist/cli/connect.js');
  const { RemoteConsole } = await import('../dist/serve/remote-console.js');
  const client = await sshConnect(init.target);
  client.on('error', () => {});
  const ch = await execChannel(client, 'api');
  const remote = new RemoteConsole({ connect: async () => ch, target: 'bench', reconnect: false, onFatal: (why) => fail(why) });
  const probes = new Map(init.probes.map((u, i) => [u, i]));
  const lastSeq = new Int32Array(init.probes.length).fill(-1);
  let seen = []; // [probe index, seq, seen at, the service's snapshot time of the state that showed it]
  let updates = 0;
  const onChange = () => {
    const now = Date.now();
    updates++;
    const snap = remote.snapshot();
    for (const row of snap.rows) {
      const i = probes.get(row.uuid);
      const seq = row.lastBeacon?.seq;
      if (i === undefined || seq === undefined || seq === lastSeq[i]) continue;
      lastSeq[i] = seq;
      seen.push(i, seq, now, snap.at);
    }
  };
  remote.subscribe(onChange);
  await remote.start();
  onChange();
  process.send({ type: 'attached', rows: remote.snapshot().rows.length, bytes: client._sock.bytesRead });
  process.on('message', (m) => {
    if (m.type !== 'mark') return;
    const out = { type: 'marked', bytes: client._sock.bytesRead, updates, seen, cpuMs: cpuMs() };
    seen = [];
    process.send(out);
  });
}

/** A script that polls: `script --json` on one SSH connection every pollMs. */
async function scriptClient(init) {
  const { sshConnect, execChannel } = await import('../dist/cli/connect.js');
  const client = await sshConnect(init.target);
  client.on('error', () => {});
  const polls = [];
  let failed = 0;
  const poll = async () => {
    const t0 = performance.now();
    const ch = await execChannel(client, 'script --json');
    let out = '';
    ch.on('data', (d) => (out += d));
    ch.stderr.on('data', () => {});
    ch.end('health\nfindings\njobs\n');
    await new Promise((r) => ch.on('close', r));
    const lines = out.trim().split('\n');
    if (lines.length !== 3 || !lines.every((l) => JSON.parse(l).ok)) failed++;
    polls.push(performance.now() - t0);
  };
  let running = true;
  void (async () => {
    while (running) {
      const t = performance.now();
      await poll().catch(() => failed++);
      await sleep(Math.max(0, POLL_MS - (performance.now() - t)));
    }
  })();
  process.send({ type: 'attached', bytes: client._sock.bytesRead });
  process.on('message', (m) => {
    if (m.type !== 'mark') return;
    process.send({ type: 'marked', bytes: client._sock.bytesRead, polls: polls.splice(0), failed, cpuMs: cpuMs() });
  });
}

function cpuMs() {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

function fail(why) {
  process.stderr.write(`serve: client: ${why}\n`);
  process.exit(1);
}

// ─── Service side (this process) ──────────────────────────────────────────────────────────────

const kids = [];
function die(msg) {
  log(`ERROR: ${msg}`);
  for (const k of kids) k.kill('SIGKILL');
  process.exit(1);
}

/** A child process; ask() sends a message and waits for the answer of that type. */
function child(file, args, init, label) {
  const c = fork(file, args, { stdio: ['ignore', 2, 2, 'ipc'] });
  kids.push(c);
  const waiting = new Map();
  c.done = false;
  c.on('exit', (code, signal) => c.done || die(`${label} (pid ${c.pid}) died: ${signal ?? `exit code ${code}`}`));
  c.on('message', (m) => {
    if (m.type === 'error') die(`${label} failed: ${m.message}`);
    if (m.type === 'stopped') c.done = true;
    const w = waiting.get(m.type);
    if (w) {
      waiting.delete(m.type);
      w(m);
    }
  });
  c.ask = (msg, answer, seconds = 60) =>
    new Promise((resolve) => {
      const t = setTimeout(() => die(`${label} did not answer '${msg?.type ?? 'init'}' within ${seconds}s`), seconds * 1000);
      waiting.set(answer, (m) => (clearTimeout(t), resolve(m)));
      c.send(msg ?? init);
    });
  c.quit = () => {
    c.done = true;
    c.kill('SIGTERM');
  };
  return c;
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function sshKey(dir, name) {
  const file = path.join(dir, `id_${name}`);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@bench`, '-f', file]);
  if (r.status !== 0) die(`ssh-keygen: ${r.stderr}`);
  return { file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

/** Temp XDG dirs, operators with their keys, `billboard init` (store + host key), known_hosts with its key. */
async function lab() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-serve-bench-'));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BILLBOARD_') || k.startsWith('XDG_')) delete env[k];
  Object.assign(env, {
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    BILLBOARD_PASSPHRASE: PASSPHRASE,
  });
  fs.mkdirSync(path.join(dir, 'config', 'billboard'), { recursive: true, mode: 0o700 });
  const port = await freePort();
  const names = [...Array.from({ length: TUIS }, (_, i) => `tui${i + 1}`), 'cron'];
  const keys = Object.fromEntries(names.map((n) => [n, sshKey(dir, n)]));
  const config = {
    beacon: { listen: '127.0.0.1:0', intervalS: 1 },
    serve: { listen: `127.0.0.1:${port}` },
    log: { level: 'info' },
    operators: names.map((n) => ({ name: n, role: n === 'cron' ? 'viewer' : 'operator', keys: [keys[n].pub] })),
  };
  fs.writeFileSync(path.join(dir, 'config', 'billboard', 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  const init = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'billboard.js'), 'init'], { env, encoding: 'utf8' });
  if (init.status !== 0) die(`billboard init: ${init.stderr}`);
  const hostKey = path.join(dir, 'data', 'billboard', 'ssh_host_ed25519_key');
  const pub = spawnSync('ssh-keygen', ['-y', '-f', hostKey], { encoding: 'utf8' }).stdout.trim();
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub}\n`);
  const target = (user) => ({ user, host: '127.0.0.1', port, identityFile: keys[user].file, knownHostsFile: knownHosts });
  return { dir, env, port, names, target };
}

/** Every VM registered with its key and approved, in the store, before the service starts (group commits). */
async function register(env, vms) {
  const { loadConfig } = await import('../dist/cli/config-load.js');
  const { openStore } = await import('../dist/store/store.js');
  const { requireKeySource } = await import('../dist/store/key-source.js');
  const config = loadConfig(undefined, env);
  const store = await openStore(config.storePath, requireKeySource(env, config.store.keyFile), { create: false, readOnly: false });
  const t0 = performance.now();
  for (let i = 0; i < vms.length; i += 500) {
    await Promise.all(
      vms.slice(i, i + 500).map(async (vm) => {
        await store.register({ uuid: vm.uuid, name: vm.name, publicKey: vm.pub, macs: [vm.mac], origin: 'operator' }, 'bench');
        await store.decide(vm.uuid, 'approved', 'bench', 'serve bench');
      }),
    );
  }
  await store.compact();
  await store.close();
  log(`${vms.length} VMs registered and approved in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
}

async function startServiceHere(env) {
  const { loadConfig } = await import('../dist/cli/config-load.js');
  const { fileLogger } = await import('../dist/cli/logger.js');
  const { runScript } = await import('../dist/cli/script.js');
  const { startService } = await import('../dist/serve/service.js');
  const config = loadConfig(undefined, env);
  const logger = fileLogger(config.logPath, config.log.level);
  return startService({
    config,
    log: logger,
    reloadConfig: () => loadConfig(undefined, env),
    runScript,
    consoleChild: [process.execPath, path.join(ROOT, 'bin', 'billboard.js'), '__console-child'],
    env,
  });
}

/** Each VM's valid seqs, and each probe beacon's send time (its ts) by seq. */
function recordBeacons(listener, vms, probeEvery) {
  const index = new Map(vms.map((v, i) => [v.uuid, i]));
  const seqs = vms.map(() => []);
  const sentAt = new Map(); // `${probe}:${seq}` → ts
  let other = 0;
  listener.on('beacon', (ev) => {
    const i = index.get(ev.beacon?.uuid);
    if (i === undefined) return;
    if (ev.verdict !== 'valid') return void other++;
    seqs[i].push(ev.beacon.seq);
    if (i % probeEvery === 0) sentAt.set(`${i / probeEvery}:${ev.beacon.seq}`, [ev.beacon.ts, ev.receivedAt]);
  });
  const drops = (lo, hi) => {
    let d = 0;
    for (let i = 0; i < vms.length; i++) d += hi[i] - lo[i] - seqs[i].filter((s) => s > lo[i] && s <= hi[i]).length;
    return d;
  };
  return { drops, sentAt, other: () => other };
}

/** The `drops` column of /proc/net/udp for the socket bound to 127.0.0.1:port (exact, per socket). */
function socketDrops(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === want) return Number(f[f.length - 1]);
  }
  return NaN;
}

async function profiler() {
  const { Session } = await import('node:inspector/promises');
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await s.post('Profiler.stop');
      fs.writeFileSync(file, JSON.stringify(profile));
      s.disconnect();
    },
  };
}

function machineBusy() {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

/** One measured window: service CPU, event loop delay, load, drops, and (with clients) their lag and bytes. */
async function phase(label, ctx) {
  const { fleet, rec, clients, listener, port } = ctx;
  const eld = monitorEventLoopDelay({ resolution: 10 });
  const lo = (await fleet.ask({ type: 'mark' }, 'marked')).seqs;
  for (const [k, m] of (await Promise.all(clients.map((c) => c.ask({ type: 'mark' }, 'marked')))).entries()) {
    ctx.bytesAt[k] = m.bytes;
    ctx.cpuAt[k] = m.cpuMs;
  }
  const prof = PROFILE && clients.length ? await profiler() : undefined;
  const busy0 = machineBusy();
  const c0 = { ...listener.counters(), socket: socketDrops(port) };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  eld.enable();
  await sleep(SECONDS * 1000);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  eld.disable();
  const busy1 = machineBusy();
  await prof?.stop(PROFILE);
  const hi = (await fleet.ask({ type: 'mark' }, 'marked')).seqs;
  const marks = await Promise.all(clients.map((c) => c.ask({ type: 'mark' }, 'marked')));
  await sleep(1500); // beacons sent before the mark land and are judged
  const c1 = { ...listener.counters(), socket: socketDrops(port) };
  const causes = Object.fromEntries(
    ['rate-limited', 'overload', 'late', 'replay', 'sessionMiss', 'malformed', 'socket']
      .map((k) => [k, c1[k] - c0[k]])
      .filter(([, v]) => v !== 0 && !Number.isNaN(v)),
  );
  const beacons = hi.reduce((n, h, i) => n + h - lo[i], 0);
  const out = {
    label,
    seconds: r1(wall / 1000),
    serviceCpuPct: r1(((cpu.user + cpu.system) / 1000 / wall) * 100),
    eventLoopDelayP99Ms: r1(eld.percentile(99) / 1e6),
    loadAvg1: r1(os.loadavg()[0]),
    machineBusyPct: r1((1 - (busy1.idle - busy0.idle) / (busy1.total - busy0.total)) * 100),
    beacons,
    beaconDrops: rec.drops(lo, hi),
    dropCauses: causes,
  };
  if (clients.length) Object.assign(out, clientNumbers(ctx, marks, wall));
  log(`[${label}] ${JSON.stringify(out)}`);
  Object.defineProperty(out, 'seqs', { value: { lo, hi, socket: [c0.socket, c1.socket] } }); // not in the JSON
  return out;
}

function clientNumbers(ctx, marks, wall) {
  const lags = [];
  const served = []; // sent → in the service's snapshot (ingest, and the feed's wait for its next flush)
  const ingest = []; // sent → judged by the listener
  const bytes = [];
  const cpus = [];
  let unmatched = 0;
  let updates = 0;
  const script = {};
  for (const [k, m] of marks.entries()) {
    const perSec = r1((m.bytes - ctx.bytesAt[k]) / (wall / 1000));
    ctx.bytesAt[k] = m.bytes;
    const cpuPct = r1(((m.cpuMs - ctx.cpuAt[k]) / wall) * 100);
    ctx.cpuAt[k] = m.cpuMs;
    if (ctx.clients[k].kind === 'script') {
      Object.assign(script, { cpuPct, bytesPerSec: perSec, polls: m.polls.length, pollP95Ms: r1(pct(m.polls, 95)), failed: m.failed });
      continue;
    }
    bytes.push(perSec);
    cpus.push(cpuPct);
    updates += m.updates;
    for (let j = 0; j < m.seen.length; j += 4) {
      const [sent, received] = ctx.rec.sentAt.get(`${m.seen[j]}:${m.seen[j + 1]}`) ?? [];
      if (sent === undefined) unmatched++;
      else {
        ingest.push(received - sent);
        lags.push(m.seen[j + 2] - sent);
        served.push(m.seen[j + 3] - sent);
      }
    }
  }
  return {
    clientLagP50Ms: r1(pct(lags, 50)),
    clientLagP95Ms: r1(pct(lags, 95)),
    clientLagMaxMs: r1(pct(lags, 100)),
    serviceLagP95Ms: r1(pct(served, 95)),
    ingestLagP95Ms: r1(pct(ingest, 95)),
    lagSamples: lags.length,
    lagUnmatched: unmatched,
    clientBytesPerSec: Math.max(...bytes),
    tuiBytesPerSec: bytes,
    tuiCpuPct: cpus,
    tuiUpdatesPerSec: r1(updates / bytes.length / (wall / 1000)),
    script,
  };
}

async function attachClients(l, vms, probeEvery) {
  const probes = vms.filter((_, i) => i % probeEvery === 0).map((v) => v.uuid);
  const self = fileURLToPath(import.meta.url);
  const clients = l.names.map((name) => {
    const kind = name === 'cron' ? 'script' : 'tui';
    const c = child(self, [...argv, '--client', kind], { target: l.target(name), probes }, `${kind} client ${name}`);
    c.kind = kind;
    return c;
  });
  const t0 = performance.now();
  const hello = await Promise.all(clients.map((c) => c.ask(undefined, 'attached', 120)));
  log(
    `${clients.length} clients attached in ${Math.round(performance.now() - t0)} ms (${hello.map((h) => h.rows ?? 'script').join(', ')} rows)`,
  );
  return { clients, bytesAt: [], cpuAt: [] };
}

async function main() {
  const l = await lab();
  log(`lab in ${l.dir}; generating ${VMS} VM keys`);
  const vms = (await import('./fleet.mjs')).fleetIdentities(VMS);
  await register(l.env, vms);
  const service = await startServiceHere(l.env);
  const rt = service.runtime;
  const probeEvery = Math.max(1, Math.floor(VMS / PROBES));
  const rec = recordBeacons(rt.listener, vms, probeEvery);
  log(`service: ssh 127.0.0.1:${service.ssh.address.port}, beacons udp ${rt.beaconAddress.port}`);
  const fleet = child(path.join(here, 'flood', 'generators.mjs'), ['--role', 'fleet'], undefined, 'fleet');
  await fleet.ask({ vms, sources: SOURCES, port: rt.beaconAddress.port }, 'started', 120);
  for (let waited = 0; rt.listener.counters().sessions < VMS; waited += 500) {
    if (waited > 120_000) die(`only ${rt.listener.counters().sessions} of ${VMS} VMs hold a session after 120 s`);
    await sleep(500);
  }
  log(`${VMS} VMs hold a session; settling 5 s`);
  await sleep(5000);
  const ctx = { fleet, rec, clients: [], listener: rt.listener, port: rt.beaconAddress.port };
  const none1 = await phase('none', ctx);
  const attached = await attachClients(l, vms, probeEvery);
  Object.assign(ctx, attached);
  await sleep(3000);
  const withClients = await phase('clients', ctx);
  for (const c of ctx.clients) c.quit();
  ctx.clients = [];
  await sleep(3000);
  const none2 = await phase('none', ctx);
  fleet.send({ type: 'stop' });
  await service.close();
  fs.rmSync(l.dir, { recursive: true, force: true });
  const baseCpu = (none1.serviceCpuPct + none2.serviceCpuPct) / 2;
  const result = {
    vms: VMS,
    clients: attached.clients.length,
    // every beacon from the first phase's start to the last one's end, the attaching and detaching between included
    beaconDrops: rec.drops(none1.seqs.lo, none2.seqs.hi),
    socketDropsWholeRun: none2.seqs.socket[1] - none1.seqs.socket[0],
    serviceCpuPct: withClients.serviceCpuPct,
    cpuRatioVsNoClients: Math.round((withClients.serviceCpuPct / baseCpu) * 100) / 100,
    clientLagP95Ms: withClients.clientLagP95Ms,
    clientBytesPerSec: withClients.clientBytesPerSec,
    cores: os.availableParallelism(),
    loadAvg: os.loadavg().map(r1),
    otherVerdicts: rec.other(),
    phases: [none1, withClients, none2],
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

const role = argv.includes('--client') ? argv[argv.indexOf('--client') + 1] : undefined;
if (role) {
  process.on('disconnect', () => process.exit(0));
  process.once('message', (init) => void (role === 'tui' ? tuiClient(init) : scriptClient(init)).catch((e) => fail(e?.stack ?? e)));
} else await main();
