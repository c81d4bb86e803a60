#!/usr/bin/env node
// bench/tui: the Ink console over the fake console (test/support/fake-console.ts: the real Console and Engine over
// a synthetic lab of N VMs) with M beacon updates/s, rendered into a fake 120×40 terminal. Measures frame time
// (publish or keypress → Ink frame), keypress-to-frame, CPU, RSS and the first frame after launch. Progress on stderr; one JSON object as the last stdout line.
//   npm run bench -- tui [--vms 10000] [--rate 10000] [--seconds 10] [--cols 120] [--rows 40]
// firstFrameMs: a separate process, started under `script` so it has a real pty as its terminal, runs the same
// path as runTui (mountTui on process.stdout/stdin, alternate screen) over the fake console, and reports when Ink's
// first frame is rendered. Included: node start-up, importing the TUI (react, ink, yoga), building the 10,000-VM
// fake console as the runtime stands when the TUI mounts (the real engine over a 10,000-VM registry; the first scans
// and beacons arrive after the first frame, as they do for `billboard`), mounting and the first render. Not included:
// opening the real encrypted store (bench/store measures it), the beacon listener and the host connections.
// The fake console is TypeScript under test/: the project's own compiler transpiles it (types are not checked here),
// in a child process, into node_modules/.cache/billboard-bench, where `src` links to dist/, so it runs the same built
// modules as the TUI.
import { spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// Ink decides "CI → print only the last frame" when it is imported: unset CI first, then import it.
delete process.env.CI;
delete process.env.CONTINUOUS_INTEGRATION;

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : def;
};
const VMS = opt('vms', 10_000);
const RATE = opt('rate', 10_000);
const SECONDS = opt('seconds', 10);
const COLS = opt('cols', 120);
const ROWS = opt('rows', 40);
const log = (s) => process.stderr.write(`bench tui: ${s}\n`);
const round = (x) => Math.round(x * 100) / 100;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'node_modules', '.cache', 'billboard-bench');
const FAKE_CONSOLE = join(CACHE, 'test', 'support', 'fake-console.js');

