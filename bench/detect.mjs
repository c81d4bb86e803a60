#!/usr/bin/env node
// bench/detect: how fast does the engine notice a clone while a big fleet beacons?
//
// 10,000 approved VMs (keyed, homed, definition bound) spread over 20 hosts beacon once a second each
// (synthetic BeaconEvents fed at the real Engine at --rate per second in 10 ms batches); every host is
// re-scanned every --scan-every seconds (a full inventory, as the scanner delivers it) and the engine is
// ticked every second, as the console does. Then a clone is injected --injections times, alternating:
//   scan:   the clone shows up in another host's inventory (the scanner's evidence);
//   beacon: the listener reports a clone-suspect beacon (two boot ids interleaving).
// Latency = from the moment the evidence was due to arrive (timer deadline, so event-loop queueing behind
// beacon batches, scans and ticks counts) to the engine's 'finding' event for DUPLICATE_UUID on that VM.
//
//   npm run bench -- detect [--vms 10000] [--hosts 20] [--injections 100] [--rate 10000] [--scan-every 5]
import { performance } from 'node:perf_hooks';
import { Engine } from '../dist/billboard/engine.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const VMS = opt('vms', 10_000);
const HOSTS = opt('hosts', 20);
const INJECTIONS = opt('injections', 100);
const RATE = opt('rate', 10_000);
const SCAN_EVERY_S = opt('scan-every', 5);
const log = (m) => process.stderr.write(`detect: ${m}\n`);

const uuidOf = (n) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const macOf = (n) =>
  `52:54:${[(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
const ipOf = (n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
const keyOf = (n) => Buffer.from(uuidOf(n).replace(/-/g, '')).toString('base64');
const hostOf = (n) => `lab-${String(n % HOSTS).padStart(2, '0')}`;

/** minimal in-memory StoreApi (the bench measures detection, not the encrypted store) */
class MemStore {
  path = ':memory:';
  regs = new Map();
  saved = [];
  audits = 0;
  registrations() {
    return [...this.regs.values()];
  }
  registration(u) {
    return this.regs.get(u);
  }
  resolveRegistration(ref) {
    return this.regs.get(ref);
  }
  async register(r) {
    const x = { ...r, state: 'pending', macs: r.macs ?? [], createdAt: Date.now(), createdBy: 'system' };
    this.regs.set(r.uuid, x);
    this.audits++;
    return x;
  }
  async decide() {
    throw new Error('not in bench');
  }
  async updateRegistration() {
    throw new Error('not in bench');
  }
  async audit() {
    this.audits++;
    return {};
  }
  auditLog() {
    return [];
  }
  verifyAudit() {
    return { ok: true, entries: 0, head: '' };
  }
  findings() {
    return this.saved;
  }
  async saveFindings(f) {
    this.saved = [...f];
  }
  jobs() {
    return [];
  }
  async saveJob() {}
  stats() {
    return { registrations: this.regs.size, auditEntries: this.audits, bytes: 0, lastWriteMs: 0 };
  }
  async close() {}
}

function domainOf(n, state = 'running') {
  return {
    uuid: uuidOf(n),
    name: `vm-${n}`,
    state,
    vcpus: 1,
    memoryKiB: 1048576,
    macs: [macOf(n)],
    interfaces: [{ mac: macOf(n), type: 'network', ips: [ipOf(n)] }],
    ips: [ipOf(n)],
    disks: [`/var/lib/libvirt/images/vm-${n}.qcow2`],
    definitionHash: `def-${n}`,
  };
}

const store = new MemStore();
for (let n = 0; n < VMS; n++) {
  const publicKey = keyOf(n);
  store.regs.set(uuidOf(n), {
    uuid: uuidOf(n),
    name: `vm-${n}`,
    publicKey,
    keyFp: `fp-${n}`,
    macs: [macOf(n)],
    homeHost: hostOf(n),
    definitionHash: `def-${n}`,
    state: 'approved',
    origin: 'operator',
    createdAt: 0,
    createdBy: 'bench',
  });
}
const byHost = new Map();
for (let n = 0; n < VMS; n++) {
  const h = hostOf(n);
  if (!byHost.has(h)) byHost.set(h, []);
  byHost.get(h).push(domainOf(n));
}
const hostNames = [...byHost.keys()].sort();

const engine = new Engine({ store, beaconIntervalS: 1, missedBeforeSilent: 3, enforcement: 'ask', requestScan: () => {} });
const boots = Array.from({ length: VMS }, (_, n) => `boot-${n}`);
const seqs = new Uint32Array(VMS);
function beaconEvent(n, verdict = 'valid', bootId = boots[n], from = ipOf(n), reason) {
  const now = Date.now();
  return {
    verdict,
    beacon: {
      v: 1,
      uuid: uuidOf(n),
      name: `vm-${n}`,
      macs: [macOf(n)],
      ips: [ipOf(n)],
      os: 'Debian GNU/Linux 12',
      hostname: `vm-${n}`,
      bootId,
      seq: ++seqs[n],
      ts: now,
      keyFp: `fp-${n}`,
    },
    publicKey: keyOf(n),
    from: { address: from, port: 40000 },
    receivedAt: now,
    reason,
  };
}
const inventory = (host, domains) => ({ host, at: Date.now(), durationMs: 50, domains });
const hostStatus = (name) => ({
  name,
  driver: 'libvirt',
  target: `test:///${name}.xml`,
  up: true,
  consecutiveFailures: 0,
  domains: byHost.get(name).length,
  running: byHost.get(name).length,
});

