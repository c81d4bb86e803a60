#!/usr/bin/env node
// npm run bench -- beacons [--vms 10000] [--seconds 30] [--ramp 10] [--sources 64] [--one-way]
//
// A simulated fleet of N VMs beaconing at 1 Hz over real UDP on loopback to a real BeaconListener.
// The fleet runs in a CHILD process (this file with --fleet) so the listener process's CPU (main thread + verify
// workers, process.cpuUsage) is the ingest cost. VMs join evenly over --ramp seconds (each joins with a signed
// hello and a session handshake), then the measured window is --seconds of steady state.
// The fleet speaks the real protocol (wire.js): Ed25519-signed hello with an X25519 key, ACCEPT, HMAC beacons,
// a fresh signature every DEFAULT_RESIGN_EVERY beacons. --one-way makes every beacon signed (no sessions).
// VMs are spread over --sources loopback addresses (127.0.1.x), as a lab's VMs have their own addresses; the
// listener's per-address rate limit stays at its default.
// Progress → stderr; last stdout line = one JSON object.

import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { BeaconListener } from '../dist/beacon/listener.js';
import * as wire from '../dist/beacon/wire.js';

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
const SOURCES = Math.floor(opt('sources', 64));
const ONE_WAY = argv.includes('--one-way');
const log = (s) => process.stderr.write(`beacons: ${s}\n`);

if (argv.includes('--fleet')) await fleet();
else await ingest();

// ─── Listener side (this process) ─────────────────────────────────────────────────────────────

function rcvbufErrors() {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/);
  return Number(vals[names.indexOf('RcvbufErrors')]);
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

async function ingest() {
  const rawVerifyPerSec = rawVerifyRate();
  log(`raw single-core Ed25519 verify: ${rawVerifyPerSec}/s`);
  const child = fork(fileURLToPath(import.meta.url), [...argv, '--fleet'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let finished = false;
  child.on('exit', (code, signal) => {
    if (finished) return;
    log(`fleet process died (code ${code}, signal ${signal})`);
    process.exit(1);
  });
  const keys = new Map();
  const fromChild = (type) => new Promise((resolve) => child.once('message', (m) => (m.type === type ? resolve(m) : null)));
  const hello = await fromChild('keys');
  for (const [uuid, pub] of hello.keys) keys.set(uuid, pub);
  log(`${keys.size} VM keys registered`);

  const listener = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, keyLookup: (u) => keys.get(u) });
  let measuring = false;
  let events = 0;
  let valid = 0;
  const lat = [];
  const rampLat = [];
  listener.on('beacon', (ev) => {
    const l = Date.now() - ev.beacon.ts;
    if (measuring) {
      events++;
      if (ev.verdict === 'valid') valid++;
      lat.push(l);
    } else rampLat.push(l);
  });
  const { port } = await listener.start();
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  const kernel0 = rcvbufErrors();
  child.send({ type: 'go', port });

  // steady state = every VM has joined and holds a session (or, one-way, the ramp is over); at most 60 s extra
  await new Promise((r) => setTimeout(r, RAMP * 1000 + 1000));
  for (let waited = 0; !ONE_WAY && listener.counters().sessions < VMS && waited < 60_000; waited += 500) {
    await new Promise((r) => setTimeout(r, 500));
  }
  const c0 = listener.counters();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  loopDelay.enable();
  log(`ramp done (${c0.handshakes} handshakes); measuring ${SECONDS}s`);
  child.send({ type: 'mark' });
  const markAck = await fromChild('marked');
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  child.send({ type: 'mark' });
  const endAck = await fromChild('marked');
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  await new Promise((r) => setTimeout(r, 300)); // let in-flight datagrams land before reading counters
  const c1 = listener.counters();
  const kernel1 = rcvbufErrors();
  child.send({ type: 'stop' });
  finished = true;
  const fin = await fromChild('done');
  await listener.stop();

  lat.sort((a, b) => a - b);
  rampLat.sort((a, b) => a - b);
  const d = (k) => c1[k] - c0[k];
  const offered = endAck.sent - markAck.sent;
  const result = {
    vms: VMS,
    seconds: SECONDS,
    offeredPerSec: Math.round(offered / wall),
    verifiedPerSec: Math.round(valid / wall),
    dropsApp: d('overload') + d('rate-limited'),
    dropsKernel: kernel1 - kernel0,
    cpuPct: Math.round(((cpu.user + cpu.system) / 1000 / (wall * 1000)) * 1000) / 10,
    p99LatencyMs: pct(lat, 0.99),
    rawVerifyPerSec,
    p50LatencyMs: pct(lat, 0.5),
    maxLatencyMs: lat.length ? lat[lat.length - 1] : 0,
    mode: ONE_WAY ? 'one-way (every beacon signed)' : 'sessions (HMAC, re-sign every 30)',
    sent: offered,
    received: d('received'),
    invalid: d('unknown-key') + d('bad-signature') + d('replay') + d('clone-suspect') + d('malformed') + d('sessionMiss'),
    signedInWindow: endAck.signed - markAck.signed,
    rampSeconds: RAMP,
    rampHandshakes: c0.handshakes,
    rampP99LatencyMs: pct(rampLat, 0.99),
    rampDropsApp: c0.overload + c0['rate-limited'],
    sources: SOURCES,
    mainLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e5) / 10,
    fleetCpuPct: Math.round(fin.cpuPct * 10) / 10,
  };
  log(JSON.stringify(c1));
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ─── Fleet side (child process) ───────────────────────────────────────────────────────────────

