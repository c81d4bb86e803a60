#!/usr/bin/env node
// bench/alerts: from evidence to a person's webhook, while a fleet beacons.
//
// The real Engine (dist) over --vms approved VMs on --hosts hosts, fed --rate synthetic beacons a second in 10 ms
// batches, and the real AlertDispatcher subscribed to its findings, with a webhook sink pointing at a real HTTP
// receiver in a child process on loopback. --events times, a clone of a VM shows up in another host's scan; the
// latency is from the moment that evidence was due (timer deadline: queueing behind beacon batches counts) to the
// receiver's arrival stamp for the DUPLICATE_UUID alert naming that VM. Events are spaced past the sink's window,
// so each travels alone (a flood is aggregated: test/integration/alerts-sinks.test.ts).
// Beacon handling is measured twice, through the same clones without alerts and with them: the feed timer's
// lateness (p99) and the beacons ingested per second. engineLagMs is that lateness with alerts on.
//
//   npm run bench -- alerts [--vms 2000] [--hosts 4] [--events 40] [--rate 4000] [--window 0.5]
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { AlertDispatcher } from '../dist/alerts/dispatcher.js';
import { Engine } from '../dist/billboard/engine.js';
import { alertSinkSchema } from '../dist/model/alerts-config.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const VMS = opt('vms', 2000);
const HOSTS = opt('hosts', 4);
const EVENTS = opt('events', 40);
const RATE = opt('rate', 4000);
const WINDOW_S = opt('window', 0.5);
const log = (m) => process.stderr.write(`alerts: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const uuidOf = (n) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
const macOf = (n) =>
  `52:54:${[(n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
const ipOf = (n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
const keyOf = (n) => Buffer.from(uuidOf(n).replace(/-/g, '')).toString('base64');
const hostOf = (n) => `lab-${String(n % HOSTS).padStart(2, '0')}`;

/** the registry in memory (the bench measures alert delivery, not the encrypted store) */
const regs = new Map();
const store = {
  path: ':memory:',
  registrations: () => [...regs.values()],
  registration: (u) => regs.get(u),
  resolveRegistration: (r) => regs.get(r),
  register: async (r) => ({ ...r, state: 'pending' }),
  decide: async () => {
    throw new Error('not in bench');
  },
  updateRegistration: async () => {
    throw new Error('not in bench');
  },
  audit: async () => ({}),
  auditLog: () => [],
  verifyAudit: () => ({ ok: true, entries: 0, head: '' }),
  findings: () => [],
  saveFindings: async () => {},
  jobs: () => [],
  saveJob: async () => {},
  beaconMarks: () => new Map(),
  saveBeaconMarks: async () => {},
  stats: () => ({ registrations: regs.size, auditEntries: 0, bytes: 0, lastWriteMs: 0 }),
  close: async () => {},
};
for (let n = 0; n < VMS; n++) {
  regs.set(uuidOf(n), {
    uuid: uuidOf(n),
    name: `vm-${n}`,
    publicKey: keyOf(n),
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
const domainOf = (n) => ({
  uuid: uuidOf(n),
  name: `vm-${n}`,
  state: 'running',
  vcpus: 1,
  memoryKiB: 1048576,
  macs: [macOf(n)],
  interfaces: [{ mac: macOf(n), type: 'network', ips: [ipOf(n)] }],
  ips: [ipOf(n)],
  disks: [],
  definitionHash: `def-${n}`,
});
const byHost = new Map();
for (let n = 0; n < VMS; n++) {
  if (!byHost.has(hostOf(n))) byHost.set(hostOf(n), []);
  byHost.get(hostOf(n)).push(domainOf(n));
}
const hostNames = [...byHost.keys()].sort();
const inventory = (host, domains) => ({ host, at: Date.now(), durationMs: 20, domains });
const status = (name) => ({ name, driver: 'libvirt', target: name, up: true, consecutiveFailures: 0, domains: 0, running: 0 });
const seqs = new Uint32Array(VMS);
const beacon = (n) => {
  const now = Date.now();
  return {
    verdict: 'valid',
    beacon: {
      v: 1,
      uuid: uuidOf(n),
      name: `vm-${n}`,
      macs: [macOf(n)],
      ips: [ipOf(n)],
      os: 'Debian',
      hostname: `vm-${n}`,
      bootId: `b-${n}`,
      seq: ++seqs[n],
      ts: now,
      keyFp: `fp-${n}`,
    },
    publicKey: keyOf(n),
    from: { address: ipOf(n), port: 40000 },
    receivedAt: now,
  };
};

// ── the receiver: its own process, stamping each arrival with the wall clock ──
const receiverSrc = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    res.writeHead(200).end('ok');
    try {
      const p = JSON.parse(Buffer.concat(chunks).toString());
      process.stdout.write(JSON.stringify({ at, vm: p.finding && p.finding.vm, type: p.type, count: p.count }) + '\\n');
    } catch {}
  });
});
s.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: s.address().port }) + '\\n'));
`;
const receiver = spawn(process.execPath, ['-e', receiverSrc], { stdio: ['ignore', 'pipe', 'inherit'] });
const arrivals = new Map();
let received = 0;
const port = await new Promise((resolve) => {
  let buf = '';
  receiver.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const m = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (m.port) resolve(m.port);
      else {
        received++;
        if (m.vm && !arrivals.has(m.vm)) arrivals.set(m.vm, m.at);
      }
    }
  });
});

// ── the fleet ──
const engine = new Engine({ store, beaconIntervalS: 1, missedBeforeSilent: 30, enforcement: 'ask', requestScan: () => {} });
engine.hostStatuses(hostNames.map(status));
for (const h of hostNames) engine.ingestInventory(inventory(h, byHost.get(h)));
for (let n = 0; n < VMS; n++) engine.ingestBeacon(beacon(n));
log(`${VMS} VMs on ${HOSTS} hosts, ${engine.findings().length} findings at rest; receiver on 127.0.0.1:${port}`);

let beaconed = 0;
let cursor = 0;
let lateness = [];
let feedStart = performance.now();
let lastTick = performance.now();
const feed = setInterval(() => {
  const now = performance.now();
  lateness.push(Math.max(0, now - lastTick - 10));
  lastTick = now;
  const owed = Math.min(Math.floor(((now - feedStart) / 1000) * RATE) - beaconed, RATE / 20);
  for (let i = 0; i < owed; i++) {
    engine.ingestBeacon(beacon(cursor));
    cursor = (cursor + 1) % VMS;
    beaconed++;
  }
}, 10);
const ticker = setInterval(() => engine.tick(), 1000);
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(2);
};
const due = new Map();
/**
 * `count` clones, each in another host's scan and gone a window later (from VM `first` on). @returns beacons
 * ingested per second and the feed timer's p99 lateness meanwhile
 */
async function clones(count, first) {
  lateness = [];
  const b0 = beaconed;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const n = ((first + i) * 7919) % VMS;
    const other = hostNames[(hostNames.indexOf(hostOf(n)) + 1) % hostNames.length];
    await sleep(20 + Math.random() * 30);
    due.set(uuidOf(n), Date.now());
    engine.ingestInventory(inventory(other, [...byHost.get(other), domainOf(n)]));
    await sleep(WINDOW_S * 1000 + 100);
    engine.ingestInventory(inventory(other, byHost.get(other)));
    if (i % 10 === 9) log(`${i + 1}/${count} clones`);
  }
  return { perSec: Math.round(((beaconed - b0) * 1000) / (performance.now() - t0)), lagP99: pct(lateness, 99) };
}

await sleep(1000);
const without = await clones(Math.min(EVENTS, 20), EVENTS);
due.clear();
log(`without alerts: ${without.perSec} beacons/s, feed lag p99 ${without.lagP99} ms`);

const dispatcher = new AlertDispatcher({
  console: 'bench',
  sinks: [alertSinkSchema.parse({ kind: 'webhook', url: `http://127.0.0.1:${port}/hook`, windowS: WINDOW_S, codes: ['DUPLICATE_UUID'] })],
});
dispatcher.seed(engine.findings());
engine.on('finding', (f) => dispatcher.finding(f));