// ── warm-up: every host scanned once, every VM beacons once ──
let t = performance.now();
engine.hostStatuses(hostNames.map(hostStatus));
for (const h of hostNames) engine.ingestInventory(inventory(h, byHost.get(h)));
for (let n = 0; n < VMS; n++) engine.ingestBeacon(beaconEvent(n));
const warmMs = performance.now() - t;
if (engine.findings().length) log(`warning: ${engine.findings().length} findings in a clean fleet: ${engine.findings()[0].evidence}`);
log(`warm-up: ${VMS} VMs on ${HOSTS} hosts in ${warmMs.toFixed(0)} ms`);

// ── steady load ──
let beaconed = 0;
let cursor = 0;
// Catch up on timer drift: send what the offered rate says should have been sent by now (bounded per batch).
const feedStart = performance.now();
const feed = setInterval(() => {
  const owed = Math.min(Math.floor(((performance.now() - feedStart) / 1000) * RATE) - beaconed, RATE / 20);
  for (let i = 0; i < owed; i++) {
    engine.ingestBeacon(beaconEvent(cursor));
    cursor = (cursor + 1) % VMS;
    beaconed++;
  }
}, 10);
const tickMs = [];
const ticker = setInterval(() => {
  const s = performance.now();
  engine.tick();
  tickMs.push(performance.now() - s);
}, 1000);
/** extra domains a host reports on top of its own (the injected clones) */
const extra = new Map();
const scanMs = [];
let scanCursor = 0;
const scanner = setInterval(
  () => {
    const h = hostNames[scanCursor++ % hostNames.length];
    const s = performance.now();
    engine.ingestInventory(inventory(h, extra.has(h) ? [...byHost.get(h), ...extra.get(h)] : byHost.get(h)));
    scanMs.push(performance.now() - s);
  },
  (SCAN_EVERY_S * 1000) / hostNames.length,
);
let snapshots = 0;
const snapMs = [];
const viewer = setInterval(() => {
  const s = performance.now();
  const snap = engine.snapshot();
  snapMs.push(performance.now() - s);
  if (snap.rows.length < VMS) throw new Error('rows missing');
  snapshots++;
}, 100);

