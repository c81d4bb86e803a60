#!/usr/bin/env node
// npm run bench -- flood [--offered 10000] [--seconds 30] [--legit 1000] [--sources 1|1000|both] [--fresh 100]
//                        [--baseline] [--keep] [--rcvbuf BYTES]
//
// What spoofed UDP costs the whole console stack (issue 13.3), as `billboard script` runs it: startRuntime() from
// dist/console/runtime.js in THIS process, on temp XDG dirs (config, store, log) with BILLBOARD_PASSPHRASE — the
// real encrypted store on a temp file, the Engine, the BeaconListener on real UDP loopback, wired by runtime.ts.
// The load comes from two child processes (bench/flood/generators.mjs --role fleet / junk), so this process's
// CPU (process.cpuUsage: main thread + verify workers) is the console's and nothing else.
//
// Setup, once: --legit VMs are registered with their Ed25519 public key and approved through the console's own
// commands (`register vm-N --uuid U --pubkey K --mac M`, `approve U`). That store file is copied for each phase,
// so every phase starts from the same fresh store. A phase (one per --sources value; --baseline adds one with no
// junk, which tells the fleet's own cost apart):
//   1. the legit fleet beacons at 1 Hz (±10%) with the real protocol (dist/beacon/wire.js: signed hello with an
//      X25519 key, authenticated ACCEPT, HMAC beacons, a fresh signature every DEFAULT_RESIGN_EVERY) from 64
//      addresses 127.0.2.x; once every VM holds a session the store is compacted (a clean "before");
//   2. for --seconds the junk generator sends --offered datagrams/s from 1 address (127.1.0.1) or from 1000
//      (127.1.x.y): real signed beacons (16 real keys, a hello with an X25519 key every other one) with a FRESH
//      random UUID and random signature bytes each; --fresh of them per second are brand-new identities (fresh
//      key, fresh UUID, validly self-signed), which must run into the engine's caps;
//   3. the junk and the fleet stop, the listener drains, and the store, engine and listener are read.
//
// legitDrops is exact, per beacon. When the window opens and when it closes, the fleet reports each VM's last
// sent seq (lo, hi). Each beacon a VM sends carries its own seq, and the listener emits at most one 'valid' event
// per identity and seq (a second one is a replay). This process listens to the listener's 'beacon' events — the
// same events runtime.ts hands synchronously to engine.ingestBeacon — and keeps each legit VM's valid seqs.
// legitDrops = Σ over VMs of (hi − lo) − |valid seqs in (lo, hi]|, counted after the drain. A beacon is lost
// whatever the cause: a kernel socket drop, the rate limit, verify-queue overload, a session miss, or 'late'
// (judged after a newer one, so never emitted); the causes are listed beside it (listener counter deltas, the
// socket's own drops column of /proc/net/udp). legitRowsBehind cross-checks the engine: rows whose
// lastBeacon.seq is not the VM's last sent seq once it stopped.
//
// storeGrowthBytes = store file size at the end of the window − after the pre-window compaction (a compaction in
// the window shrinks the file: `compactions` says how many ran). storeAppendedBytes = every byte the journal
// appended in the window (counted by wrapping the store's journal io; null if that is not reachable).
// storePersistentGrowthBytes = compacted size after the session closed − compacted size before: what stays.
// cpuPct = the console process's CPU over the window, % of one core; `console` has its main thread's share and its
// run-queue wait, and each burst of socket drops beside them (a main thread that waits for a CPU while the socket
// overflows is starved; one that runs flat out cannot keep up). findingsOpen = open + acked findings at the end
// (engine.findings()), with findingsByCode and findingsOpenPeak (sampled every 200 ms).
//
// --rcvbuf sets the listener socket's SO_RCVBUF after start (the kernel caps it at net.core.rmem_max), e.g. 212992
// to see a stock kernel's buffer on a machine where rmem_max was raised.
// Progress → stderr; last stdout line = one JSON object. Its top-level fields are over the junk phases, worst
// case (max store growth, Σ legit drops, max CPU, max open findings); each phase is in `phases`.