const withAlerts = await clones(EVENTS, 0);
await sleep(1500);
clearInterval(feed);
clearInterval(ticker);
const counters = dispatcher.counters();
await dispatcher.close();
await engine.close();
receiver.kill();

const lat = [...due].filter(([u]) => arrivals.has(u)).map(([u, t]) => arrivals.get(u) - t);
log(`with alerts: ${withAlerts.perSec} beacons/s, feed lag p99 ${withAlerts.lagP99} ms; ${lat.length}/${EVENTS} delivered`);
const result = {
  bench: 'alerts',
  events: EVENTS,
  delivered: lat.length,
  deliveredP50Ms: pct(lat, 50),
  deliveredP99Ms: pct(lat, 99),
  deliveredMaxMs: pct(lat, 100),
  dropped: counters.reduce((n, c) => n + c.dropped, 0),
  failed: counters.reduce((n, c) => n + c.failed, 0),
  messages: received,
  engineLagMs: withAlerts.lagP99,
  engineLagMsWithoutAlerts: without.lagP99,
  beaconsPerSecWithAlerts: withAlerts.perSec,
  beaconsPerSecWithoutAlerts: without.perSec,
  offeredBeaconsPerSec: RATE,
  vms: VMS,
  windowS: WINDOW_S,
  targetP99Ms: 1000,
};
process.stdout.write(JSON.stringify(result) + '\n');
