import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  guardedMigrateScript,
  HANG_AFTER_S,
  HANG_MARK,
  hangLine,
  migrateWatchScript,
  type GuardTarget,
} from '../../src/hosts/virsh/migrate-guard.js';

// The guard's shell scripts against real processes: a process without a doMigrate thread and without a job on
// its domain is found hung after HANG_AFTER_S; one with the thread, or with a job, is left alone.

const dir = mkdtempSync(join(tmpdir(), 'bb-guard-'));
const UUID = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';

function script(name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}

// the job check runs `virsh -q -c URI domjobinfo UUID`: these stand in for a host with no job and one with one
const noJob: GuardTarget = { virsh: script('virsh-nojob', 'echo "Job type:         None"'), uri: 'test:///default', uuid: UUID };
const withJob: GuardTarget = { virsh: script('virsh-job', 'echo "Job type:         Unbounded"'), uri: 'test:///default', uuid: UUID };
// a process whose (main) thread is named doMigrate, as virsh's migration thread is: comm is the program's name
symlinkSync(spawnSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim(), join(dir, 'doMigrate'));

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** run the watch for `pid`: what it printed, and after how long it ended (or null after `forMs`) */
function watch(pid: number, t: GuardTarget, forMs: number): Promise<{ out: string; ms: number | null }> {
  const t0 = Date.now();
  const w = spawn('sh', ['-c', migrateWatchScript(String(pid), t)], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(w);
  let out = '';
  w.stdout!.on('data', (d) => (out += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      w.kill('SIGKILL');
      resolve({ out, ms: null });
    }, forMs);
    w.on('exit', () => {
      clearTimeout(timer);
      resolve({ out, ms: Date.now() - t0 });
    });
  });
}

const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

describe('virsh migrate hang guard', () => {
  it(`finds a process without a doMigrate thread and without a job hung after ${HANG_AFTER_S} s`, async () => {
    const p = start('sleep', ['60']);
    const r = await watch(p.pid!, noJob, 15_000);
    expect(r.out.trim()).toBe(HANG_MARK);
    expect(r.ms).toBeGreaterThanOrEqual(HANG_AFTER_S * 1000);
  });

  it('leaves a process with a doMigrate thread alone, and ends quietly once it is gone', async () => {
    const p = start(join(dir, 'doMigrate'), ['60']);
    const held = await watch(p.pid!, noJob, HANG_AFTER_S * 1000 + 2000);
    expect(held).toEqual({ out: '', ms: null });
    const ending = watch(p.pid!, noJob, 10_000);
    setTimeout(() => p.kill('SIGKILL'), 300);
    const r = await ending;
    expect(r.out).toBe('');
    expect(r.ms).not.toBeNull();
  });

  it('leaves a process alone while libvirt shows a job on the domain (another virsh may name its thread otherwise)', async () => {
    const p = start('sleep', ['60']);
    expect(await watch(p.pid!, withJob, HANG_AFTER_S * 1000 + 2000)).toEqual({ out: '', ms: null });
  });

  it('the guarded command: a hung one is killed and says so on stderr; a quick one passes its output and status through', async () => {
    const t0 = Date.now();
    const hung = spawnSync('sh', ['-c', guardedMigrateScript('sleep 61', noJob, 'c0ffee')], { encoding: 'utf8', timeout: 20_000 });
    expect(hung.status).toBe(137);
    expect(hung.stderr.split('\n')).toContain(hangLine('c0ffee'));
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(spawnSync('pgrep', ['-f', '^sleep 61$']).status).toBe(1); // killed, not left behind

    const t1 = Date.now();
    const quick = spawnSync('sh', ['-c', guardedMigrateScript(`sh -c 'echo out; echo "error: refused" >&2; exit 3'`, noJob, 'c0ffee')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(quick).toMatchObject({ status: 3, stdout: 'out\n', stderr: 'error: refused\n' });
    expect(Date.now() - t1).toBeLessThan(HANG_AFTER_S * 1000); // the watch does not hold the output open
  });

  it('a watch of a process that is already gone ends at once, quietly', async () => {
    const p = start('true', []);
    await new Promise((r) => p.on('exit', r));
    expect(alive(p.pid!)).toBe(false);
    const r = await watch(p.pid!, noJob, 5000);
    expect(r.out).toBe('');
    expect(r.ms).toBeLessThan(2000);
  });
});
