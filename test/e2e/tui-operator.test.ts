import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireTmux, sleep, TmuxSession } from './tmux.js';

// The operator's first day (issue 20), on the real `bin/billboard demo` in tmux: rows that keep their places, keys
// that act on the highlighted row, the twin's copy preselected, the whole evidence at 80×24, filters over fields,
// completion from the live data, pop-ups passing keys on, every demo incident resolved from the keyboard, and an
// unchanged screen that costs no bytes.

const findingIds = (s: string) => s.split('\n').flatMap((l) => /^[> ] (F-\d+)\s/.exec(l)?.[1] ?? []);
const selected = (s: string) => /^> (\S+)/m.exec(s)?.[1];
const statusLine = (s: string) => s.trimEnd().split('\n').pop() ?? '';
const INCIDENTS = (s: string) =>
  /DUPLICATE_UUID\s+db-01/.test(s) && /FORGED_BEACON\s+web-02/.test(s) && /SILENT\s+cache-01/.test(s) && /UNREGISTERED\s+miner-7f/.test(s);

describe('the operator in a real terminal', () => {
  let t: TmuxSession | undefined;
  beforeAll(() => {
    requireTmux();
    if (!existsSync('dist/cli/main.js')) throw new Error('e2e tier needs a build: run `npm run build` (npm test does)');
  });
  afterEach(() => t?.kill());

  it('keeps rows in place, acts on the highlighted row, and resolves every incident from the keyboard', { timeout: 300_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo', 120, 40);
    await t.waitText('hosts 3 up', 45_000);
    await t.keys('3');
    await t.waitFor(INCIDENTS, 'the demo incidents', 60_000);

    // the stable order: 20 captures over 10 s while beacons arrive; same order, cursor on the same id
    await t.keys('j');
    const first = t.screen();
    const order = findingIds(first);
    const sel = selected(first);
    expect(order.length).toBeGreaterThanOrEqual(5);
    for (let i = 0; i < 20; i++) {
      await sleep(500);
      const s = t.screen();
      expect(findingIds(s)).toEqual(order);
      expect(selected(s)).toBe(sel);
    }

    // `/^db` finds db-01 (the marker column is not part of what is searched)
    await t.keys('1', '/^db', 'Enter');
    const dbs = await t.waitText(/filter \/\^db\/: 1 rows/);
    expect(dbs).toMatch(/^> . db-01 /m);
    // the stop picker marks the home copy and preselects the other one; the confirmation says what stop does
    await t.keys('X');
    const pick = await t.waitText(/stop db-01 \([0-9a-f]{8}\) on which host\?/);
    expect(pick).toMatch(/^ {2}✓ lab-a {2}\(home: the registered copy\)/m);
    expect(pick).toMatch(/^> ✓ lab-b {2}\(copy\)/m);
    await t.keys('Enter');
    await t.waitText(/stop db-01 \([0-9a-f]{8}\) on lab-b: hard power-off \(virsh destroy/);
    await t.keys('y');
    await t.waitText(/stopped db-01 on lab-b/);
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('filter:/^db/'), 'the filter cleared');

    // miner-7f: power it off, reject it; build-01: approve it (the fingerprint first)
    await t.keys('/^miner', 'Enter', 'X');
    await t.waitText(/stop miner-7f \([0-9a-f]{8}\) on lab-c: hard power-off/);
    await t.keys('y');
    await t.waitText(/stopped miner-7f on lab-c/);
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('filter:'), 'the filter cleared');
    await t.keys('2', '/^miner', 'Enter', 'r');
    await t.waitText(/reject miner-7f \([0-9a-f]{8}\), reason:/);
    await t.keys('not ours', 'Enter');
    await t.waitText(/rejected miner-7f/);
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('filter:'), 'the filter cleared');
    await t.keys('/^build', 'Enter', 'a');
    await t.waitText(/approve build-01 \([0-9a-f]{8}\)\? binds key SHA256:/);
    await t.keys('y');
    await t.waitText(/approved build-01/);
    await t.keys('Escape');
    await t.waitFor((s) => !s.includes('filter:'), 'the filter cleared');

    // what is left (the forger, the silent agent, the rejected miner) is acknowledged with `c` on the highlighted row
    await t.keys('3', 'g');
    const t0 = Date.now();
    let s = t.screen();
    while (!/findings C0 H0 M0 L0/.test(s) && Date.now() - t0 < 90_000) {
      // an acked row keeps the cursor (it follows its id) and sinks below the open ones: back to the top
      await t.keys('g');
      s = t.screen();
      const open = s.split('\n').find((l) => /^> F-\d+ .* open\s*$/.test(l));
      if (open) {
        const id = selected(s)!;
        await t.keys('c');
        // a finding the next scan resolves can go between the capture and the key: the console then says so plainly
        await t.waitText(new RegExp(`acknowledged ${id}\\b|finding ${id} is already resolved`));
      }
      await sleep(1000);
      s = t.screen();
    }
    expect(s).toMatch(/findings C0 H0 M0 L0/);
    expect(s).not.toMatch(/ open\s*$/m);

    // a pop-up passes a view key through: `:help` then `6` is the Audit view
    await t.keys(':help', 'Enter');
    await t.waitText(':help');
    await t.keys('6');
    await t.waitFor((s2) => !s2.includes(':help') && /SEQ\s+TIME\s+ACTOR/.test(s2), 'the Audit view right after the pop-up');

    // `show w<Tab>` completes from the live snapshot
    await t.keys(':', 'show w', 'Tab');
    await t.waitText(':show web-0');
    await t.keys('Escape');
    await t.waitFor((s2) => !s2.includes(':show'), 'the palette closed');

    // an unchanged screen writes no bytes: the help overlay, watched for 5 s
    await t.keys('?');
    await t.waitText('Audit keys:');
    const log = join(t.tmp, 'pane.bytes');
    t.tmux(['pipe-pane', '-o', '-t', 'e2e', `cat >> ${log}`]);
    let quiet = false;
    for (let attempt = 0; attempt < 6 && !quiet; attempt++) {
      const before = existsSync(log) ? statSync(log).size : 0;
      const shot = t.screen();
      let same = true;
      for (let i = 0; i < 20; i++) {
        await sleep(250);
        const now = t.screen();
        if (now !== shot && same) {
          same = false;
          const a = shot.split('\n');
          console.log(
            'screen changed:',
            now.split('\n').filter((l, k) => l !== a[k]),
          );
        }
      }
      const bytes = (existsSync(log) ? statSync(log).size : 0) - before;
      if (same) {
        expect(bytes).toBe(0);
        quiet = true;
      }
    }
    expect(quiet).toBe(true);
    t.tmux(['pipe-pane', '-t', 'e2e']);

    await t.keys('Escape', 'q');
    await t.waitText('__EXIT__0', 20_000);
    expect(statusLine(t.screen())).toContain('__EXIT__0');
  });

  it('shows the whole evidence at 80×24 through the details', { timeout: 150_000 }, async () => {
    t = new TmuxSession('node bin/billboard.js demo', 80, 24);
    await t.waitText('hosts 3 up', 45_000);
    await t.keys('3');
    await t.waitFor((s) => /FORGED_BEACON/.test(s), 'the forged beacon finding', 60_000);
    await t.keys('/FORGED', 'Enter', 'Enter');
    const s = await t.waitText('Findings details');
    const flat = s.replace(/\s+/g, ' ');
    // both fingerprints in full: the forger's and the registered one, and how many beacons, from where
    expect(flat).toMatch(/signed with key SHA256:[A-Za-z0-9+/]{43} which is not the registered key SHA256:[A-Za-z0-9+/]{43}/);
    expect(flat).toMatch(/beacon\(s\), last from 127\.0\.0\.1/);
    for (const l of s.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    await t.keys('Escape', 'q');
    await t.waitText('__EXIT__0', 20_000);
  });
});
