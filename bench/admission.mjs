#!/usr/bin/env node
// npm run bench -- admission [--decisions 200] [--vms 200]
//
// What the admission hook adds to a `virsh start` (issue 18): contrib/billboard-admit run as libvirt runs it (sh, the
// domain XML on stdin) asking a real `billboard serve` (child process, temp XDG dirs, the real encrypted store) over
// OpenSSH with a `host` role key, a fresh ssh connection per decision as on a lab host. The service's lab has one
// libvirt test:/// host with --vms running domains, all approved; each decision asks for one of them on its home host
// (yes), every tenth for one on the wrong host (no, with its reason). Timed: the hook's wall time, spawn to exit.
// `baselineMs` is the same hook for an operation it does not ask about (sh start-up and nothing else).
// Progress → stderr; last stdout line = one JSON object with decisions, p50Ms, p99Ms.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  if (!Number.isInteger(v) || v <= 0) {
    log(`--${name} needs a positive whole number`);
    process.exit(2);
  }
  return v;
}
const DECISIONS = opt('decisions', 200);
const VMS = opt('vms', 200);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};
const r1 = (x) => (x === null ? null : Math.round(x * 10) / 10);
const uuid = (i) => `bbbbbbbb-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const mac = (i) => `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

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

const domainXml = (i) =>
  `<domain type='kvm'>\n  <name>bench-${i}</name>\n  <uuid>${uuid(i)}</uuid>\n  <devices>\n    <interface type='network'>\n` +
  `      <mac address='${mac(i)}'/>\n    </interface>\n  </devices>\n</domain>\n`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-bench-admission-'));
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
  let serve;
  try {
    const { testDriverXml } = await import('../dist/demo/lab-xml.js');
    const port = await freePort();
    const keys = {};
    for (const name of ['admin', 'host-lab-a']) {
      const file = path.join(dir, `id_${name}`);
      spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
      keys[name] = { file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
    }
    const hostXml = path.join(dir, 'lab-a.xml');
    const doms = Array.from({ length: VMS }, (_, i) => ({
      uuid: uuid(i),
      name: `bench-${i}`,
      state: 'running',
      macs: [mac(i)],
      memoryKiB: 65536,
      vcpus: 1,
    }));
    fs.writeFileSync(hostXml, testDriverXml(doms));
    fs.writeFileSync(path.join(dir, 'empty.xml'), testDriverXml([]));
    const cfgDir = path.join(dir, 'config', 'billboard');
    fs.mkdirSync(cfgDir, { recursive: true });
    fs.writeFileSync(
      path.join(cfgDir, 'config.json'),
      JSON.stringify({
        beacon: { listen: '127.0.0.1:0' },
        serve: { listen: `127.0.0.1:${port}` },
        hosts: [
          { name: 'lab-a', driver: 'libvirt', uri: `test://${hostXml}` },
          { name: 'lab-b', driver: 'libvirt', uri: `test://${path.join(dir, 'empty.xml')}` },
        ],
        policy: { admission: 'enforce' },
        operators: [
          { name: 'admin', role: 'admin', keys: [keys.admin.pub] },
          { name: 'host-lab-a', role: 'host', keys: [keys['host-lab-a'].pub] },
        ],
      }),
    );
    const init = await run(process.execPath, [BIN, 'init'], { env });
    if (init.code !== 0) throw new Error(`init: ${init.stderr}`);
    const hostKey = path.join(dir, 'data', 'billboard', 'ssh_host_ed25519_key');
    const knownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${spawnSync('ssh-keygen', ['-y', '-f', hostKey]).stdout.toString().trim()}\n`);

    serve = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    serve.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    for (const t0 = Date.now(); !err.includes('operators on ssh'); await sleep(50)) {
      if (serve.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`serve did not start: ${err}`);
    }
    const ssh = (as, command, input = '') =>
      run(
        'ssh',
        ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes'].concat([
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'LogLevel=ERROR',
          '-i',
          keys[as].file,
          '-p',
          String(port),
          `${as}@127.0.0.1`,
          command,
        ]),
        { env, input },
      );
    log(`service up on ${port}; waiting for the scan of ${VMS} domains`);
    for (const t0 = Date.now(); ; await sleep(200)) {
      const r = await ssh('admin', 'script --json', 'pending\n');
      const pending = JSON.parse(r.stdout.split('\n')[0] || '{}').data ?? [];
      if (pending.length >= VMS) break;
      if (Date.now() - t0 > 60_000) throw new Error(`the scan did not show ${VMS} requests: ${r.stdout} ${r.stderr}`);
    }
    const approve = Array.from({ length: VMS }, (_, i) => `approve ${uuid(i)}\n`).join('');
    const a = await ssh('admin', 'script --json --stop-on-error', approve);
    if (a.code !== 0) throw new Error(`approve failed: ${a.stdout.slice(-400)} ${a.stderr}`);
    log(`${VMS} approved; ${DECISIONS} decisions through the hook`);

    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const hookEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', BILLBOARD_ADMIT_CONF: path.join(dir, 'admit.conf'), TMPDIR: dir };
    const conf = (host) =>
      fs.writeFileSync(
        hookEnv.BILLBOARD_ADMIT_CONF,
        `TARGET=host-lab-a@127.0.0.1:${port}\nIDENTITY=${keys['host-lab-a'].file}\nKNOWN_HOSTS=${knownHosts}\nHOST=${host}\nUNREACHABLE=deny\nTIMEOUT=3\n`,
      );
    conf('lab-a');
    const hook = (i, op = 'prepare') => run('/bin/sh', [HOOK, `bench-${i}`, op, 'begin', '-'], { env: hookEnv, input: domainXml(i) });
    const baseline = [];
    for (let i = 0; i < 20; i++) baseline.push((await hook(i, 'started')).ms);
    const times = [];
    const yes = [];
    const no = [];
    let wrong = 0;
    for (let d = 0; d < DECISIONS; d++) {
      const i = d % VMS;
      // every tenth asks for a domain approved on lab-a from lab-b's name with lab-a's key: refused (wrong host)
      const refuse = d % 10 === 9;
      if (refuse) conf('lab-b');
      const r = await hook(i);
      if (refuse) conf('lab-a');
      const expected = refuse ? 1 : 0;
      if (r.code !== expected) {
        wrong++;
        if (wrong <= 3) log(`decision ${d}: exit ${r.code}, expected ${expected}: ${r.stderr.trim()}`);
      }
      times.push(r.ms);
      (refuse ? no : yes).push(r.ms);
      if ((d + 1) % 50 === 0) log(`${d + 1}/${DECISIONS}: p50 ${r1(pct(times, 50))} ms`);
    }
    const out = {
      decisions: DECISIONS,
      p50Ms: r1(pct(times, 50)),
      p99Ms: r1(pct(times, 99)),
      maxMs: r1(Math.max(...times)),
      yesP50Ms: r1(pct(yes, 50)),
      noP50Ms: r1(pct(no, 50)),
      baselineMs: r1(pct(baseline, 50)),
      wrongAnswers: wrong,
      vms: VMS,
      targetP99Ms: 300,
    };
    console.log(JSON.stringify(out));
  } finally {
    serve?.kill('SIGTERM');
    await sleep(200);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  log(String(e?.stack ?? e));
  process.exit(1);
});
