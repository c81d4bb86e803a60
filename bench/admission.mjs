#!/usr/bin/env node
// npm run bench -- admission [--starts 40] [--warmup 2]
//
// What the admission hook adds to a `virsh start` in the lab (issue 18). The two-host lab (test/lab/lab.mjs): lab-a
// has contrib/billboard-admit as its qemu hook, asking a real `billboard serve` (child process, temp XDG dirs, the
// real encrypted store, policy enforce) over OpenSSH with its `host` role key; lab-b, the same kind of daemon in the
// same kind of namespace, has no hook. The lab guest is defined on both (on lab-b under its own UUID, so neither
// copy's decision depends on the other); it is approved with home host lab-a, so every start there is a yes that
// went through the hook, the service's decision and its audit write. Each round starts and destroys it once on each
// host, the order alternating, all in the same sitting: timed is `virsh start` spawn to exit, as an admin sees it.
//
// added = a start with the hook − the median start without it: p50Ms and p99Ms are that of the starts with it
// (decisions of them). withMedianMs / withoutMedianMs are the raw medians, with their p99s beside them. After each
// destroy the bench waits --pause ms (default 1000): the service rescans a host whose events it saw, and a start
// timed while it does would count that scan as the hook's; --pause 0 times them back to back.
// Progress → stderr; last stdout line = one JSON object.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labHostsConfig, labPrerequisites, startLab, virshOn } from '../test/lab/lab.mjs';

const argv = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(here, '..');
const BIN = path.join(ROOT, 'bin', 'billboard.js');
const HOOK = path.join(ROOT, 'contrib', 'billboard-admit');
const log = (s) => process.stderr.write(`admission: ${s}\n`);
function opt(name, def) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    log(`--${name} needs a whole number`);
    process.exit(2);
  }
  return v;
}
const STARTS = opt('starts', 40);
const WARMUP = opt('warmup', 2);
const PAUSE_MS = opt('pause', 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n ? (n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2) : null;
};
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function run(cmd, args, o = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - t0 }));
    child.stdin.on('error', () => {});
    child.stdin.end(o.input ?? '');
  });
}

