// The load generators of bench/flood.mjs, each a child process it forks (`--role fleet` / `--role junk`), so that
// the console's process does nothing but the console's work. Both speak the real wire protocol (dist/beacon/wire.js).
// See bench/flood.mjs for what they are for and how their numbers are read.

import crypto from 'node:crypto';
import dgram from 'node:dgram';

const wire = await import('../../dist/beacon/wire.js');
import { childSetup, patchSeqTs, sessionKeeper } from '../fleet.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function bindSockets(addresses, port, onReply) {
  const socks = [];
  for (const address of addresses) {
    const sock = dgram.createSocket('udp4');
    sock.errors = 0;
    sock.on('error', () => sock.errors++);
    await new Promise((r) => sock.bind(0, address, r));
    await new Promise((r) => sock.connect(port, '127.0.0.1', r)); // connected: send() skips the address lookup
    if (onReply) sock.on('message', onReply);
    socks.push(sock);
  }
  return socks;
}

/** One beacon of a VM: a MAC beacon on its session (re-signed every DEFAULT_RESIGN_EVERY), else a signed hello. */
function sendBeacon(vm, sock, keeper) {
  const now = Date.now();
  const b = vm.body;
  b.seq++;
  b.ts = now;
  const s = vm.session;
  if (s && s.used < wire.DEFAULT_RESIGN_EVERY) {
    s.used++;
    const out = s.dgram;
    patchSeqTs(out, b.seq, now);
    crypto
      .createHmac('sha256', s.key)
      .update(out.subarray(0, out.length - 16))
      .digest()
      .copy(out, out.length - 16, 0, 16);
    sock.send(Buffer.from(out)); // a copy: the template is patched again before a queued send may have left
  } else {
    sock.send(wire.encodeSigned(b, vm.privateKey, vm.pub, keeper.hello(vm)));
  }
}

/** The legit fleet: each VM beacons at 1 Hz (±10%) as the agent does, sessions and all. */
async function fleetMain(init) {
  const vms = init.vms.map((v, i) => ({
    index: i,
    privateKey: crypto.createPrivateKey({ key: Buffer.from(v.pkcs8, 'base64'), format: 'der', type: 'pkcs8' }),
    pub: Buffer.from(v.pub, 'base64'),
    body: {
      uuid: v.uuid,
      name: v.name,
      macs: [v.mac],
      ips: [v.ip],
      os: 'Debian GNU/Linux 12 (bookworm)',
      hostname: v.name,
      bootId: crypto.randomUUID(),
      seq: 0,
      ts: 0,
    },
  }));
  const keeper = sessionKeeper();
  const socks = await bindSockets(
    Array.from({ length: init.sources }, (_, s) => `127.0.2.${s + 1}`),
    init.port,
    keeper.onReply,
  );
  let sent = 0;
  let maxLagMs = 0;
  let running = true;
  // each VM has its own timer chain: first beacon spread over 2 s, then every 900–1100 ms
  const beat = (vm, due) => {
    if (!running) return;
    maxLagMs = Math.max(maxLagMs, Date.now() - due);
    sendBeacon(vm, socks[vm.index % socks.length], keeper);
    sent++;
    const next = Date.now() + Math.round(900 + Math.random() * 200);
    setTimeout(() => beat(vm, next), next - Date.now());
  };
  const start = Date.now();
  for (const vm of vms) {
    const due = start + Math.floor((vm.index / vms.length) * 2000);
    setTimeout(() => beat(vm, due), due - start);
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.send({ type: 'started' });
  process.on('message', (m) => {
    const seqs = vms.map((v) => v.body.seq);
    if (m.type === 'mark') {
      process.send({ type: 'marked', seqs, sent, maxLagMs });
      maxLagMs = 0;
    } else if (m.type === 'stop') {
      running = false;
      const cpu = process.cpuUsage(cpu0);
      for (const s of socks) s.close();
      const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 1000) / 10;
      process.send({ type: 'stopped', seqs, sent, cpuPct }, () => process.exit(0));
    }
  });
}

