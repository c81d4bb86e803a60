#!/usr/bin/env node
// npm run bench -- beacons [--vms 10000] [--seconds 30] [--ramp 10] [--sources 64] [--generators 1]
//                          [--rcvbuf-mb 32] [--no-sysctl] [--one-way]
//
// A simulated fleet of N VMs beaconing at 1 Hz (jittered ±10%, like the agent) over real UDP on loopback to a real
// BeaconListener. The fleet runs in --generators CHILD processes (this file with --fleet), so this process's CPU
// (main thread + verify workers, process.cpuUsage) is the ingest cost and nothing else.
//
// The fleet speaks the real protocol (wire.js): Ed25519-signed hello with an X25519 key, ACCEPT, HMAC beacons, a
// fresh signature every DEFAULT_RESIGN_EVERY beacons. VMs join evenly over --ramp seconds; the measured window is
// --seconds of steady state after every VM holds a session. --one-way makes every beacon signed (no sessions).
// VMs are spread over --sources loopback addresses (127.0.1.x), as a lab's VMs have their own addresses.
//
// Generator: each VM keeps its MAC datagram pre-encoded; a routine beacon only patches seq and ts in place and
// recomputes the 16-byte HMAC. VMs sit in a 1 ms timer wheel, so a tick touches only the VMs that are due.
//
// Drops: `dropsApp` = the listener's own overload + rate-limited counters; `dropsKernel` = the delta of
// RcvbufErrors in /proc/net/snmp over the measured window. That counter is MACHINE-WIDE (any UDP socket on this
// host, including other people's tests); `dropsKernelSocket` is the listener socket's own `drops` column from
// /proc/net/udp, which is exact. The listener asks for --rcvbuf-mb of SO_RCVBUF; the kernel caps that at
// net.core.rmem_max, so unless --no-sysctl is given the bench raises rmem_max (root, /proc/sys) for the run,
// restores it afterwards, and reports both values in the JSON (`rmemMax`).
//
// Failure: a generator that dies, hangs or reports an error ends the bench with one clear line on stderr and
// exit code 1; generators exit on their own when this process goes away (no orphans flooding loopback).
// Progress → stderr; last stdout line = one JSON object.

import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
function opt(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`beacons: --${name} needs a positive number\n`);
    process.exit(2);
  }
  return v;
}
const VMS = Math.floor(opt('vms', 10_000));
const SECONDS = opt('seconds', 30);
const RAMP = opt('ramp', Math.max(1, Math.min(10, VMS / 1000)));
const SOURCES = Math.min(254, Math.floor(opt('sources', 64)));
const GENERATORS = Math.floor(opt('generators', 1));
const RCVBUF = Math.floor(opt('rcvbuf-mb', 32) * (1 << 20));
const ONE_WAY = argv.includes('--one-way');
const NO_SYSCTL = argv.includes('--no-sysctl');
const log = (s) => process.stderr.write(`beacons: ${s}\n`);

const { BeaconListener } = await import('../dist/beacon/listener.js');
const wire = await import('../dist/beacon/wire.js');
const { patchSeqTs, sessionKeeper } = await import('./fleet.mjs');

// ─── Listener side (this process) ─────────────────────────────────────────────────────────────

function snmpUdp() {
  const lines = fs
    .readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/).map(Number);
  return Object.fromEntries(names.slice(1).map((n, i) => [n, vals[i + 1]]));
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

function rawVerifyRate() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const msg = crypto.randomBytes(200);
  const sig = crypto.sign(null, msg, privateKey);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 1000) {
    crypto.verify(null, msg, publicKey, sig);
    n++;
  }
  return Math.round(n / ((performance.now() - t0) / 1000));
}

function pct(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : 0;
}

