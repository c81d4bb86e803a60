#!/usr/bin/env node
// bench scan: H hosts × D domains (libvirt test-driver XMLs behind ONE real sshd, H distinct host entries).
// Full scan wall time warm (connections open) and cold (fresh connections), vs a naive sequential loop of
// `ssh host virsh …` (one ssh process per command: list, then dumpxml per domain) over the same hosts.
// The scans run through the real Scanner and SshDriver (a persistent virsh session per host; warm = sessions
// open, cold = new connections and sessions). For comparison in the same run, warm scans with the driver's
// one-exec-per-scan path (session: false), reported as warmExecMs, and warm scans that also read every running
// domain's saved definition (what whole scans of hosts with events do), reported as warmSavedMs.
// Options: --hosts N (20) --domains N (50) --warm-runs N (5) --exec-runs N (3; 0 skips) --naive-hosts K (all; K < N extrapolates, reported).
// Progress on stderr; one JSON line last on stdout.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Scanner } from '../dist/hosts/scanner.js';
import { SshDriver } from '../dist/hosts/ssh/driver.js';
import { testDriverXml } from '../dist/demo/lab-xml.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const H = opt('hosts', 20);
const D = opt('domains', 50);
const WARM_RUNS = opt('warm-runs', 5);
const EXEC_RUNS = opt('exec-runs', 3);
/** naive loop over only the first K hosts, extrapolated to all (it is slow: one ssh process per domain) */
const NAIVE_HOSTS = Math.min(opt('naive-hosts', H), H);
const log = (s) => process.stderr.write(`bench scan: ${s}\n`);

const dir = mkdtempSync(join(tmpdir(), 'bb-bench-scan-'));
let sshd;

function killTree(pid) {
  const kids = new Map();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(e)]);
    } catch {
      /* the process ended while we listed */
    }
  }
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...(kids.get(all[i]) ?? []));
  for (const p of all)
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* already gone */
    }
}

function cleanup() {
  if (sshd?.pid) killTree(sshd.pid);
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });

async function startSshd() {
  if (process.getuid() !== 0) throw new Error('bench scan needs root to run a test sshd');
  mkdirSync('/run/sshd', { recursive: true });
  for (const k of ['host', 'client'])
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)], { stdio: 'ignore' });
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client.pub')));
  const port = await freePort();
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'MaxSessions 64',
      'MaxStartups 200:30:400',
      'LogLevel ERROR',
    ].join('\n') + '\n',
  );
  const hostPub = readFileSync(join(dir, 'host.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  const p = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((res) => {
      const c = connect(port, '127.0.0.1');
      c.once('data', () => {
        c.destroy();
        res(true);
      });
      c.once('error', () => {
        c.destroy();
        res(false);
      });
    });
    if (ok) return { pid: p.pid, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('sshd did not start');
}

const hex = (n, w) => n.toString(16).padStart(w, '0');
/** sorts `xs` in place (the runs are reported sorted) and returns its median */
const sortedMedian = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** running domains per host (every fifth is shut off) */
const RUNNING = Array.from({ length: D }, (_, i) => i).filter((i) => i % 5 !== 4).length;
function hostXml(h) {
  return testDriverXml(
    Array.from({ length: D }, (_, i) => ({
      uuid: `b111b0a2-${hex(h, 4)}-4000-8000-${hex(i, 12)}`,
      name: `h${h}-vm${i}`,
      state: i % 5 === 4 ? 'shutoff' : 'running',
      macs: [`52:54:${hex(h >> 8, 2)}:${hex(h & 255, 2)}:${hex(i >> 8, 2)}:${hex(i & 255, 2)}`],
      memoryKiB: 524288,
      vcpus: 1,
      os: 'debian12',
    })),
  );
}

