import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireTmux, TmuxSession } from './tmux.js';

// The real `bin/billboard demo` in tmux at 120×40: the newcomer's first minutes, keys and screens.

function leftovers(tmp: string): { procs: string; files: string[] } {
  const p = spawnSync('pgrep', ['-af', tmp], { encoding: 'utf8' });
  const procs = p.stdout
    .split('\n')
    .filter((l) => l && !l.includes('pgrep') && !l.includes('sleep 600') && !l.includes('tmux'))
    .join('\n');
  return { procs, files: existsSync(tmp) ? readdirSync(tmp) : [] };
}

describe('billboard demo in a real terminal', () => {
  let t: TmuxSession | undefined;
  beforeAll(() => {
    requireTmux();
    if (!existsSync('dist/cli/main.js')) throw new Error('e2e tier needs a build: run `npm run build` (npm test does)');
  });
  afterEach(() => t?.kill());

  it('shows every incident, approves, filters, helps, migrates (simulated) and quits clean', { timeout: 180_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo');
    const s0 = await t.waitText('hosts 3 up', 45_000);
    expect(s0).toContain('1 Billboard');
    expect(s0).toContain('web-01');

    // within 60 s every view has content: the incidents of the demo's first minute
    await t.keys('3');
    const findings = await t.waitFor(
      (s) => /CRIT\s+DUPLICATE_UUID\s+db-01/.test(s) && /FORGED_BEACON\s+web-02/.test(s) && /SILENT\s+cache-01/.test(s),
      'DUPLICATE_UUID, FORGED_BEACON and SILENT findings',
      60_000,
    );
    expect(findings).toMatch(/UNREGISTERED\s+miner-7f/);
    // every redraw replaces the frame in place: no ghost of an earlier header or hint bar left on screen
    // (a capture can land mid-redraw, so wait for a whole frame; a ghost would still show up as a second copy)
    await new Promise((r) => setTimeout(r, 3000));
    const settled = await t.waitFor((s) => /^billboard\b.* {2}hosts \d/m.test(s) && /\? help {2}q quit/.test(s), 'a whole frame');
    expect(settled.match(/^billboard\b.* {2}hosts \d/gm)).toHaveLength(1);
    expect(settled.match(/\? help {2}q quit/g)).toHaveLength(1);

    await t.keys('2');
    await t.waitText('miner-7f');
    await t.keys('/miner', 'Enter');
    await t.waitText(/rows 1\b/);
    await t.keys('a');
    await t.waitText(/approve miner-7f \([0-9a-f]{8}\)\? binds key SHA256:/); // the fingerprint, before anything binds
    await t.keys('y');
    await t.waitText(/approved miner-7f/);
    // after each Escape, wait for its effect: a key typed right behind a lone ESC can arrive in the same read,
    // and the terminal parser then takes the pair for one meta key
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('filter:/miner/'), 'the filter cleared');

    await t.keys('?');
    const help = await t.waitText('Pending keys');
    expect(help).toContain('approve the registration');
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('Pending keys'), 'the help closed');

    // a demo migration: pick a destination whose pre-checks pass, authorize, watch it complete
    await t.keys('1', '/web-01', 'Enter');
    await t.waitText(/rows 1\b/);
    await t.keys('m');
    const pick = await t.waitText(/migrate web-01 \([0-9a-f]{8}\) to:/);
    expect(pick).toMatch(/✓ lab-[bc]/);
    await t.keys('Enter');
    await t.waitText(/awaits authorization|awaiting-authorization/);
    await t.keys('4');
    await t.waitText('web-01');
    await t.keys('a');
    const done = await t.waitFor((s) => /completed/.test(s) && /simulated/i.test(s), 'the simulated migration to complete', 60_000);
    expect(done).toMatch(/web-01/);
    // the table row follows the job, not only the panel below it; and still does after switching views
    const jobRow = (s: string): string => s.split('\n').find((l) => /\bM-\d+\s/.test(l) && l.includes('web-01')) ?? '';
    await t.waitFor((s) => /\bcompleted\b/.test(jobRow(s)), 'the Migrations row to say completed', 10_000);
    await t.keys('1');
    await t.waitText('sort:');
    await t.keys('4');
    await t.waitFor(
      (s) => /\bcompleted\b/.test(jobRow(s)) && !/awaiting-authorization/.test(jobRow(s)),
      'the row still completed after a view switch',
      10_000,
    );
    await t.keys('1', 'Escape');
    await t.waitFor((s) => /web-01\s+\S+\s+lab-[bc]/.test(s), 'web-01 shown on its new host', 20_000);

    await t.keys('q');
    await t.waitText('__EXIT__0', 20_000);
    const left = leftovers(t.tmp);
    expect(left.procs).toBe('');
    expect(left.files).toEqual([]);
  });

  it('ctrl-c leaves no agent, temp folder or socket behind', { timeout: 90_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo');
    await t.waitText('hosts 3 up', 45_000);
    // agents are running now
    expect(leftovers(t.tmp).procs).toMatch(/billboard-beacon/);
    await t.keys('C-c');
    await t.waitText(/__EXIT__\d+/, 20_000);
    const left = leftovers(t.tmp);
    expect(left.procs).toBe('');
    expect(left.files).toEqual([]);
  });

  it('closing the terminal (SIGHUP) cleans up as well', { timeout: 90_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo');
    await t.waitText('hosts 3 up', 45_000);
    expect(leftovers(t.tmp).procs).toMatch(/billboard-beacon/);
    t.tmux(['kill-session', '-t', 'e2e']);
    const t0 = Date.now();
    let left = leftovers(t.tmp);
    while ((left.procs || left.files.length) && Date.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 250));
      left = leftovers(t.tmp);
    }
    expect(left.procs).toBe('');
    expect(left.files).toEqual([]);
  });

  it('--read-only hides and refuses mutating keys', { timeout: 90_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo --read-only');
    const s = await t.waitText('hosts 3 up', 45_000);
    expect(s).not.toMatch(/a approve/);
    await t.keys('2', 'a');
    await t.waitText(/read-only/);
    await t.keys(':');
    await t.keys('approve build-01', 'Enter');
    await t.waitText(/READ_ONLY|read-only/);
    await t.keys('q');
    await t.waitText('__EXIT__0', 20_000);
  });
});