/** Transpile test/support/fake-console.ts and the test files it imports into CACHE; its imports of src/ reach dist/. */
async function transpileFakeConsole() {
  const ts = (await import('typescript')).default;
  rmSync(CACHE, { recursive: true, force: true });
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(join(CACHE, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(join(ROOT, 'dist'), join(CACHE, 'src'), 'dir');
  const todo = [join(ROOT, 'test', 'support', 'fake-console.ts')];
  const done = new Set();
  while (todo.length) {
    const file = todo.pop();
    if (done.has(file)) continue;
    done.add(file);
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const out = join(CACHE, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    for (const [, spec] of outputText.matchAll(/from ['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      if (!relative(ROOT, target).startsWith('src')) todo.push(target);
    }
  }
}

// ─── child: the transpiler ─────────────────────────────────────────────────────────────────────────
// Loaded, the TypeScript compiler holds about 60 MB of RSS for the rest of the process's life: it runs in a process
// of its own, so the RSS measured below is the engine's and the TUI's, not the bench's tooling.
if (args.includes('--transpile-only')) {
  await transpileFakeConsole();
  process.exit(0);
}

// ─── child: first frame of the real-terminal path ────────────────────────────────────────────────
const reportAt = args.indexOf('--first-frame-child');
if (reportAt >= 0) {
  const report = args[reportAt + 1];
  const tImport = performance.now();
  const { mountTui } = await import('../dist/tui/app.js');
  const { createFakeConsole } = await import(FAKE_CONSOLE);
  const tApi = performance.now();
  // as `billboard` starts: the engine over the registry; scans and beacons come in after the first frame
  const api = await createFakeConsole({ vms: VMS, start: Date.now(), history: false });
  const tMount = performance.now();
  const { writeFileSync } = await import('node:fs');
  let firstAt;
  const m = mountTui(api, {
    readOnly: false,
    onRender: () => {
      if (firstAt !== undefined) return;
      firstAt = performance.now(); // ms since this process started (may run inside mountTui: no `m` yet)
      writeFileSync(
        report,
        JSON.stringify({
          firstFrameMs: firstAt,
          startupMs: tImport,
          importMs: tApi - tImport,
          fakeConsoleMs: tMount - tApi,
          mountToFrameMs: firstAt - tMount,
        }),
      );
      setImmediate(() => m.ctl.quit(0));
    },
  });
  await m.done;
  process.exit(0);
}

/** spawn the child under `script` (a pty), return its report plus the parent-side spawn → exit time */
async function firstFrameInPty() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tui-'));
  const report = join(dir, 'first.json');
  const self = fileURLToPath(import.meta.url);
  const cmd = `stty cols ${COLS} rows ${ROWS} 2>/dev/null; exec '${process.execPath}' '${self}' --vms ${VMS} --first-frame-child '${report}'`;
  const env = { ...process.env };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;
  const t0 = performance.now();
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
  child.stdout.resume();
  child.stderr.resume();
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise((r) => child.on('close', r));
  clearTimeout(killer);
  const wallMs = performance.now() - t0;
  try {
    return { ...JSON.parse(readFileSync(report, 'utf8')), spawnToExitMs: wallMs };
  } catch {
    log(`first-frame child failed (exit ${code}); is util-linux 'script' installed?`);
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const transpiled = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--transpile-only'], { stdio: ['ignore', 2, 2] });
if (transpiled.status !== 0) {
  log(`transpiling the fake console failed (exit ${transpiled.status})`);
  process.exit(1);
}
const first = await firstFrameInPty();
if (first)
  log(
    `first frame in a pty: ${round(first.firstFrameMs)} ms after process start (import ${round(first.importMs)}, fake console ${round(first.fakeConsoleMs)}, mount→frame ${round(first.mountToFrameMs)})`,
  );

const { mountTui } = await import('../dist/tui/app.js');
const { createFakeConsole } = await import(FAKE_CONSOLE);

class FakeStdout extends EventEmitter {
  columns = COLS;
  rows = ROWS;
  isTTY = true;
  bytes = 0;
  writes = 0;
  write(s, cb) {
    this.bytes += s.length;
    this.writes++;
    if (typeof cb === 'function') cb();
    return true;
  }
}
class FakeStdin extends EventEmitter {
  isTTY = true;
  data = null;
  setEncoding() {}
  setRawMode() {}
  resume() {}
  pause() {}
  ref() {}
  unref() {}
  read() {
    const d = this.data;
    this.data = null;
    return d;
  }
  press(s) {
    this.data = s;
    this.emit('readable');
  }
}

const pct = (xs, p) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const api = await createFakeConsole({ vms: VMS, start: Date.now() });
const stdout = new FakeStdout();
const stdin = new FakeStdin();

let firstFrameInProcessMs;
let pendingSince; // earliest publish or key not yet on screen
let keySince;
const frames = [];
const keys = [];
let measuring = false;

const m = mountTui(api, {
  readOnly: false,
  noColor: false,
  stdout,
  stdin,
  stderr: stdout,
  altScreen: false,
  store: { now: Date.now },
  onRender: () => {
    const t = performance.now();
    if (firstFrameInProcessMs === undefined) firstFrameInProcessMs = t; // performance.now() counts from process start
    if (measuring && pendingSince !== undefined) frames.push(t - pendingSince);
    if (measuring && keySince !== undefined) keys.push(t - keySince);
    pendingSince = keySince = undefined;
  },
});
m.store.onPublish = () => {
  pendingSince ??= performance.now();
};
log(`in-process first frame after ${round(firstFrameInProcessMs ?? -1)} ms (${VMS} VMs; includes the first-frame child run)`);

// beacon updates: RATE per second, applied every 10 ms; a late timer (busy machine) catches up with a bigger
// batch so the offered rate is RATE, not "RATE when the machine is idle". Each update is a beacon the real engine
// ingests (verdict, detectors, row rebuild), in this process as in an embedded `billboard`: that time is reported
// apart (cpuPctGenerator), and cpuPctTui is the rest.
let genMs = 0;
let updates = 0;
let genFrom = performance.now();
let owed = 0;
const gen = setInterval(() => {
  const t = performance.now();
  owed += ((t - genFrom) * RATE) / 1000;
  genFrom = t;
  const n = Math.min(Math.floor(owed), RATE); // at most a second's worth at once
  owed -= n;
  if (owed > RATE) owed = RATE;
  if (n > 0) api.beaconUpdates(n);
  updates += n;
  genMs += performance.now() - t;
}, 10);
const clock = setInterval(() => api.tick(100), 100);
// a key every 150 ms: down, down, down, up … (plus a view switch and back now and then)
let k = 0;
const keyTimer = setInterval(() => {
  const seq = ['j', 'j', 'j', 'k', 'j', '4', '1', 'G', 'g'];
  keySince = performance.now();
  stdin.press(seq[k++ % seq.length]);
}, 150);

let rssMax = 0;
const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 250);

// how late the event loop runs (a timer due now fires this late): on a loaded machine this, not the TUI's own work,
// sets the latency tail, so it is reported next to the frame times (compare them within one run)
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
let gcMs = 0;
let gcMaxMs = 0;
const gcKinds = {};
const gcObs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (!measuring) continue;
    gcMs += e.duration;
    gcMaxMs = Math.max(gcMaxMs, e.duration);
    const kind = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' }[e.detail?.kind] ?? String(e.detail?.kind);
    const k = (gcKinds[kind] ??= { n: 0, ms: 0, maxMs: 0 });
    k.n++;
    k.ms = round(k.ms + e.duration);
    k.maxMs = round(Math.max(k.maxMs, e.duration));
  }
});
gcObs.observe({ entryTypes: ['gc'] });

await new Promise((r) => setTimeout(r, 1000)); // warm-up
measuring = true;
loopDelay.enable();
updates = 0;
genMs = 0;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const cpu = process.cpuUsage(cpu0);
const wall = performance.now() - wall0;
measuring = false;
loopDelay.disable();
gcObs.disconnect();
clearInterval(gen);
clearInterval(clock);
clearInterval(keyTimer);
clearInterval(rssTimer);
m.ctl.quit(0);
await m.done;

const cpuMs = (cpu.user + cpu.system) / 1000;
const result = {
  bench: 'tui',
  vms: VMS,
  cols: COLS,
  rows: ROWS,
  seconds: round(wall / 1000),
  beaconUpdatesPerSec: Math.round((updates / wall) * 1000),
  frames: frames.length,
  framesPerSec: round((frames.length / wall) * 1000),
  frameP50Ms: round(pct(frames, 50)),
  frameP95Ms: round(pct(frames, 95)),
  keys: keys.length,
  keyP50Ms: round(pct(keys, 50)),
  keyP95Ms: round(pct(keys, 95)),
  cpuPct: round((cpuMs / wall) * 100),
  cpuPctGenerator: round((genMs / wall) * 100),
  cpuPctTui: round(((cpuMs - genMs) / wall) * 100),
  rssMB: round(rssMax / 1024 / 1024),
  loopDelayP50Ms: round(loopDelay.percentile(50) / 1e6),
  loopDelayP95Ms: round(loopDelay.percentile(95) / 1e6),
  gcPct: round((gcMs / wall) * 100),
  gcMaxMs: round(gcMaxMs),
  gc: gcKinds,
  firstFrameMs: first ? round(first.firstFrameMs) : -1,
  firstFrame: first
    ? {
        what: 'pty child via script: node start → import tui (react, ink, yoga) → fake console (engine over the registry of vms) → mountTui (runTui path, alt screen) → first Ink frame; ms since the child process started',
        importMs: round(first.importMs),
        fakeConsoleMs: round(first.fakeConsoleMs),
        mountToFrameMs: round(first.mountToFrameMs),
        spawnToExitMs: round(first.spawnToExitMs),
      }
    : undefined,
  loadAvg1m: round((await import('node:os')).loadavg()[0]),
  bytesPerSec: Math.round((stdout.bytes / wall) * 1000),
};
log(
  `frames p50 ${result.frameP50Ms} ms p95 ${result.frameP95Ms} ms, keys p95 ${result.keyP95Ms} ms, cpu ${result.cpuPct}%, rss ${result.rssMB} MB`,
);
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