async function main() {
  sshd = await startSshd();
  log(`sshd on 127.0.0.1:${sshd.port}; writing ${H} host XMLs × ${D} domains`);
  const user = userInfo().username;
  const hosts = Array.from({ length: H }, (_, h) => {
    const file = join(dir, `host-${hex(h + 1, 2)}.xml`);
    writeFileSync(file, hostXml(h + 1));
    return {
      name: `bench-${String(h + 1).padStart(2, '0')}`,
      driver: 'ssh',
      address: '127.0.0.1',
      port: sshd.port,
      user,
      identityFile: join(dir, 'client'),
      knownHostsFile: join(dir, 'known_hosts'),
      libvirtUri: `test://${file}`,
    };
  });
  const scannerOpts = { hosts, timeoutMs: 60_000, concurrency: 8, intervalMs: 3600_000 };
  const fullScan = async (s) => {
    const t = performance.now();
    const res = await s.scan();
    const ms = performance.now() - t;
    const bad = res.filter((r) => !r.ok);
    if (bad.length) throw new Error(`scan failed: ${bad[0].error}`);
    const doms = res.reduce((n, r) => n + r.inventory.domains.length, 0);
    if (doms !== H * D) throw new Error(`expected ${H * D} domains, got ${doms}`);
    const running = res.reduce((n, r) => n + r.inventory.domains.filter((d) => d.state === 'running').length, 0);
    if (running !== H * RUNNING) throw new Error(`expected ${H * RUNNING} running domains, got ${running}`);
    return ms;
  };

  // cold: fresh scanner, fresh connections (handshake + auth included); median of 3
  const colds = [];
  for (let i = 0; i < 3; i++) {
    const s = new Scanner(scannerOpts);
    colds.push(await fullScan(s));
    await s.stop();
  }
  const coldMs = sortedMedian(colds);
  log(`cold full scan: ${coldMs.toFixed(0)} ms (runs ${colds.map((x) => x.toFixed(0)).join(', ')})`);

  // warm: connections already open; median of WARM_RUNS
  const s = new Scanner(scannerOpts);
  await fullScan(s);
  const warms = [];
  for (let i = 0; i < WARM_RUNS; i++) warms.push(await fullScan(s));
  const stats = hosts.map((h) => s.driver(h.name).stats);
  const sessionStarts = stats.reduce((n, x) => n + x.sessionStarts, 0);
  const execFallbacks = stats.reduce((n, x) => n + x.execFallbacks, 0);
  await s.stop();
  const warmMs = sortedMedian(warms);
  log(
    `warm full scan: ${warmMs.toFixed(0)} ms (runs ${warms.map((x) => x.toFixed(0)).join(', ')}); ${sessionStarts} virsh sessions started, ${execFallbacks} exec fallbacks`,
  );

  // the same warm scans reading every running domain's saved definition, as whole scans of hosts with events do
  const saving = new Scanner({
    ...scannerOpts,
    createDriver: (h) => {
      const d = new SshDriver(h, { commandTimeoutMs: scannerOpts.timeoutMs });
      const scanAll = d.scanAll.bind(d);
      d.scanAll = () => scanAll({ savedDefinitions: true });
      return d;
    },
  });
  await fullScan(saving);
  const saves = [];
  for (let i = 0; i < WARM_RUNS; i++) saves.push(await fullScan(saving));
  await saving.stop();
  const warmSavedMs = sortedMedian(saves);
  log(`warm full scan reading saved definitions too: ${warmSavedMs.toFixed(0)} ms (runs ${saves.map((x) => x.toFixed(0)).join(', ')})`);

  // the same warm scans through one exec per host per scan (no session), for comparison
  let warmExecMs = null;
  const execs = [];
  if (EXEC_RUNS > 0) {
    const e = new Scanner({
      ...scannerOpts,
      createDriver: (h) => new SshDriver(h, { session: false, commandTimeoutMs: scannerOpts.timeoutMs }),
    });
    await fullScan(e);
    for (let i = 0; i < EXEC_RUNS; i++) execs.push(await fullScan(e));
    await e.stop();
    warmExecMs = sortedMedian(execs);
    log(`warm full scan, one exec per host: ${warmExecMs.toFixed(0)} ms (runs ${execs.map((x) => x.toFixed(0)).join(', ')})`);
  }

  // naive: sequential, one ssh process per virsh command
  const sshArgs = [
    '-i',
    join(dir, 'client'),
    '-p',
    String(sshd.port),
    '-o',
    `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    `${user}@127.0.0.1`,
  ];
  const ssh = (cmd) => {
    const r = spawnSync('ssh', [...sshArgs, cmd], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`naive ssh failed: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const t0 = performance.now();
  let naiveDomains = 0;
  for (const h of hosts.slice(0, NAIVE_HOSTS)) {
    const uuids = ssh(`virsh -c '${h.libvirtUri}' list --all --uuid`)
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    for (const u of uuids) {
      if (ssh(`virsh -c '${h.libvirtUri}' dumpxml ${u}`).includes(u)) naiveDomains++;
    }
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  const naiveMeasuredMs = performance.now() - t0;
  if (naiveDomains !== NAIVE_HOSTS * D) throw new Error(`naive loop saw ${naiveDomains} domains, expected ${NAIVE_HOSTS * D}`);
  const naiveMs = (naiveMeasuredMs * H) / NAIVE_HOSTS;
  log(
    `naive sequential ssh loop: ${naiveMeasuredMs.toFixed(0)} ms over ${NAIVE_HOSTS} hosts (${NAIVE_HOSTS * (D + 1)} ssh processes)${NAIVE_HOSTS < H ? `, extrapolated to ${naiveMs.toFixed(0)} ms for ${H}` : ''}`,
  );

  const round = (x) => Math.round(x * 10) / 10;
  const result = {
    bench: 'scan',
    hosts: H,
    domains: H * D,
    domainsPerHost: D,
    warmMs: round(warmMs),
    coldMs: round(coldMs),
    naiveMs: round(naiveMs),
    speedup: round(naiveMs / warmMs),
    coldSpeedup: round(naiveMs / coldMs),
    warmSavedMs: round(warmSavedMs),
    warmSavedRunsMs: saves.map(round),
    warmExecMs: warmExecMs === null ? null : round(warmExecMs),
    warmExecRunsMs: execs.map(round),
    warmSessionStarts: sessionStarts,
    warmExecFallbacks: execFallbacks,
    naiveMeasuredHosts: NAIVE_HOSTS,
    naiveExtrapolated: NAIVE_HOSTS < H,
    warmRunsMs: warms.map(round),
    coldRunsMs: colds.map(round),
    concurrency: scannerOpts.concurrency,
    targets: { warmMsMax: 2000, speedupMin: 10 },
    meetsTargets: warmMs <= 2000 && naiveMs / warmMs >= 10,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench scan: ${e?.message ?? e}\n`);
    process.exit(1);
  },
);