/** Real signed beacons of 16 real keys (every other one a hello): the bytes every junk datagram starts from. */
function junkTemplates() {
  return Array.from({ length: 16 }, (_, k) => {
    const { privateKey, publicKey } = wire.newKeyPair('ed25519');
    const body = {
      uuid: crypto.randomUUID(),
      name: `flood-${k}`,
      macs: ['52:54:00:66:66:66'],
      ips: ['10.66.0.1'],
      os: 'Linux',
      hostname: `flood-${k}`,
      bootId: crypto.randomUUID(),
      seq: 1,
      ts: Date.now(),
    };
    return wire.encodeSigned(body, privateKey, publicKey, k % 2 ? wire.newKeyPair('x25519').publicKey : undefined);
  });
}

/** A signed-looking beacon: a template with a fresh random UUID (offset 21), fresh seq/ts, random signature. */
function garbageBeacon(template, now) {
  const b = Buffer.allocUnsafe(template.length);
  template.copy(b);
  crypto.randomFillSync(b, 21, 16);
  patchSeqTs(b, 1 + Math.floor(Math.random() * 1e9), now);
  crypto.randomFillSync(b, b.length - 64, 64);
  return b;
}

/** A brand-new identity: fresh key, fresh UUID, validly self-signed. */
function freshIdentityBeacon(n, now) {
  const { privateKey, publicKey } = wire.newKeyPair('ed25519');
  const body = {
    uuid: crypto.randomUUID(),
    name: `rogue-${n}`,
    macs: [],
    ips: [],
    os: 'Linux',
    hostname: `rogue-${n}`,
    bootId: crypto.randomUUID(),
    seq: 1,
    ts: now,
  };
  return wire.encodeSigned(body, privateKey, publicKey);
}

/** The junk generator: `offered` datagrams/s for `seconds`, spread round-robin over `sources` addresses. */
async function junkMain(init) {
  const addrs = Array.from({ length: init.sources }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  const socks = await bindSockets(addrs, init.port);
  const templates = junkTemplates();
  process.send({ type: 'ready' });
  await new Promise((r) => process.once('message', (m) => m.type === 'go' && r()));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const burstCap = Math.max(1, Math.ceil(init.offered / 20)); // at most 50 ms of sends per turn; a lag is skipped, not caught up
  let sent = 0;
  let fresh = 0;
  let shortfall = 0;
  await new Promise((done) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000;
      if (elapsed >= init.seconds) return (clearInterval(timer), done());
      let due = Math.floor(elapsed * init.offered) - sent - shortfall;
      if (due > burstCap) {
        shortfall += due - burstCap;
        due = burstCap;
      }
      const now = Date.now();
      for (let k = 0; k < due; k++) {
        const isFresh = Math.floor(((sent + 1) * init.fresh) / init.offered) > Math.floor((sent * init.fresh) / init.offered);
        const b = isFresh ? freshIdentityBeacon(fresh++, now) : garbageBeacon(templates[sent % templates.length], now);
        socks[sent % socks.length].send(b);
        sent++;
      }
    }, 1);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await sleep(100); // let queued sends leave before the sockets close
  const errors = socks.reduce((n, s) => n + s.errors, 0);
  for (const s of socks) s.close();
  const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 1000) / 10;
  process.send({ type: 'done', sent, fresh, garbage: sent - fresh, seconds, errors, cpuPct, shortfall }, () => process.exit(0));
}

const role = process.argv[process.argv.indexOf('--role') + 1];
const HINT = 'generators.mjs is started by bench/flood.mjs; run `npm run bench -- flood`';
if (role === 'fleet') childSetup('flood', HINT, fleetMain);
else if (role === 'junk') childSetup('flood', HINT, junkMain);
else {
  process.stderr.write('flood: generators.mjs is started by bench/flood.mjs; run `npm run bench -- flood`\n');
  process.exit(2);
}