import { fork, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const log = (s) => process.stderr.write(`flood: ${s}\n`);
function opt(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v < 0 || (v === 0 && name !== 'fresh')) {
    log(`--${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}
const OFFERED = Math.floor(opt('offered', 10_000));
const SECONDS = opt('seconds', 30);
const LEGIT = Math.floor(opt('legit', 1000));
const FRESH = Math.min(OFFERED, Math.floor(opt('fresh', Math.round(OFFERED / 100))));
const SOURCES_ARG = argv.includes('--sources') ? argv[argv.indexOf('--sources') + 1] : 'both';
const PHASES = { 1: [1], 1000: [1000], both: [1, 1000] }[SOURCES_ARG];
const LEGIT_SOURCES = 64;
const PASSPHRASE = 'flood-bench-passphrase';
const { fleetIdentities } = await import('./fleet.mjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const kids = [];
function fail(msg) {
  log(`ERROR: ${msg}`);
  for (const k of kids) k.kill('SIGKILL');
  process.exit(1);
}

/** A child process of this file; ask() sends a message and waits for the answer of that type. */
function child(role) {
  const c = fork(path.join(path.dirname(fileURLToPath(import.meta.url)), 'flood', 'generators.mjs'), ['--role', role], {
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  kids.push(c);
  const waiting = new Map();
  c.finished = false;
  c.on('exit', (code, signal) => c.finished || fail(`${role} generator (pid ${c.pid}) died: ${signal ?? `exit code ${code}`}`));
  c.on('message', (m) => {
    if (m.type === 'error') fail(`${role} generator failed: ${m.message}`);
    if (m.type === 'done' || m.type === 'stopped') c.finished = true; // it exits right after this message
    const w = waiting.get(m.type);
    if (w) {
      waiting.delete(m.type);
      w(m);
    }
  });
  c.ask = (msg, answer, seconds) =>
    new Promise((resolve) => {
      const t = setTimeout(() => fail(`${role} generator did not answer '${msg.type}' within ${seconds}s`), seconds * 1000);
      waiting.set(answer, (m) => (clearTimeout(t), resolve(m)));
      c.send(msg);
    });
  return c;
}

function tempHome(label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bb-flood-${label}-`));
  const xdg = { XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_DATA_HOME: path.join(dir, 'data'), XDG_STATE_HOME: path.join(dir, 'state') };
  fs.mkdirSync(path.join(xdg.XDG_CONFIG_HOME, 'billboard'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(xdg.XDG_DATA_HOME, 'billboard'), { recursive: true, mode: 0o700 });
  // the fleet beacons at 1 Hz: the console expects it (SILENT after 3 missed), and listens on a free port
  const config = { beacon: { listen: '127.0.0.1:0', intervalS: 1 }, log: { level: 'info' } };
  fs.writeFileSync(path.join(xdg.XDG_CONFIG_HOME, 'billboard', 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  const env = { ...process.env, HOME: dir, ...xdg, BILLBOARD_PASSPHRASE: PASSPHRASE };
  return { dir, env, storePath: path.join(xdg.XDG_DATA_HOME, 'billboard', 'store.db') };
}

/** The session `billboard script` starts (cli/main.ts withRuntime): config from the XDG default, its log file. */
async function openSession(home) {
  const { loadConfig } = await import('../dist/cli/config-load.js');
  const { fileLogger } = await import('../dist/cli/logger.js');
  const { startRuntime } = await import('../dist/console/runtime.js');
  const config = loadConfig(undefined, home.env);
  const logger = fileLogger(config.logPath, config.log.level);
  return startRuntime({ config, actor: 'flood-bench', readOnly: false, mode: 'script', log: logger, env: home.env, awaitFirstScan: true });
}

/** Register and approve the fleet through the console's commands; returns the store file to copy per phase. */
async function setupStore(vms) {
  const home = tempHome('setup');
  const rt = await openSession(home);
  const t0 = performance.now();
  try {
    for (const [i, vm] of vms.entries()) {
      for (const line of [
        `register ${vm.name} --uuid ${vm.uuid} --pubkey ${vm.pub} --mac ${vm.mac}`,
        `approve ${vm.uuid} --note flood-bench`,
      ]) {
        const r = await rt.console.run(line);
        if (!r.ok) throw new Error(`setup: ${line}: ${r.error.code} ${r.error.message}`);
      }
      if ((i + 1) % 250 === 0) log(`  registered and approved ${i + 1}/${vms.length}`);
    }
  } finally {
    await rt.close();
  }
  log(
    `setup: ${vms.length} VMs registered and approved in ${((performance.now() - t0) / 1000).toFixed(1)}s; store ${fs.statSync(home.storePath).size} bytes`,
  );
  return home;
}

/** Count what the store writes: calls per method, and (through its journal's io seam) bytes appended. */
function instrumentStore(store) {
  const c = { appendedBytes: 0, appends: 0, calls: {}, largestFindingsSave: 0 };
  const io = store.adapter?.io;
  if (io && typeof io.append === 'function') {
    const append = io.append;
    io.append = (fh, bytes, pos) => {
      c.appendedBytes += bytes.length;
      c.appends++;
      return append(fh, bytes, pos);
    };
  } else c.appendedBytes = null;
  for (const m of ['register', 'decide', 'updateRegistration', 'audit', 'saveFindings', 'saveJob', 'saveBeaconMarks']) {
    const f = store[m];
    if (typeof f !== 'function') continue;
    store[m] = (...a) => {
      c.calls[m] = (c.calls[m] ?? 0) + 1;
      if (m === 'saveFindings') c.largestFindingsSave = Math.max(c.largestFindingsSave, a[0]?.length ?? 0);
      return f.apply(store, a);
    };
  }
  c.snap = () => ({ appendedBytes: c.appendedBytes, appends: c.appends, calls: { ...c.calls } });
  return c;
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

async function compactedSize(storePath) {
  const { openStore } = await import('../dist/store/store.js');
  const s = await openStore(storePath, { kind: 'passphrase', passphrase: PASSPHRASE });
  await s.compact();
  await s.close();
  return fs.statSync(storePath).size;
}

/** Record each legit VM's valid seqs, and any other verdict its uuid gets. */
function recordLegit(listener, vms) {
  const index = new Map(vms.map((v, i) => [v.uuid, i]));
  const rec = { on: false, seqs: vms.map(() => []), other: {} };
  listener.on('beacon', (ev) => {
    if (!rec.on) return;
    const i = index.get(ev.beacon.uuid);
    if (i === undefined) return;
    if (ev.verdict === 'valid' && ev.publicKey === vms[i].pub) rec.seqs[i].push(ev.beacon.seq);
    else rec.other[ev.verdict] = (rec.other[ev.verdict] ?? 0) + 1;
  });
  return rec;
}

function legitLoss(rec, lo, hi) {
  let sent = 0;
  let delivered = 0;
  let duplicates = 0;
  let vmsLosing = 0;
  rec.seqs.forEach((seqs, i) => {
    const inWindow = seqs.filter((s) => s > lo[i] && s <= hi[i]);
    const distinct = new Set(inWindow).size;
    duplicates += inWindow.length - distinct;
    sent += hi[i] - lo[i];
    delivered += distinct;
    if (distinct < hi[i] - lo[i]) vmsLosing++;
  });
  return {
    legitSent: sent,
    legitDelivered: delivered,
    legitDrops: sent - delivered,
    legitVmsLosing: vmsLosing,
    legitDuplicateEvents: duplicates,
  };
}

async function waitForSessions(rt, n) {
  for (let waited = 0; rt.listener.counters().sessions < n; waited += 250) {
    if (waited >= 60_000) fail(`only ${rt.listener.counters().sessions} of ${n} legit VMs hold a session after 60 s`);
    await sleep(250);
  }
}

/** Until the listener has judged everything it received (its queue empty, nothing new for 500 ms), at most 20 s. */
async function drain(listener) {
  for (let last = -1, end = Date.now() + 20_000; Date.now() < end;) {
    const c = listener.counters();
    if (c.received === last && c.queued === 0) return;
    last = c.received;
    await sleep(500);
  }
}

/**
 * ms on a CPU and waiting in the run queue (/proc/self/task/TID/schedstat): `run`/`wait` of the main thread,
 * `others` = run time of this process's other threads (verify workers, libuv pool, V8 helpers).
 */
function mainThreadSched() {
  const read = (tid) => fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
  const [run, wait] = read(process.pid);
  let others = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    if (Number(tid) === process.pid) continue;
    try {
      others += read(tid)[0];
    } catch {
      /* the thread ended */
    }
  }
  return { run: run / 1e6, wait: wait / 1e6, others: others / 1e6 };
}

/**
 * Every 200 ms: the listener socket's kernel drops, the main thread's worst event-loop delay, its time on a CPU
 * and waiting in the run queue (a thread that waits while drops happen is starved by other processes, one that
 * runs all the time cannot keep up), compactions that ended, and open findings.
 */
function sampler(rt, port) {
  const el = monitorEventLoopDelay({ resolution: 5 });
  el.enable();
  const t0 = performance.now();
  const first = mainThreadSched();
  const st = { drops: socketDrops(port), compactions: rt.ctx.store.stats().compactions ?? 0, at: t0, ...first };
  const out = { dropBursts: [], stallsOver50ms: 0, maxLoopDelayMs: 0, findingsOpenPeak: 0 };
  const timer = setInterval(() => {
    const now = performance.now();
    const drops = socketDrops(port);
    const compactions = rt.ctx.store.stats().compactions ?? 0;
    const sched = mainThreadSched();
    const delayMs = Math.round(el.max / 1e6);
    el.reset();
    out.maxLoopDelayMs = Math.max(out.maxLoopDelayMs, delayMs);
    if (delayMs > 50) out.stallsOver50ms++;
    out.findingsOpenPeak = Math.max(out.findingsOpenPeak, rt.engine.findings(false).length);
    if (drops > st.drops && out.dropBursts.length < 40) {
      const pct = (ms) => Math.round((ms / (now - st.at)) * 100);
      out.dropBursts.push({
        atS: Math.round((now - t0) / 100) / 10,
        drops: drops - st.drops,
        loopDelayMs: delayMs,
        mainRunPct: pct(sched.run - st.run),
        mainRunqueueWaitPct: pct(sched.wait - st.wait),
        otherThreadsRunPct: pct(sched.others - st.others),
        compactionEnded: compactions > st.compactions,
      });
    }
    Object.assign(st, { drops, compactions, at: now, ...sched });
  }, 200);
  return () => {
    clearInterval(timer);
    el.disable();
    const last = mainThreadSched();
    const wall = performance.now() - t0;
    const pct = (ms) => Math.round((ms / wall) * 1000) / 10;
    return {
      ...out,
      mainThreadCpuPct: pct(last.run - first.run),
      mainThreadRunqueueWaitPct: pct(last.wait - first.wait),
      otherThreadsCpuPct: pct(last.others - first.others),
      loadAvg: os.loadavg(),
    };
  };
}

function findingsSummary(engine) {
  const open = engine.findings(false);
  const byCode = {};
  for (const f of open) byCode[f.code] = (byCode[f.code] ?? 0) + 1;
  return {
    findingsOpen: open.length,
    findingsByCode: byCode,
    findingsAboutSources: open.filter((f) => !f.vm).length,
    findingsAll: engine.findings(true).length,
  };
}

/** What the console says now: listener counters, the socket's drops, store writes and size, untrusted counters. */
function readConsole(ph) {
  const { rt, port, counting, home } = ph;
  return {
    c: rt.listener.counters(),
    drops: socketDrops(port),
    writes: counting.snap(),
    untrusted: rt.engine.untrustedCounters(),
    compactions: rt.ctx.store.stats().compactions ?? 0,
    size: fs.statSync(home.storePath).size,
  };
}

/** A fresh copy of the setup store, a new session, the fleet holding its sessions, the junk generator ready. */
async function startPhase(sources, vms, template) {
  const label = sources ? `${sources}-source${sources > 1 ? 's' : ''}` : 'baseline';
  const home = tempHome(label);
  fs.copyFileSync(template.storePath, home.storePath);
  const rt = await openSession(home);
  const ph = { label, sources, vms, home, rt, port: rt.beaconAddress.port, counting: instrumentStore(rt.ctx.store) };
  if (argv.includes('--rcvbuf')) rt.listener.sock.setRecvBufferSize(opt('rcvbuf', 0));
  ph.rec = recordLegit(rt.listener, vms);
  ph.fleet = child('fleet');
  ph.junk = sources ? child('junk') : undefined;
  await ph.fleet.ask({ type: 'init', vms, port: ph.port, sources: LEGIT_SOURCES }, 'started', 60);
  const junkReady = ph.junk?.ask({ type: 'init', port: ph.port, sources, offered: OFFERED, fresh: FRESH, seconds: SECONDS }, 'ready', 120);
  await waitForSessions(rt, vms.length);
  await sleep(2000);
  await junkReady;
  await rt.ctx.store.compact();
  log(
    `[${label}] ${rt.listener.counters().sessions} legit sessions on 127.0.0.1:${ph.port}; store ${fs.statSync(home.storePath).size} bytes after compaction; flooding ${SECONDS}s`,
  );
  return ph;
}

/** The measured window: the junk runs for SECONDS (or nothing does, in the baseline) while the fleet beacons. */
async function floodWindow(ph) {
  const { rt, rec, fleet, junk, label } = ph;
  rec.on = true;
  const start = readConsole(ph);
  const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  const loMark = await fleet.ask({ type: 'mark' }, 'marked', 30);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopSampler = sampler(rt, ph.port);
  const junkDone = junk ? junk.ask({ type: 'go' }, 'done', SECONDS + 60) : sleep(SECONDS * 1000).then(() => undefined);
  const progress = setInterval(() => {
    const c = rt.listener.counters();
    const d = (k) => c[k] - start.c[k];
    log(
      `  [${label}] ${Math.round((performance.now() - t0) / 1000)}s: received ${d('received')}, bad-signature ${d('bad-signature')}, unknown-key ${d('unknown-key')}, ` +
        `rate-limited ${d('rate-limited')}, overload ${d('overload')}, queued ${c.queued}; store ${fs.statSync(ph.home.storePath).size} B; findings ${rt.engine.findings(false).length}`,
    );
  }, 5000);
  const junkResult = await junkDone;
  const hiMark = await fleet.ask({ type: 'mark' }, 'marked', 30);
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const samples = stopSampler();
  clearInterval(progress);
  const end = readConsole(ph);
  const fleetEnd = await fleet.ask({ type: 'stop' }, 'stopped', 30);
  await drain(rt.listener);
  rec.on = false;
  const drained = readConsole(ph);
  const console = { ...samples, listenerRcvbufBytes: rt.listener.sock?.getRecvBufferSize?.() ?? null, rmemMax };
  return {
    start,
    end,
    drained,
    loMark,
    hiMark,
    fleetEnd,
    junkResult,
    wall,
    console,
    cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (wall * 1000)) * 1000) / 10,
  };
}

/** One phase, start to end, as one result object. */
async function runPhase(sources, vms, template) {
  const ph = await startPhase(sources, vms, template);
  const w = await floodWindow(ph);
  const { rt, home, vms: fleetVms } = ph;
  const regs = rt.ctx.store.registrations();
  const state = {
    ...findingsSummary(rt.engine),
    legitRowsBehind: fleetVms.filter((v, i) => rt.engine.lastBeacon(v.uuid)?.seq !== w.fleetEnd.seqs[i]).length,
    registrationRequests: regs.filter((r) => r.origin === 'beacon').length,
    registrations: regs.length,
    rows: rt.engine.snapshot().rows.length,
    engine: { droppedBeacons: rt.engine.droppedBeacons, unattributed: rt.engine.unattributed },
  };
  await rt.close();
  const closedBytes = fs.statSync(home.storePath).size;
  const compactedAfter = await compactedSize(home.storePath);
  if (!argv.includes('--keep')) fs.rmSync(home.dir, { recursive: true, force: true });
  else log(`[${ph.label}] kept ${home.dir}`);
  const result = phaseResult(ph, w, state, closedBytes, compactedAfter);
  log(`[${ph.label}] ${JSON.stringify(result)}`);
  return result;
}

function phaseResult(ph, w, state, closedBytes, compactedAfter) {
  const { start, end, drained: last } = w;
  const d = (k) => last.c[k] - start.c[k];
  const u = (k) => last.untrusted[k] - start.untrusted[k];
  const j = w.junkResult;
  const calls = Object.fromEntries(Object.keys(end.writes.calls).map((k) => [k, end.writes.calls[k] - (start.writes.calls[k] ?? 0)]));
  return {
    phase: ph.label,
    sources: ph.sources,
    offeredPerSec: j ? Math.round(j.sent / j.seconds) : 0,
    seconds: Math.round(w.wall * 10) / 10,
    storeGrowthBytes: end.size - start.size,
    ...legitLoss(ph.rec, w.loMark.seqs, w.hiMark.seqs),
    cpuPct: w.cpuPct,
    ...state,
    storeBytesBefore: start.size,
    storeBytesAtEnd: end.size,
    storeBytesClosed: closedBytes,
    storeBytesCompactedAfter: compactedAfter,
    storePersistentGrowthBytes: compactedAfter - start.size,
    storeAppendedBytes: end.writes.appendedBytes === null ? null : end.writes.appendedBytes - start.writes.appendedBytes,
    storeAppends: end.writes.appends - start.writes.appends,
    storeCalls: calls,
    largestFindingsSave: ph.counting.largestFindingsSave,
    compactions: end.compactions - start.compactions,
    legitLossCauses: {
      late: d('late'),
      sessionMiss: d('sessionMiss'),
      handshakes: d('handshakes'),
      otherVerdicts: ph.rec.other,
      socketDropsAllTraffic: last.drops - start.drops,
    },
    console: w.console,
    listener: Object.fromEntries(
      [
        'received',
        'valid',
        'bad-signature',
        'unknown-key',
        'replay',
        'clone-suspect',
        'malformed',
        'rate-limited',
        'overload',
        'late',
        'sessionMiss',
        'rekeyLimited',
      ].map((k) => [k, d(k)]),
    ),
    junk: j
      ? {
          sent: j.sent,
          garbageSignature: j.garbage,
          freshIdentities: j.fresh,
          sendErrors: j.errors,
          generatorCpuPct: j.cpuPct,
          generatorShortfall: j.shortfall,
        }
      : null,
    untrusted: {
      forged: u('forged'),
      untracked: u('untracked'),
      requestsCapped: u('requestsCapped'),
      beaconOnlyAtEnd: last.untrusted.beaconOnly,
    },
    fleet: { sentInWindow: w.hiMark.sent - w.loMark.sent, generatorMaxLagMs: w.hiMark.maxLagMs, generatorCpuPct: w.fleetEnd.cpuPct },
  };
}

function git(...args) {
  const r = spawnSync('git', args, { cwd: path.join(path.dirname(fileURLToPath(import.meta.url)), '..'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function consoleMain() {
  if (!PHASES) return (log('--sources must be 1, 1000 or both'), process.exit(2));
  process.on('uncaughtException', (e) => fail(`bench crashed: ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => fail(`bench crashed: ${e?.stack ?? e}`));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(`interrupted by ${sig}`));
  const load0 = os.loadavg();
  log(
    `${LEGIT} legit VMs at 1 Hz; junk ${OFFERED}/s (${FRESH}/s fresh self-signed identities) for ${SECONDS}s from ${PHASES.join(' then ')} source(s); load ${load0.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const vms = fleetIdentities(LEGIT);
  const template = await setupStore(vms);
  const phases = [];
  for (const sources of [...(argv.includes('--baseline') ? [0] : []), ...PHASES]) phases.push(await runPhase(sources, vms, template));
  fs.rmSync(template.dir, { recursive: true, force: true });
  const junkPhases = phases.filter((p) => p.sources > 0);
  const worst = (k) => Math.max(...junkPhases.map((p) => p[k]));
  const out = {
    offeredPerSec: Math.min(...junkPhases.map((p) => p.offeredPerSec)),
    seconds: SECONDS,
    sources: PHASES.length === 1 ? PHASES[0] : PHASES,
    storeGrowthBytes: worst('storeGrowthBytes'),
    legitDrops: junkPhases.reduce((s, p) => s + p.legitDrops, 0),
    cpuPct: worst('cpuPct'),
    findingsOpen: worst('findingsOpen'),
    storePersistentGrowthBytes: worst('storePersistentGrowthBytes'),
    findingsOpenPeak: Math.max(...junkPhases.map((p) => p.console.findingsOpenPeak)),
    legit: LEGIT,
    freshIdentitiesPerSec: FRESH,
    targets: { storeGrowthAtMost1MB: worst('storeGrowthBytes') <= 1 << 20, noLegitBeaconLost: junkPhases.every((p) => p.legitDrops === 0) },
    phases,
    loadAvg: { before: load0, after: os.loadavg() },
    // dist/ is built from the working tree: the commit, and whether src/ differed from it
    build: { head: git('rev-parse', 'HEAD'), srcChanged: git('status', '--porcelain', '--', 'src') !== '' },
    cores: os.availableParallelism(),
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

await consoleMain();
