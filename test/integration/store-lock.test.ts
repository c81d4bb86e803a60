// One writer per store, across real processes: the second is refused naming the holder; the first completes;
// a lock left by a dead process is recovered.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  jsonLines,
  requireDist,
  ROOT,
  runBillboard,
  spawnBillboard,
  stderrLines,
  tempLab,
  uuidFor,
  type TempLab,
} from './script-harness.js';

const labs: TempLab[] = [];
beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

async function initialized(): Promise<TempLab> {
  const l = tempLab();
  labs.push(l);
  const init = await runBillboard(['init'], l.env);
  expect(init.code, init.stderr).toBe(0);
  return l;
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('store lock', () => {
  it('a second script on the same store exits 2 naming the holder pid; the first completes ok', async () => {
    const l = await initialized();
    const first = spawnBillboard(['script', '--json'], l.env);
    let out1 = '';
    let err1 = '';
    first.stdout!.setEncoding('utf8').on('data', (d) => (out1 += d));
    first.stderr!.setEncoding('utf8').on('data', (d) => (err1 += d));
    const done1 = new Promise<number | null>((r) => first.on('close', (c) => r(c)));
    // stdin stays open until the second has been refused: the first holds the lock however slow the second starts
    first.stdin!.write('register web-01 --uuid 11111111-2222-3333-4444-555555555555\n');
    // the first holds the lock once it has printed its first result
    await until(() => out1.includes('"register"'), 'the first script to register');
    const lock = JSON.parse(readFileSync(`${l.storePath}.lock`, 'utf8'));
    expect(lock.pid).toBe(first.pid);

    const second = await runBillboard(['script', '--json'], l.env, 'register db-01 --uuid 22222222-2222-3333-4444-555555555555\n');
    expect(second.code).toBe(2);
    expect(second.stdout).toBe('');
    const lines = stderrLines(second.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`in use by pid ${first.pid}\\b`));

    first.stdin!.end('wait 1\napprove web-01\n');
    expect(await done1).toBe(0);
    expect(err1).toBe('');
    expect(jsonLines(out1).map((x) => [x.command, x.ok])).toEqual([
      ['register', true],
      ['wait', true],
      ['approve', true],
    ]);
    expect(existsSync(`${l.storePath}.lock`)).toBe(false);
    // the refused process changed nothing: db-01 was never registered
    const after = await runBillboard(['script', '--json'], l.env, 'audit\n');
    expect(after.json()[0]!.data.map((e: any) => e.action)).toEqual(['init', 'register', 'approve']);
  });

  it('init on a store held by a running script is refused too (exit 2), never overwriting', async () => {
    const l = await initialized();
    const first = spawnBillboard(['script', '--json'], l.env);
    let out = '';
    first.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
    const done = new Promise<number | null>((r) => first.on('close', (c) => r(c)));
    first.stdin!.write('pending\n'); // stdin stays open (the lock held) until init has been refused
    await until(() => out.includes('"pending"'), 'the script to start');
    const r = await runBillboard(['init'], l.env);
    first.stdin!.end();
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(await done).toBe(0);
  });

  it('a stale lock (dead pid) is recovered', async () => {
    const l = await initialized();
    const pid = deadPid();
    writeFileSync(
      `${l.storePath}.lock`,
      JSON.stringify({ pid, host: hostname(), since: new Date().toISOString(), command: 'billboard.js script' }),
    );
    const r = await runBillboard(
      ['script', '--json'],
      l.env,
      'register web-01 --uuid 11111111-2222-3333-4444-555555555555\naudit verify\n',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json().every((x) => x.ok)).toBe(true);
    expect(existsSync(`${l.storePath}.lock`)).toBe(false);
  });

  it('an unreadable lock file (a crash while writing it) is recovered', async () => {
    const l = await initialized();
    writeFileSync(`${l.storePath}.lock`, '');
    const r = await runBillboard(['script', '--json'], l.env, 'pending\n');
    expect(r.code).toBe(0);
    expect(existsSync(`${l.storePath}.lock`)).toBe(false);
  });

  it('a live holder whose lock file is still empty (between taking the lock and writing its pid) is not taken over', async () => {
    const l = await initialized();
    const holder = holdKernelLock(`${l.storePath}.lock`);
    try {
      await holder.ready;
      const r = await runBillboard(['script', '--json'], l.env, `register web-01 --uuid ${uuidFor(1)}\n`);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/is in use by another billboard process/)]);
    } finally {
      holder.child.kill('SIGKILL');
    }
    // the holder died: the kernel dropped its lock, and the file it left is no obstacle
    await new Promise((r) => holder.child.once('close', r));
    const after = await runBillboard(['script', '--json'], l.env, 'audit\n');
    expect(after.code).toBe(0);
    expect(after.json()[0]!.data.map((e: any) => e.action)).toEqual(['init']);
  });

  it('a symlink planted as the lock file is refused (exit 2), its target untouched', async () => {
    const l = await initialized();
    const target = join(l.dir, 'precious');
    writeFileSync(target, 'keep me');
    symlinkSync(target, `${l.storePath}.lock`);
    const r = await runBillboard(['script', '--json'], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/cannot lock .*store\.db.*\.lock/)]);
    expect(readFileSync(target, 'utf8')).toBe('keep me');
  });

  for (const stale of ['none', 'dead pid', 'empty'] as const) {
    it(`20 processes at once on one store (stale lock: ${stale}): exactly one writes, the others exit 2 "in use"`, async () => {
      const l = await initialized();
      if (stale === 'dead pid') {
        writeFileSync(
          `${l.storePath}.lock`,
          JSON.stringify({ pid: deadPid(), host: hostname(), since: new Date().toISOString(), command: 'billboard.js script' }),
        );
      }
      if (stale === 'empty') writeFileSync(`${l.storePath}.lock`, '');
      const procs = Array.from({ length: 20 }, (_, i) => {
        const child = spawnBillboard(['script', '--json'], l.env);
        const p = { i, child, out: '', err: '', code: undefined as number | null | undefined };
        child.stdout!.setEncoding('utf8').on('data', (d) => (p.out += d));
        child.stderr!.setEncoding('utf8').on('data', (d) => (p.err += d));
        child.on('close', (c) => (p.code = c));
        child.stdin!.on('error', () => {});
        // stdin stays open: a writer holds the store until every other process has been refused
        child.stdin!.write(`register vm-${i} --uuid ${uuidFor(i)}\n`);
        return p;
      });
      try {
        await until(
          () => procs.filter((p) => p.code === 2).length === 19 && procs.some((p) => p.out.includes('"register"')),
          '19 refusals and one writer',
          120_000,
        );
        const writers = procs.filter((p) => p.code !== 2);
        expect(writers).toHaveLength(1);
        for (const p of procs.filter((x) => x.code === 2)) {
          expect(p.out).toBe('');
          expect(stderrLines(p.err)).toEqual([expect.stringMatching(/is in use by (pid \d+|another billboard process)/)]);
        }
        const w = writers[0]!;
        w.child.stdin!.end();
        await until(() => w.code !== undefined, 'the writer to finish', 60_000);
        expect(w.code).toBe(0);
        const after = await runBillboard(['script', '--json'], l.env, 'audit\n');
        const entries = after.json()[0]!.data as Array<{ action: string; details: { name?: string } }>;
        expect(entries.map((e) => e.action)).toEqual(['init', 'register']);
        expect(entries[1]!.details.name).toBe(`vm-${w.i}`);
      } finally {
        for (const p of procs) if (p.code === undefined) p.child.kill('SIGKILL');
      }
    }, 180_000);
  }
});

/** A process that holds the kernel lock on `path` and writes nothing into it (a holder caught mid-start). */
function holdKernelLock(path: string): { child: ChildProcess; ready: Promise<void> } {
  const code = `
    const fs = require('node:fs');
    const { tryLock } = require('fs-native-extensions');
    const fd = fs.openSync(process.argv[1], 'a+');
    if (!tryLock(fd)) process.exit(3);
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code, path], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`the lock holder exited (${c})`)));
  });
  return { child, ready };
}