/** a private XDG world for the service, its operators' keys, and its store and host key (`init`) */
async function serviceFiles(dir) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BILLBOARD_') || k.startsWith('XDG_')) delete env[k];
  Object.assign(env, {
    HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_STATE_HOME: path.join(dir, 'state'),
    BILLBOARD_PASSPHRASE: 'admission-bench',
    NO_COLOR: '1',
  });
  const port = await freePort();
  const keys = {};
  for (const name of ['admin', 'host-lab-a']) {
    const file = path.join(dir, `id_${name}`);
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
    keys[name] = { file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
  }
  const configFile = path.join(dir, 'config', 'billboard', 'config.json');
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  const config = {
    beacon: { listen: '127.0.0.1:0' },
    serve: { listen: `127.0.0.1:${port}` },
    // scans come from the first one and from libvirt's events; a timed start never waits on a periodic one
    scan: { intervalS: 3600, timeoutS: 20 },
    policy: { admission: 'enforce' },
    operators: [
      { name: 'admin', role: 'admin', keys: [keys.admin.pub] },
      { name: 'host-lab-a', role: 'host', keys: [keys['host-lab-a'].pub] },
    ],
  };
  fs.writeFileSync(configFile, JSON.stringify(config));
  const init = await run(process.execPath, [BIN, 'init'], { env });
  if (init.code !== 0) throw new Error(`init: ${init.stderr}`);
  const hostKey = path.join(dir, 'data', 'billboard', 'ssh_host_ed25519_key');
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${spawnSync('ssh-keygen', ['-y', '-f', hostKey]).stdout.toString().trim()}\n`);
  const ssh = (as, command, input = '') =>
    run(
      'ssh',
      [
        ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes'],
        ...['-o', 'IdentitiesOnly=yes', '-o', 'LogLevel=ERROR', '-i', keys[as].file, '-p', String(port), `${as}@127.0.0.1`, command],
      ],
      { env, input },
    );
  return { env, port, keys, knownHosts, config, configFile, ssh };
}

/** lab-a's hooks folder (its /etc/libvirt/hooks): the shipped hook, its key, the service's host key, its conf */
function installHook(host, svc) {
  const hooks = path.join(host.dir, 'etc', 'hooks');
  fs.mkdirSync(hooks, { recursive: true });
  fs.copyFileSync(HOOK, path.join(hooks, 'qemu'));
  fs.chmodSync(path.join(hooks, 'qemu'), 0o755);
  fs.copyFileSync(svc.keys['host-lab-a'].file, path.join(hooks, 'billboard-admit.key'));
  fs.copyFileSync(svc.knownHosts, path.join(hooks, 'billboard-admit.known_hosts'));
  fs.writeFileSync(
    path.join(hooks, 'billboard-admit.conf'),
    [
      `TARGET=host-lab-a@127.0.0.1:${svc.port}`,
      'IDENTITY=/etc/libvirt/hooks/billboard-admit.key',
      'KNOWN_HOSTS=/etc/libvirt/hooks/billboard-admit.known_hosts',
      'HOST=lab-a',
      'UNREACHABLE=deny',
      'TIMEOUT=3',
      '',
    ].join('\n'),
  );
}

async function startServe(svc) {
  const serve = spawn(process.execPath, [BIN, 'serve'], { env: svc.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  serve.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  for (const t0 = Date.now(); !err.includes('operators on ssh'); await sleep(50)) {
    if (serve.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`serve did not start: ${err}`);
  }
  return serve;
}

/** tiny on lab-a as the lab defines it; on lab-b the same guest under its own UUID and console file */
async function defineGuests(lab, a, b) {
  const xa = path.join(lab.dir, 'tiny-a.xml');
  fs.writeFileSync(xa, lab.guestXml);
  await virshOn(a, ['define', xa]);
  const xb = path.join(lab.dir, 'tiny-b.xml');
  fs.writeFileSync(xb, lab.guestXml.replaceAll(lab.consoleLog, path.join(lab.dir, 'tiny-b-console.log')));
  await virshOn(b, ['define', xb]);
  return (await virshOn(a, ['domuuid', lab.domain])).trim();
}

/** one start (timed) and destroy of the guest on `host`; throws with virsh's error when the start fails */
async function startOnce(lab, host) {
  const r = await run('virsh', ['-c', host.localUri, 'start', lab.domain]);
  if (r.code !== 0) throw new Error(`virsh start on ${host.name}: ${r.stderr.trim()}`);
  await virshOn(host, ['destroy', lab.domain], 60_000);
  // the events of the start and destroy make the service rescan that host: let it finish before the next start
  await sleep(PAUSE_MS);
  return r.ms;
}

async function rounds(lab, a, b) {
  for (let i = 0; i < WARMUP; i++) for (const h of [a, b]) await startOnce(lab, h);
  const withHook = [];
  const without = [];
  for (let i = 0; i < STARTS; i++) {
    // alternate which host goes first, so a drift in the machine's load falls on both sides alike
    for (const h of i % 2 ? [b, a] : [a, b]) (h === a ? withHook : without).push(await startOnce(lab, h));
    if ((i + 1) % 10 === 0) log(`${i + 1}/${STARTS}: medians ${r1(median(withHook))} ms with the hook, ${r1(median(without))} ms without`);
  }
  return { withHook, without };
}

async function main() {
  const why = labPrerequisites();
  if (why.length) throw new Error(`the lab cannot run here: ${why.join('; ')}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-admission-'));
  let serve;
  let lab;
  try {
    const svc = await serviceFiles(dir);
    lab = await startLab({ startGuest: false, prepareHost: (h) => h.name === 'lab-a' && installHook(h, svc) });
    const [a, b] = lab.hosts;
    fs.writeFileSync(svc.configFile, JSON.stringify({ ...svc.config, hosts: labHostsConfig(lab) }));
    serve = await startServe(svc);
    const uuid = await defineGuests(lab, a, b);
    const reg = await svc.ssh('admin', 'script --json --stop-on-error', `register tiny --uuid ${uuid} --host lab-a\napprove tiny\n`);
    if (reg.code !== 0) throw new Error(`register/approve: ${reg.stdout} ${reg.stderr}`);
    log(`service on ${svc.port}, hook on lab-a, none on lab-b; ${WARMUP} warm-up and ${STARTS} timed starts on each`);
    const loadBefore = os.loadavg()[0];
    const { withHook, without } = await rounds(lab, a, b);
    const loadAfter = os.loadavg()[0];
    const audit = await svc.ssh('admin', 'script --json', 'audit\n');
    const yes = (JSON.parse(audit.stdout.split('\n')[0]).data ?? []).filter((e) => e.action === 'admit' && e.details.answer === 'yes');
    if (yes.length !== STARTS + WARMUP) throw new Error(`${yes.length} admit decisions audited for ${STARTS + WARMUP} starts on lab-a`);
    log(`with the hook (ms): ${withHook.map((x) => Math.round(x)).join(' ')}`);
    log(`without (ms):       ${without.map((x) => Math.round(x)).join(' ')}`);
    const base = median(without);
    const added = withHook.map((ms) => ms - base);
    const out = {
      decisions: withHook.length,
      p50Ms: r1(pct(added, 50)),
      p99Ms: r1(pct(added, 99)),
      maxAddedMs: r1(Math.max(...added)),
      withMedianMs: r1(median(withHook)),
      withoutMedianMs: r1(base),
      withP99Ms: r1(pct(withHook, 99)),
      withoutP99Ms: r1(pct(without, 99)),
      startsWithout: without.length,
      pauseMs: PAUSE_MS,
      loadAvg: [r1(loadBefore), r1(loadAfter)],
      targetP99Ms: 300,
    };
    console.log(JSON.stringify(out));
  } finally {
    serve?.kill('SIGTERM');
    await lab?.stop();
    await sleep(200);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exit(1);
});