// ── injections ──
const waiting = new Map(); // uuid → due time (performance.now)
const lat = { scan: [], beacon: [] };
/** engine-only part: from the ingest call carrying the evidence to the 'finding' event (no queueing) */
const engineLat = [];
let callAt = 0;
let current;
engine.on('finding', (f) => {
  if (f.code !== 'DUPLICATE_UUID' || f.state !== 'open' || f.count !== 1) return;
  const due = waiting.get(f.vm);
  if (due === undefined) return;
  waiting.delete(f.vm);
  const t1 = performance.now();
  lat[current].push(t1 - due);
  engineLat.push(t1 - callAt);
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const at = (due, fn) =>
  new Promise((r) =>
    setTimeout(
      () => {
        fn();
        r();
      },
      Math.max(0, due - performance.now()),
    ),
  );

await sleep(2000); // let the load settle
const started = performance.now();
const beaconedAtStart = beaconed;
const cpuAtStart = process.cpuUsage();
for (let i = 0; i < INJECTIONS; i++) {
  const n = (i * 7919) % VMS;
  const uuid = uuidOf(n);
  const home = hostOf(n);
  const other = hostNames[(hostNames.indexOf(home) + 1 + (i % (hostNames.length - 1))) % hostNames.length];
  current = i % 2 === 0 ? 'scan' : 'beacon';
  const due = performance.now() + 20 + Math.random() * 30; // random phase against the feed / scans / ticks
  waiting.set(uuid, due);
  if (current === 'scan') {
    await at(due, () => {
      extra.set(other, [domainOf(n)]);
      callAt = performance.now();
      engine.ingestInventory(inventory(other, [...byHost.get(other), domainOf(n)]));
    });
  } else {
    await at(due, () => {
      const ev = beaconEvent(n, 'clone-suspect', `clone-${i}`, '10.250.0.1', 'same uuid+key, two boot ids interleaving');
      callAt = performance.now();
      engine.ingestBeacon(ev);
    });
  }
  await sleep(60);
  if (waiting.has(uuid)) log(`injection ${i} (${current}) not detected within 60 ms`);
  // clean up so the next injection starts from a clean fleet: the clone goes away
  extra.delete(other);
  engine.ingestInventory(inventory(other, byHost.get(other)));
  await sleep(100);
  if (i % 10 === 9) log(`${i + 1}/${INJECTIONS} injections`);
}
const elapsedS = (performance.now() - started) / 1000;
const ingestPerSec = (beaconed - beaconedAtStart) / elapsedS;
const cpu = process.cpuUsage(cpuAtStart);
const cpuPct = ((cpu.user + cpu.system) / 1000 / (elapsedS * 1000)) * 100;
clearInterval(feed);
clearInterval(ticker);
clearInterval(scanner);
clearInterval(viewer);
await engine.close();

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(2);
};
const all = [...lat.scan, ...lat.beacon];
const result = {
  bench: 'detect',
  vms: VMS,
  hosts: HOSTS,
  injections: INJECTIONS,
  detected: all.length,
  p50Ms: pct(all, 50),
  p99Ms: pct(all, 99),
  maxMs: pct(all, 100),
  scanP50Ms: pct(lat.scan, 50),
  scanP99Ms: pct(lat.scan, 99),
  beaconP50Ms: pct(lat.beacon, 50),
  beaconP99Ms: pct(lat.beacon, 99),
  engineP50Ms: pct(engineLat, 50),
  engineP99Ms: pct(engineLat, 99),
  loadAvg1: +(await import('node:os')).loadavg()[0].toFixed(2),
  offeredBeaconsPerSec: RATE,
  ingestedBeaconsPerSec: Math.round(ingestPerSec),
  tickP50Ms: pct(tickMs, 50),
  tickMaxMs: pct(tickMs, 100),
  scanIngestP50Ms: pct(scanMs, 50),
  scanIngestMaxMs: pct(scanMs, 100),
  snapshotP50Ms: pct(snapMs, 50),
  snapshotMaxMs: pct(snapMs, 100),
  snapshots,
  cpuPct: +cpuPct.toFixed(1),
  warmupMs: Math.round(warmMs),
  targetP99Ms: 100,
};
process.stdout.write(JSON.stringify(result) + '\n');