async function fleet() {
  const vms = [];
  for (let i = 0; i < VMS; i++) {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    const pub = wire.rawPublicKey(privateKey);
    const h = crypto.randomBytes(16).toString('hex');
    vms.push({
      privateKey,
      pub,
      body: {
        uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
        name: `vm-${i}`,
        macs: [`52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`],
        ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
        os: 'Debian GNU/Linux 12 (bookworm)',
        hostname: `vm-${i}`,
        bootId: crypto.randomUUID(),
        seq: 0,
        ts: 0,
      },
      session: undefined,
      pending: undefined,
      next: 0,
      sock: undefined,
    });
  }
  log(`fleet: ${VMS} keys made`);
  process.send({ type: 'keys', keys: vms.map((v) => [v.body.uuid, v.pub.toString('base64')]) });
  const go = await new Promise((r) => process.once('message', r));
  const port = go.port;

  const byEph = new Map();
  const socks = [];
  for (let s = 0; s < SOURCES; s++) {
    const sock = dgram.createSocket('udp4');
    sock.on('error', (e) => process.stderr.write(`beacons: fleet socket: ${e.message}\n`));
    await new Promise((r) => sock.bind(0, `127.0.1.${s + 1}`, r));
    sock.on('message', (msg) => {
      let d;
      try {
        d = wire.decodeDatagram(msg);
      } catch {
        return;
      }
      if (d.type === 'accept') {
        const vm = byEph.get(d.ephemeralPrefix.toString('hex'));
        if (!vm || !vm.pending || d.seq < vm.pending.seq) return;
        byEph.delete(d.ephemeralPrefix.toString('hex'));
        const shared = crypto.diffieHellman({ privateKey: vm.pending.privateKey, publicKey: wire.publicKeyFromRaw(d.listenerEphemeral, 'x25519') });
        vm.session = { id: Buffer.from(d.sessionId), key: wire.deriveSessionKey(shared, vm.pending.pub, d.listenerEphemeral, d.sessionId, vm.pub), used: 0 };
        vm.pending = undefined;
      } else if (d.type === 'rekey') {
        for (const vm of vms) if (vm.session && vm.session.id.equals(d.sessionId)) vm.session = undefined;
      }
    });
    socks.push(sock);
  }
  const start = Date.now();
  vms.forEach((vm, i) => {
    vm.sock = socks[i % SOURCES];
    vm.next = start + (i / VMS) * RAMP * 1000; // join evenly over the ramp
  });

  let sent = 0;
  let signed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const send = (vm) => {
    const b = vm.body;
    b.seq++;
    b.ts = Date.now();
    let out;
    if (vm.session && vm.session.used < wire.DEFAULT_RESIGN_EVERY) {
      vm.session.used++;
      out = wire.encodeMac(b, vm.pub, vm.session.id, vm.session.key);
    } else {
      vm.session = undefined;
      if (!ONE_WAY && !vm.pending) {
        const kp = crypto.generateKeyPairSync('x25519');
        const eph = wire.rawPublicKey(kp.publicKey);
        vm.pending = { seq: b.seq, privateKey: kp.privateKey, pub: eph };
        byEph.set(eph.subarray(0, 8).toString('hex'), vm);
      }
      out = wire.encodeSigned(b, vm.privateKey, vm.pub, vm.pending?.pub);
      signed++;
    }
    vm.sock.send(out, port, '127.0.0.1');
    sent++;
  };
  // VMs sorted by next send time; a 2 ms tick sends everything due, each VM reschedules 1 s ±10% later.
  const timer = setInterval(() => {
    const now = Date.now();
    for (const vm of vms) {
      if (vm.next <= now) {
        send(vm);
        vm.next += 1000 * (0.9 + Math.random() * 0.2);
        if (vm.next < now) vm.next = now + 1000 * (0.9 + Math.random() * 0.2); // fell behind: do not burst
      }
    }
  }, 2);
  process.on('message', (m) => {
    if (m.type === 'mark') process.send({ type: 'marked', sent, signed });
    if (m.type === 'stop') {
      clearInterval(timer);
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - t0;
      for (const s of socks) s.close();
      process.send({ type: 'done', cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100 }, () => process.exit(0));
    }
  });
}
