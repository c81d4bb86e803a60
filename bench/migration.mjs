#!/usr/bin/env node
// bench/migration: the same live migration of the lab guest, through the console's code path (MigrationManager →
// SshDriver → virsh on the host, with ≥ 4 Hz job-stats sampling and the post-migration checks) and through bare
// `virsh migrate` (the same flags, run against the source daemon directly), alternating, ping-pong between the two
// lab hosts. Progress → stderr; one JSON object as the last stdout line.
//
//   npm run bench -- migration [--runs 5] [--bandwidth 32] [--interval 200]
//
// consoleMs: authorize → job completed (includes stop-and-copy, commitment and activation checks: a scan of both
//            hosts). requestMs (reported apart): request with its pre-checks, before the operator authorizes.
// virshMs:   `virsh migrate` start → exit.
// stageLag:  how far the console's events trail libvirt, on libvirt's own clock (job start = sample time -
//            elapsed): each new pre-copy pass as shown vs the midpoint of the elapsed times of the two samples
//            around its start; and the stop-and-copy event vs libvirt finishing (the migrate command returned).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { startLab, labPrerequisites, labHostsConfig } from '../test/lab/lab.mjs';
import { LabEngine } from '../test/lab/lab-engine.mjs';
import { MigrationManager } from '../dist/migration/manager.js';
import { Scanner } from '../dist/hosts/scanner.js';
import { hostSchema } from '../dist/model/config.js';
import { createStore } from '../dist/store/store.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RUNS = opt('runs', 5);
const BW = opt('bandwidth', 32);
const INTERVAL = opt('interval', 200);
const say = (m) => process.stderr.write(`[bench:migration] ${m}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : NaN;
};
const p95 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] : NaN;
};
const sh = (cmd, a) =>
  new Promise((resolve, reject) =>
    execFile(cmd, a, { timeout: 300_000 }, (e, out, err) => (e ? reject(new Error(String(err || e.message).trim())) : resolve(out))),
  );

const why = labPrerequisites();
if (why.length) {
  say(`cannot run: ${why.join('; ')}`);
  process.exit(1);
}

const lab = await startLab();
let scanner;
let store;
let mm;
const storeDir = mkdtempSync(join(tmpdir(), 'billboard-bench-store-'));
try {
  const hosts = labHostsConfig(lab).map((h) => hostSchema.parse(h));
  scanner = new Scanner({ hosts, timeoutMs: 15_000, concurrency: 2, intervalMs: 3_600_000 });
  store = await createStore(join(storeDir, 'store.db'), { kind: 'passphrase', passphrase: 'bench' });
  const engine = new LabEngine(scanner, store);
  await engine.requestScan(['lab-a', 'lab-b']);
  const uuid = engine.resolveVm('tiny').uuid;
  await store.register({ uuid, name: 'tiny', origin: 'operator' }, 'bench');
  await store.decide(uuid, 'approved', 'bench');

  // note when each driver's migrate() returns (= libvirt finished), for the stage lag
  const migrateReturnedAt = new Map();
  const migrateCalledAt = new Map();
  for (const h of hosts) {
    const jobs = scanner.driver(h.name).jobs;
    const orig = jobs.migrate.bind(jobs);
    jobs.migrate = async (...a) => {
      migrateCalledAt.set(h.name, Date.now());
      try {
        return await orig(...a);
      } finally {
        migrateReturnedAt.set(h.name, Date.now());
      }
    };
  }
  mm = new MigrationManager({
    store,
    engine,
    hosts: { configs: () => hosts, status: (h) => scanner.statuses().find((s) => s.name === h), driver: (h) => scanner.driver(h) },
    migration: { transport: 'tunnelled', requireDifferentAuthorizer: false },
    sampleIntervalMs: INTERVAL,
  });

  let at = 'lab-a';
  const other = (h) => (h === 'lab-a' ? 'lab-b' : 'lab-a');
  const consoleMs = [];
  const requestMs = [];
  const virshMs = [];
  const lags = [];
  const stopLags = [];
  const samplesPerSec = [];
  const iterations = [];
  const downtimes = [];

  async function viaConsole() {
    const to = other(at);
    const t0 = Date.now();
    say(`console ${at} → ${to}: starting`);
    const req = await mm.request('tiny', to, { bandwidthMiBs: BW }, 'bench');
    const t1 = Date.now();
    const events = [];
    const watching = mm.watch(req.id, (e) => events.push({ ...e, seenAt: Date.now() }));
    await mm.authorize(req.id, 'bench');
    let timer;
    const job = await Promise.race([
      watching,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`console migration ${at} → ${to} stuck in ${mm.job(req.id).state} after 180 s`)), 180_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const t2 = Date.now();
    if (job.state !== 'completed') throw new Error(`console migration ${at} → ${to} ended ${job.state}: ${job.error}`);
    const samples = events.filter(
      (e) => e.type === 'progress' && e.stats.type !== 'completed' && e.stats.source === 'libvirt' && e.stats.iteration !== undefined,
    );
    // libvirt's own clock: job start = sample time - elapsed. A new pass (iteration k) began between the
    // elapsed times of the two samples around it: lag = when the console showed it - that midpoint.
    const withElapsed = samples.filter((x) => x.stats.elapsedMs !== undefined);
    const jobStart = withElapsed.length ? Math.min(...withElapsed.map((x) => x.stats.at - x.stats.elapsedMs)) : undefined;
    for (let i = 1; i < withElapsed.length; i++) {
      const [p, q] = [withElapsed[i - 1], withElapsed[i]];
      if ((q.stats.iteration ?? 0) > (p.stats.iteration ?? 0))
        lags.push(q.seenAt - (jobStart + (p.stats.elapsedMs + q.stats.elapsedMs) / 2));
    }
    const pc = events.find((e) => e.type === 'stage' && e.stage === 'iterative-pre-copy');
    const sc = events.find((e) => e.type === 'stage' && e.stage === 'stop-and-copy');
    if (sc && migrateReturnedAt.get(at)) {
      lags.push(Math.max(0, sc.seenAt - migrateReturnedAt.get(at)));
      stopLags.push(Math.max(0, sc.seenAt - migrateReturnedAt.get(at)));
    }
    const rsv = events.find((e) => e.type === 'stage' && e.stage === 'reservation');
    const end = events.find((e) => e.type === 'end');
    say(
      `  breakdown: authorize→migrate ${migrateCalledAt.get(at) - t1} ms, migrate ${migrateReturnedAt.get(at) - migrateCalledAt.get(at)} ms, ` +
        `migrate→completed ${end.seenAt - migrateReturnedAt.get(at)} ms (reservation event +${rsv.seenAt - t1} ms)`,
    );
    const sampleSpan = samples.length > 1 ? (samples.at(-1).seenAt - samples[0].seenAt) / 1000 : 0;
    if (sampleSpan > 0) samplesPerSec.push((samples.length - 1) / sampleSpan);
    iterations.push(Math.max(0, ...samples.map((s) => s.stats.iteration ?? 0)));
    if (job.lastStats?.totalDowntimeMs !== undefined) downtimes.push(job.lastStats.totalDowntimeMs);
    requestMs.push(t1 - t0);
    consoleMs.push(t2 - t1);
    say(
      `console ${at} → ${to}: ${t2 - t1} ms (request ${t1 - t0} ms, ${samples.length} samples, pre-copy seen ${pc ? 'yes' : 'no'}, downtime ${job.lastStats?.totalDowntimeMs} ms)`,
    );
    at = to;
  }

  async function viaVirsh() {
    const to = other(at);
    const src = lab.hosts.find((h) => h.name === at);
    const dst = lab.hosts.find((h) => h.name === to);
    const t0 = Date.now();
    say(`virsh   ${at} → ${to}: starting`);
    await sh('virsh', [
      '-c',
      src.localUri,
      'migrate',
      '--live',
      '--persistent',
      '--undefinesource',
      '--p2p',
      '--tunnelled',
      '--bandwidth',
      String(BW),
      uuid,
      dst.sshUri,
    ]);
    const ms = Date.now() - t0;
    virshMs.push(ms);
    say(`virsh   ${at} → ${to}: ${ms} ms`);
    at = to;
    await engine.requestScan(['lab-a', 'lab-b']); // let the console's table catch up (untimed)
  }

  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? [viaConsole, viaVirsh] : [viaVirsh, viaConsole];
    for (const f of order) {
      await f();
      await new Promise((res) => setTimeout(res, 1000)); // let the guest settle on its new host
    }
  }
  const ticking = await (async () => {
    const h = lab.hosts.find((x) => x.name === at);
    const st = (await sh('virsh', ['-c', h.localUri, 'domstate', 'tiny'])).trim();
    return st === 'running';
  })();

  const consoleMedianMs = median(consoleMs);
  const virshMedianMs = median(virshMs);
  const result = {
    bench: 'migration',
    runs: RUNS,
    bandwidthMiBs: BW,
    sampleIntervalMs: INTERVAL,
    consoleMedianMs,
    virshMedianMs,
    ratio: Number((consoleMedianMs / virshMedianMs).toFixed(3)),
    stageLagP95Ms: Math.round(p95(lags)),
    stageLagSamples: lags.length,
    stopAndCopyLagP95Ms: p95(stopLags),
    requestMedianMs: median(requestMs),
    samplesPerSecMedian: Number(median(samplesPerSec).toFixed(2)),
    iterationsMedian: median(iterations),
    downtimeMedianMs: median(downtimes),
    consoleMs,
    virshMs,
    guestRunningAtEnd: ticking,
  };
  console.log(JSON.stringify(result));
} finally {
  await mm?.close();
  await scanner?.stop();
  await store?.close();
  await lab.stop();
  rmSync(storeDir, { recursive: true, force: true });
}