const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Raise net.core.rmem_max to at least `want` for this run; returns a restore function and what was done. */
function raiseRmemMax(want) {
  const file = '/proc/sys/net/core/rmem_max';
  let before;
  try {
    before = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return { info: { before: null, during: null, raised: false, note: 'cannot read net.core.rmem_max' }, restore: () => {} };
  }
  if (NO_SYSCTL || before >= want) return { info: { before, during: before, raised: false }, restore: () => {} };
  try {
    fs.writeFileSync(file, String(want));
  } catch (e) {
    return { info: { before, during: before, raised: false, note: `cannot raise: ${e.code ?? e.message}` }, restore: () => {} };
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    try {
      // only put it back if nobody else changed it meanwhile
      if (Number(fs.readFileSync(file, 'utf8').trim()) === want) fs.writeFileSync(file, String(before));
    } catch {
      /* best effort */
    }
  };
  return { info: { before, during: want, raised: true, restoredAfter: true }, restore };
}

async function ingest() {
  const children = [];
  let rmem = { restore: () => {} };
  let listener;
  const fail = (msg) => {
    log(`ERROR: ${msg}`);
    for (const c of children) c.kill('SIGKILL');
    rmem.restore();
    process.exit(1);
  };
  process.on('uncaughtException', (e) => fail(`bench crashed: ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => fail(`bench crashed: ${e?.stack ?? e}`));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(`interrupted by ${sig}`));

  const load0 = loadavg();
  const rawVerifyPerSec = rawVerifyRate();
  log(`raw single-core Ed25519 verify: ${rawVerifyPerSec}/s; load average ${load0.join(' ')}`);

  // Generators: every wait on one is bounded, and its death at ANY point (not only before the end) is reported.
  const waiting = new Map(); // child → {type, resolve}
  const spawnGen = (g) => {
    const from = Math.floor((VMS * g) / GENERATORS);
    const to = Math.floor((VMS * (g + 1)) / GENERATORS);
    // the child's stdout goes to our stderr: the last line of OUR stdout must stay the JSON
    const child = fork(fileURLToPath(import.meta.url), [...argv, '--fleet', `--range=${from}:${to}`], {
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    child.gen = g;
    child.done = false;
    child.on('exit', (code, signal) => {
      if (child.done) return;
      const why =
        signal === 'SIGKILL'
          ? 'SIGKILL: killed from outside (the kernel OOM killer, see `dmesg`, or a time limit)'
          : signal
            ? `signal ${signal}`
            : `exit code ${code}`;
      fail(`load generator ${g} (pid ${child.pid}) died before the bench finished: ${why}`);
    });
    child.on('error', (e) => fail(`load generator ${g}: ${e.message}`));
    child.on('message', (m) => {
      if (m.type === 'error') return fail(`load generator ${g} failed: ${m.message}`);
      if (m.type === 'done') child.done = true; // it exits right after this message
      const w = waiting.get(child);
      if (w && w.type === m.type) {
        waiting.delete(child);
        w.resolve(m);
      }
    });
    children.push(child);
    return child;
  };
  const expect = (child, type, seconds, what) =>
    new Promise((resolve) => {
      const timer = setTimeout(
        () => fail(`load generator ${child.gen} did not ${what} within ${seconds}s (no '${type}' message)`),
        seconds * 1000,
      );
      waiting.set(child, {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  const all = (type, seconds, what, send) =>
    Promise.all(
      children.map((c) => {
        const p = expect(c, type, seconds, what);
        if (send) c.send(send);
        return p;
      }),
    );

  for (let g = 0; g < GENERATORS; g++) spawnGen(g);
  const keys = new Map();
  for (const k of await all('keys', 120 + VMS / 100, 'make its VM keys')) for (const [uuid, pub] of k.keys) keys.set(uuid, pub);
  log(`${keys.size} VM keys registered (${GENERATORS} generator process${GENERATORS > 1 ? 'es' : ''})`);

  rmem = raiseRmemMax(RCVBUF);
  if (rmem.info.raised) log(`net.core.rmem_max raised ${rmem.info.before} → ${rmem.info.during} for this run`);
  listener = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, recvBufferSize: RCVBUF, keyLookup: (u) => keys.get(u) });
  let measuring = false;
  let valid = 0;
  let lat = [];
  // the split of each beacon's latency: before the listener read it (generator send queue, loopback, socket
  // buffer) and inside the listener (read → verified event)
  let latWire = [];
  let latListener = [];
  const rampLat = [];
  listener.on('beacon', (ev) => {
    const now = Date.now();
    const l = now - ev.beacon.ts;
    if (measuring) {
      if (ev.verdict === 'valid') valid++;
      lat.push(l);
      latWire.push(ev.receivedAt - ev.beacon.ts);
      latListener.push(now - ev.receivedAt);
    } else rampLat.push(l);
  });
  const { port, recvBufferBytes } = await listener.start();
  log(`listener on 127.0.0.1:${port}, SO_RCVBUF ${recvBufferBytes} bytes (kernel value, i.e. doubled)`);
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  const snmpRamp0 = snmpUdp();
  const sockRamp0 = socketDrops(port);
  const startAt = Date.now() + 200;
  for (const c of children) c.send({ type: 'go', port, startAt });

  // steady state = every VM has joined and holds a session (or, one-way, the ramp is over); at most 60 s extra
  await new Promise((r) => setTimeout(r, RAMP * 1000 + 1200));
  for (let waited = 0; !ONE_WAY && listener.counters().sessions < VMS; waited += 500) {
    if (waited >= 60_000) fail(`only ${listener.counters().sessions} of ${VMS} VMs hold a session 60 s after the ramp`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const c0 = listener.counters();
  const snmp0 = snmpUdp();
  const sock0 = socketDrops(port);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const load1 = loadavg();
  measuring = true;
  loopDelay.enable();
  log(`ramp done (${c0.handshakes} handshakes); measuring ${SECONDS}s; load average ${load1.join(' ')}`);
  const marks0 = await all('marked', 30, 'answer a mark', { type: 'mark' });
  const progress = setInterval(
    () => log(`  ${Math.round((performance.now() - t0) / 1000)}s: ${valid} valid, queued ${listener.counters().queued}`),
    10_000,
  );
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const marks1 = await all('marked', 30, 'answer a mark', { type: 'mark' });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  clearInterval(progress);
  loopDelay.disable();
  const fins = await all('done', 30, 'stop', { type: 'stop' });
  for (const c of children) c.done = true;
  // drain: wait until the listener has judged everything still in its socket buffer (at most 20 s), so that
  // every datagram ever sent can be accounted for
  for (let last = -1, end = Date.now() + 20_000; Date.now() < end;) {
    const c = listener.counters();
    if (c.received === last && c.queued === 0) break;
    last = c.received;
    await new Promise((r) => setTimeout(r, 300));
  }
  const c1 = listener.counters();
  const snmp1 = snmpUdp();
  const sock1 = socketDrops(port);
  const load2 = loadavg();
  await listener.stop();
  rmem.restore();

  lat.sort((a, b) => a - b);
  latWire.sort((a, b) => a - b);
  latListener.sort((a, b) => a - b);
  rampLat.sort((a, b) => a - b);
  const d = (k) => c1[k] - c0[k];
  const sum = (arr, k) => arr.reduce((s, m) => s + m[k], 0);
  const offered = sum(marks1, 'sent') - sum(marks0, 'sent');
  const result = {
    vms: VMS,
    seconds: SECONDS,
    // each generator's sends over ITS OWN mark-to-mark time (the mark round trips are not part of the window)
    offeredPerSec: Math.round(marks1.reduce((s, m, i) => s + ((m.sent - marks0[i].sent) * 1000) / (m.at - marks0[i].at), 0)),
    verifiedPerSec: Math.round(valid / wall),
    dropsApp: d('overload') + d('rate-limited'),
    dropsKernel: snmp1.RcvbufErrors - snmp0.RcvbufErrors,
    cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (wall * 1000)) * 1000) / 10,
    p99LatencyMs: pct(lat, 0.99),
    rawVerifyPerSec,
    dropsKernelScope: 'machine-wide RcvbufErrors delta (/proc/net/snmp) over the measured window',
    dropsKernelSocket: sock1 - sock0,
    p50LatencyMs: pct(lat, 0.5),
    p99BeforeReadMs: pct(latWire, 0.99),
    p99InListenerMs: pct(latListener, 0.99),
    p999LatencyMs: pct(lat, 0.999),
    maxLatencyMs: lat.length ? lat[lat.length - 1] : 0,
    mode: ONE_WAY ? 'one-way (every beacon signed)' : `sessions (HMAC, re-sign every ${wire.DEFAULT_RESIGN_EVERY})`,
    sent: offered,
    received: d('received'),
    events: lat.length,
    // over the WHOLE run (ramp + window + drain): datagrams the generators sent that the listener never saw
    unaccountedTotal: sum(fins, 'sentTotal') - c1.received,
    invalid: d('unknown-key') + d('bad-signature') + d('replay') + d('clone-suspect') + d('malformed') + d('sessionMiss'),
    // authentic beacons judged after a newer one of the same VM (not emitted; a replay is counted apart)
    late: d('late'),
    signedInWindow: sum(marks1, 'signed') - sum(marks0, 'signed'),
    generatorMaxLagMs: Math.max(...marks1.map((m) => m.maxLagMs)),
    generatorCpuPct: Math.round(fins.reduce((s, f) => s + f.cpuPct, 0) * 10) / 10,
    generators: GENERATORS,
    cpuUserPct: Math.round((cpu.user / 1000 / (wall * 1000)) * 1000) / 10,
    cpuSystemPct: Math.round((cpu.system / 1000 / (wall * 1000)) * 1000) / 10,
    mainLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
    rcvbufBytes: recvBufferBytes,
    rmemMax: rmem.info,
    sources: SOURCES,
    rampSeconds: RAMP,
    rampHandshakes: c0.handshakes,
    rampP99LatencyMs: pct(rampLat, 0.99),
    rampDropsApp: c0.overload + c0['rate-limited'],
    rampDropsKernelSocket: sock0 - sockRamp0,
    rampDropsKernel: snmp0.RcvbufErrors - snmpRamp0.RcvbufErrors,
    loadAvg: { before: load0, window: load1, after: load2 },
    cores: os.availableParallelism(),
  };
  log(`listener counters: ${JSON.stringify(c1)}`);
  lat = null;
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

// ─── Fleet side (child process) ───────────────────────────────────────────────────────────────

async function fleet() {
  // The bench that started us is gone → stop at once (an orphan would flood loopback forever).
  process.on('disconnect', () => process.exit(0));
  const report = (e) => {
    const message = e?.stack ?? String(e);
    process.stderr.write(`beacons: generator: ${message}\n`);
    if (process.connected) process.send({ type: 'error', message: message.split('\n')[0] }, () => process.exit(1));
    else process.exit(1);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
  if (!process.send) {
    process.stderr.write('beacons: --fleet is the load generator; run `npm run bench -- beacons` instead\n');
    process.exit(2);
  }
  const range = /^--range=(\d+):(\d+)$/.exec(argv.find((a) => a.startsWith('--range=')) ?? `--range=0:${VMS}`);
  const FROM = Number(range[1]);
  const TO = Number(range[2]);
  const N = TO - FROM;

  const vms = [];
  for (let i = FROM; i < TO; i++) {
    const { privateKey, publicKey: pub } = wire.newKeyPair('ed25519'); // not generateKeyPairSync + JWK: see wire.newKeyPair
    const h = crypto.randomBytes(16).toString('hex');
    vms.push({
      privateKey,
      pub,
      body: {
        uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
        name: `vm-${i}`,
        macs: [
          `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        ],
        ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
        os: 'Debian GNU/Linux 12 (bookworm)',
        hostname: `vm-${i}`,
        bootId: crypto.randomUUID(),
        seq: 0,
        ts: 0,
      },
      index: i,
      /** { id, key (KeyObject), used, dgram (pre-encoded MAC datagram, patched in place) } */
      session: undefined,
      pending: undefined,
      next: 0,
      sock: undefined,
    });
  }
  process.send({ type: 'keys', keys: vms.map((v) => [v.body.uuid, v.pub.toString('base64')]) });
  const go = await new Promise((r) => {
    const on = (m) => {
      if (m.type !== 'go') return;
      process.off('message', on);
      r(m);
    };
    process.on('message', on);
  });
  const port = go.port;

  const keeper = sessionKeeper();
  const socks = [];
  for (let s = 0; s < SOURCES; s++) {
    const sock = dgram.createSocket('udp4');
    sock.on('error', (e) => process.stderr.write(`beacons: generator socket: ${e.message}\n`));
    await new Promise((r) => sock.bind(0, `127.0.1.${s + 1}`, r));
    await new Promise((r) => sock.connect(port, '127.0.0.1', r)); // connected: send() skips the address lookup
    sock.on('message', keeper.onReply);
    socks.push(sock);
  }
  // 1 ms timer wheel: slot = due ms mod WHEEL. A VM's next send is ≤ 1.1 s ahead, so 2048 slots never wrap onto
  // a slot that is still to be served.
  const WHEEL = 2048;
  const wheel = Array.from({ length: WHEEL }, () => []);
  const schedule = (vm, at) => {
    vm.next = at;
    wheel[at % WHEEL].push(vm);
  };
  const startAt = Math.max(go.startAt, Date.now());
  vms.forEach((vm) => {
    vm.sock = socks[vm.index % SOURCES];
    schedule(vm, startAt + Math.floor((vm.index / VMS) * RAMP * 1000)); // join evenly over the ramp
  });

  let sent = 0;
  let signed = 0;
  let maxLagMs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  const sendOne = (vm) => {
    // stamped when it is really sent: a generator that falls behind its schedule sends late, it does not make
    // the listener slow (the schedule lag is reported on its own as generatorMaxLagMs)
    const now = Date.now();
    const b = vm.body;
    b.seq++;
    b.ts = now;
    const s = vm.session;
    if (s && s.used < wire.DEFAULT_RESIGN_EVERY) {
      s.used++;
      // routine beacon: patch seq and ts in place, re-MAC everything before the 16-byte tag
      const out = s.dgram;
      patchSeqTs(out, b.seq, now);
      crypto
        .createHmac('sha256', s.key)
        .update(out.subarray(0, out.length - 16))
        .digest()
        .copy(out, out.length - 16, 0, 16);
      vm.sock.send(out);
    } else {
      keeper.drop(vm);
      vm.sock.send(wire.encodeSigned(b, vm.privateKey, vm.pub, ONE_WAY ? undefined : keeper.hello(vm)));
      signed++;
    }
    sent++;
  };

  let served = startAt - 1; // every ms up to and including this one has been sent
  let resume = false;
  const tick = () => {
    const now = Date.now();
    // at most ~4 ms of work per turn: the sends queued meanwhile leave the process before the next batch
    const deadline = performance.now() + 4;
    for (let ms = served + 1; ms <= now; ms++) {
      const slot = wheel[ms % WHEEL];
      served = ms;
      if (slot.length === 0) continue;
      wheel[ms % WHEEL] = [];
      for (const vm of slot) {
        if (vm.next !== ms) {
          wheel[vm.next % WHEEL].push(vm); // (cannot happen with ≤ 1.1 s steps; kept for safety)
          continue;
        }
        if (now - ms > maxLagMs) maxLagMs = now - ms;
        sendOne(vm);
        schedule(vm, now + Math.round(900 + Math.random() * 200));
      }
      if (performance.now() > deadline && ms < now) {
        if (!resume) {
          resume = true;
          setImmediate(() => {
            resume = false;
            tick();
          });
        }
        return;
      }
    }
  };
  const timer = setInterval(tick, 1);

  process.on('message', (m) => {
    if (m.type === 'mark') {
      process.send({ type: 'marked', sent, signed, maxLagMs, vms: N, at: performance.timeOrigin + performance.now() });
      maxLagMs = 0;
    }
    if (m.type === 'stop') {
      clearInterval(timer);
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      for (const s of socks) s.close();
      process.send({ type: 'done', sentTotal: sent, cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 }, () => process.exit(0));
    }
  });
}

if (argv.includes('--fleet')) await fleet();
else await ingest();
