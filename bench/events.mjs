#!/usr/bin/env node
// bench/events: how fast host changes reach the Billboard through libvirt's event streams, in the lab (two real
// libvirt daemons, the real agent in the guest, the real console runtime from dist/), with the periodic scan at
// 300 s so that only events can bring a change in time. Progress → stderr; one JSON object as the last stdout line.
//
//   npm run bench -- events [--trials 20]
//
// cloneToFinding:        a clone (same UUID, same disk and key) started on lab-b: `virsh start` returned → the
//                        DUPLICATE_UUID seen by scan is open. The clone is destroyed at once, before its agent boots.
// bareMigrationToFinding: a bare `virsh migrate --live` by hand: the command returned → UNAUTHORIZED_MIGRATION open
//                        (0 when it was open before the command returned).
// beaconGap / downtime:  an authorized live migration a→b: the longest silence between the agent's beacons across
//                        it, and the downtime libvirt reports for the same move.
import { labPrerequisites, virshOn } from '../test/lab/lab.mjs';
import { longestGap, startAgentConsole } from '../test/lab/agent-console.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const TRIALS = opt('trials', 20);
const say = (m) => process.stderr.write(`[bench:events] ${m}\n`);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : NaN;
};

const why = labPrerequisites();
if (why.length) {
  say(`cannot run: ${why.join('; ')}`);
  process.exit(1);
}

const c = await startAgentConsole({ enforcement: 'ask', scanIntervalS: 300 });
const host = (name) => c.lab.hosts.find((h) => h.name === name);
const byScan = () => c.findings().find((f) => f.code === 'DUPLICATE_UUID' && /running on 2 hosts/.test(f.evidence));
try {
  await c.approveGuest();
  await c.defineClone(host('lab-b'));
  const clone = [];
  for (let i = 0; i < TRIALS; i++) {
    await virshOn(host('lab-b'), ['start', 'tiny']);
    const t0 = Date.now();
    await c.until(byScan, 60_000, 'DUPLICATE_UUID by scan');
    clone.push(Date.now() - t0);
    await virshOn(host('lab-b'), ['destroy', 'tiny']);
    await c.until(() => !byScan(), 60_000, 'the duplicate gone after destroy');
    say(`clone ${i + 1}/${TRIALS}: ${clone.at(-1)} ms`);
  }
  await virshOn(host('lab-b'), ['undefine', 'tiny']);

  await c.run('migrate tiny --to lab-b');
  await c.run('authorize tiny');
  const started = Date.now();
  const job = await c.run('watch tiny');
  if (job.state !== 'completed') throw new Error(`authorized migration ${job.state}: ${job.error}`);
  await c.until(() => c.beacons.filter((b) => b.at > Date.now() - 3000).length >= 2, 30_000, 'beacons after the move');
  const gap = longestGap(c.beacons, started, Date.now());
  const downtimeMs = job.lastStats?.totalDowntimeMs;
  say(`authorized a→b: beacon gap ${gap.ms} ms, libvirt downtime ${downtimeMs} ms (${job.result})`);

  const m0 = Date.now();
  let foundAt;
  const watch = setInterval(() => {
    if (!foundAt && c.findings().some((f) => f.code === 'UNAUTHORIZED_MIGRATION')) foundAt = Date.now();
  }, 5);
  await virshOn(host('lab-b'), ['migrate', '--live', '--undefinesource', '--persistent', 'tiny', host('lab-a').tcpUri], 120_000);
  const ended = Date.now();
  await c.until(() => foundAt, 30_000, 'UNAUTHORIZED_MIGRATION');
  clearInterval(watch);
  const bareMigrationToFindingMs = Math.max(0, foundAt - ended);
  say(
    `bare b→a: migrate took ${ended - m0} ms; finding ${foundAt - m0} ms after it began (${bareMigrationToFindingMs} ms after it returned)`,
  );

  const out = {
    trials: TRIALS,
    cloneToFindingP50Ms: pct(clone, 0.5),
    cloneToFindingP99Ms: pct(clone, 0.99),
    bareMigrationToFindingMs,
    beaconGapMs: gap.ms,
    downtimeMs,
    scanIntervalS: 300,
    bareMigrationMs: ended - m0,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await c.stop();
}
