import { afterEach, describe, expect, it } from 'vitest';
import { KEY, mount, type Mounted } from './tui-harness.js';

let m: Mounted | undefined;
afterEach(() => {
  m?.unmount();
  m = undefined;
});

describe('tui layout', () => {
  it('fits 80×24: header, table, detail pane, hints and a status line, no line wider than the terminal', async () => {
    m = await mount({ cols: 80, rows: 24 });
    const lines = m.lines();
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/hosts 2 up 1 down\s+VMs 24\s+pending 2\s+findings C2 H1 M2 L2/);
    expect(lines[1]).toContain('1 Billboard');
    expect(m.frame()).toContain('── details');
    const hints = lines[lines.length - 2]!;
    expect(hints).toMatch(/a approve\s+r reject\s+I isolate\s+X stop/);
    // the way out and the way to help never scroll off
    expect(hints).toMatch(/\? help\s+q quit$/);
  });

  it('redraws on resize', async () => {
    m = await mount({ cols: 80, rows: 24 });
    const before = m.lines().length;
    await m.resize(120, 40);
    expect(m.lines().length).toBeGreaterThan(before);
    expect(Math.max(...m.lines().map((l) => l.length))).toBeGreaterThan(80);
    expect(m.frame()).toContain('BEACON');
  });

  it('shows a host going down live', async () => {
    m = await mount();
    m.api.setHostUp('lab-a', false);
    await m.press();
    expect(m.lines()[0]).toMatch(/1 up 2 down/);
  });
});

describe('tui views', () => {
  it('1 Billboard: every VM with flags for ghosts, unregistered, pending and silent', async () => {
    m = await mount({ cols: 120, rows: 40 });
    const f = m.frame();
    expect(f).toMatch(/! clone-01\s+[0-9a-f]{8} lab-a,lab-b .*ghost/);
    expect(f).toMatch(/\? rogue-01 .*unregistered\s+never\s+1/);
    expect(f).toMatch(/\? new-01 .*pending/);
    expect(f).toMatch(/~ quiet-01 .*silent/);
    expect(f).toContain('rows 24');
  });

  it('2 Pending: identity, key fingerprint, where first seen, MACs', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('2');
    const f = m.frame();
    expect(f).toMatch(/new-01\s+[0-9a-f]{8}\s+SHA256:\S+\s+beacon from 10\.0\.1\.7\s+52:54:00/);
    expect(f).toMatch(/new-02 .*\(agentless\)\s+scan of lab-b/);
  });

  it('3 Findings: severity, code, VM, hosts, evidence, age, state; sorted by severity', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('3');
    const rows = m.lines().filter((l) => /^[> ] F-\d/.test(l));
    // open first, worst first, newest first within a severity (a stable order: first-seen never changes)
    expect(rows[0]).toMatch(/^> F-\d+\s+CRIT\s/);
    expect(rows.some((r) => /F-1\s+CRIT\s+DUPLICATE_UUID\s+clone-01\s+lab-a,lab-b\s.* open/.test(r))).toBe(true);
    expect(rows[rows.length - 1]).toMatch(/DEFINITION_DRIFT .*acked/);
  });

  it('4 Migrations: timeline with the current stage lit, bar, sparklines, convergence and the simulated mark', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('4');
    expect(m.frame()).toMatch(/M-3\s+web-02 .*awaiting-authorization .*simulated/);
    await m.press('j');
    const f = m.frame();
    expect(f).toContain('[SIMULATED]');
    expect(f).toMatch(/✓pre-migration › ✓reservation › \[iterative-pre-copy\] › +stop-and-copy/);
    expect(f).toMatch(/remaining [█░]+ [\d.]+ MiB of 1\.0 GiB/);
    expect(f).toMatch(/iteration \d+\s+dirty \d+ MiB\/s\s+bandwidth 100 MiB\/s\s+expected downtime \d+ ms/);
    expect(f).toMatch(/✗ does not converge/);
    expect(f).toMatch(/\[t\] apply suggestion: bandwidth \d+ MiB\/s, max downtime \d+ ms/);
  });

  it('4 Migrations: memory remaining that moves backwards is marked, and stages advance', async () => {
    m = await mount({ cols: 120, rows: 40, seed: 3 });
    await m.press('4', 'j');
    let sawBackwards = false;
    for (let i = 0; i < 40 && !sawBackwards; i++) {
      m.api.tick(500);
      await m.press();
      sawBackwards = m.frame().includes('↑ going backwards');
    }
    expect(sawBackwards).toBe(true);
    for (let i = 0; i < 3; i++) {
      m.api.tick(500);
      await m.press();
    }
    expect(m.frame()).toMatch(/dirty rate\s+[▁▂▃▄▅▆▇█]{3,}/);
  });

  it('5 Hosts: a down host in the list with its error', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('5');
    expect(m.frame()).toMatch(/lab-c\s+ssh\s+10\.0\.0\.13:22\s+DOWN .*ECONNREFUSED/);
  });

  it('6 Audit: entries newest first, and actions appear in it', async () => {
    m = await mount({ cols: 120, rows: 40 });
    const uuid = m.api.pending().find((r) => r.name === 'new-01')!.uuid;
    await m.press('2', 'a', 'y', '6');
    const rows = m.lines().filter((l) => /^\W*\d+ 20\d\d-/.test(l.trim().replace(/^>\s*/, '')));
    // the store audits by UUID, with the name in the details
    expect(rows[0]).toMatch(new RegExp(`alice\\s+approve\\s+${uuid.slice(0, 8)}`));
    expect(rows[0]).toContain('"name":"new-01"');
  });

  it('NO_COLOR: the active tab is bracketed instead of coloured', async () => {
    m = await mount({ noColor: true });
    expect(m.lines()[1]).toContain('[1 Billboard]');
  });

  it('enter opens the full details of the selected row; esc closes', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('j', KEY.enter);
    expect(m.frame()).toContain('Billboard details (esc closes)');
    expect(m.frame()).toMatch(/on lab-a: running/);
    await m.press(KEY.esc);
    expect(m.frame()).not.toContain('esc closes)');
  });
});
