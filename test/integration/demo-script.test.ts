import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBillboard, spawnBillboard } from './script-harness.js';

// `billboard script --demo`: the embedded lab (real libvirt test driver, real agents over UDP) through the
// script interface, and its clean-up.

async function runDemoScript(input: string, tmp: string) {
  const r = await runBillboard(['script', '--demo', '--json'], { ...process.env, TMPDIR: tmp }, input, 80_000);
  return { code: r.code, lines: r.json(), stderr: r.stderr };
}

describe('script --demo', () => {
  it('shows the incidents of the first minute and cleans up after itself', { timeout: 90_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bb-demo-'));
    const r = await runDemoScript('wait 20\nfindings\nvms\npending\n', tmp);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => l.command)).toEqual(['wait', 'findings', 'vms', 'pending']);
    expect(r.lines.every((l) => l.ok)).toBe(true);
    const findings = r.lines[1]!.data as { code: string; severity: string; vmName?: string; state: string }[];
    const has = (code: string, vm: string, sev?: string) =>
      findings.some((f) => f.code === code && f.vmName === vm && f.state === 'open' && (!sev || f.severity === sev));
    expect(has('DUPLICATE_UUID', 'db-01', 'critical')).toBe(true);
    expect(has('FORGED_BEACON', 'web-02')).toBe(true);
    expect(has('SILENT', 'cache-01')).toBe(true);
    expect(has('UNREGISTERED', 'miner-7f')).toBe(true);
    const vms = r.lines[2]!.data as { name: string; status: string; instances: { host: string }[] }[];
    expect(
      vms
        .find((v) => v.name === 'db-01')
        ?.instances.map((i) => i.host)
        .sort(),
    ).toEqual(['lab-a', 'lab-b']);
    expect((r.lines[3]!.data as { name: string }[]).map((p) => p.name)).toEqual(expect.arrayContaining(['miner-7f', 'build-01']));
    // nothing left: no agent process, no temp folder
    expect(readdirSync(tmp)).toEqual([]);
    expect(spawnSync('pgrep', ['-f', tmp]).status).toBe(1);
  });

  it('approving a pending VM (confirming the key it was shown) clears its UNREGISTERED finding', { timeout: 90_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bb-demo-'));
    // interactive: the key to confirm is read from `pending` first, as an operator would (a key that reached the
    // request from a beacon after a scan opened it is bound only when its fingerprint is confirmed)
    const child = spawnBillboard(['script', '--demo', '--json'], { ...process.env, TMPDIR: tmp });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (out += d));
    const lines = () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
    const until = async (n: number) => {
      for (let i = 0; i < 400 && lines().length < n; i++) await new Promise((r) => setTimeout(r, 100));
      return lines();
    };
    child.stdin!.write('wait 12\nfindings\npending\n');
    const first = await until(3);
    const miner = (first[2]!.data as { name: string; keyFp?: string }[]).find((p) => p.name === 'miner-7f')!;
    expect(miner.keyFp).toMatch(/^SHA256:/);
    child.stdin!.end(`approve miner-7f --key ${miner.keyFp} --note "ours after all"\nwait 4\nfindings\nvms miner\n`);
    await new Promise((r) => child.on('close', r));
    const r = lines();
    expect(r.every((l) => l.ok)).toBe(true);
    const open = (i: number) =>
      (r[i]!.data as { code: string; vmName?: string; state: string }[]).filter(
        (f) => f.code === 'UNREGISTERED' && f.vmName === 'miner-7f' && f.state !== 'resolved',
      );
    expect(open(1)).toHaveLength(1);
    expect(open(5)).toHaveLength(0);
    expect(r[6]!.data[0]).toMatchObject({ name: 'miner-7f', registration: 'approved', status: 'ok' });
  });

  it('runs a simulated migration stage by stage', { timeout: 90_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bb-demo-'));
    const r = await runDemoScript('migrate web-01 --to lab-c\nauthorize web-01\nwatch web-01\nvms web-01\n', tmp);
    expect(r.stderr).toBe('');
    const results = r.lines.filter((l) => 'command' in l);
    expect(results.map((l) => [l.command, l.ok])).toEqual([
      ['migrate', true],
      ['authorize', true],
      ['watch', true],
      ['vms', true],
    ]);
    const stages = r.lines.filter((l) => l.event?.type === 'stage' || l.event?.type === 'end').map((l) => l.event.stage ?? l.event.state);
    const order = ['pre-migration', 'reservation', 'iterative-pre-copy', 'stop-and-copy', 'commitment', 'activation', 'completed'];
    expect(stages.filter((s: string) => order.includes(s))).toEqual(order);
    const progress = r.lines.filter((l) => l.event?.type === 'progress');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.every((l) => l.event.stats.source === 'simulated')).toBe(true);
    expect(results[2]!.data.simulated).toBe(true);
    expect(results[3]!.data[0].instances.map((i: { host: string }) => i.host)).toEqual(['lab-c']);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('input that ends right after authorize waits for the migration and reports how it ended', { timeout: 90_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bb-demo-'));
    const r = await runDemoScript('migrate web-01 --to lab-c\nauthorize web-01\n', tmp);
    expect(r.lines.map((l) => [l.command, l.ok])).toEqual([
      ['migrate', true],
      ['authorize', true],
    ]);
    const err = r.stderr.split('\n').filter(Boolean);
    expect(err).toEqual([
      expect.stringMatching(/^billboard: input ended; waiting for migration M-1 \(web-01 lab-a → lab-c, [a-z-]+\) to end/),
      expect.stringMatching(/^billboard: M-1 completed: /),
    ]);
    expect(r.code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('SIGINT mid-script leaves no child process or temp folder', { timeout: 60_000 }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bb-demo-'));
    const p = spawnBillboard(['script', '--demo'], { ...process.env, TMPDIR: tmp });
    p.stdin!.write('wait 60\n');
    // wait until the agents run (match the agents themselves: short-lived local virsh processes name the folder too)
    const agents = `billboard-beacon.*${tmp}`;
    const t0 = Date.now();
    while (spawnSync('pgrep', ['-f', agents]).status !== 0 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));
    expect(spawnSync('pgrep', ['-f', agents]).status).toBe(0);
    const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    p.kill('SIGINT');
    expect(await exited).toBe(130);
    await new Promise((r) => setTimeout(r, 300));
    expect(spawnSync('pgrep', ['-f', tmp]).status).toBe(1);
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
  });
});
