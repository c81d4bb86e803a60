import { afterEach, describe, expect, it } from 'vitest';
import { KEY, mount, tick, type Mounted } from './tui-harness.js';

let m: Mounted | undefined;
afterEach(() => {
  m?.unmount();
  m = undefined;
});
const selected = (mm: Mounted) => mm.lines().find((l) => l.startsWith('> ')) ?? '';
const tableRows = (mm: Mounted) => {
  const ls = mm.lines();
  const end = ls.findIndex((l) => l.startsWith('──'));
  return ls.slice(3, end).filter((l) => l.trim());
};
const status = (mm: Mounted) => mm.lines()[mm.lines().length - 1] ?? '';

describe('tui navigation keys', () => {
  it('j/k, arrows, PgDn/PgUp, g/G move the selection; the table is windowed', async () => {
    m = await mount({ vms: 200, cols: 100, rows: 24 });
    expect(selected(m)).toContain('clone-01');
    await m.press('j');
    expect(selected(m)).toContain('db-01');
    await m.press(KEY.down, KEY.up, 'k');
    expect(selected(m)).toContain('clone-01');
    await m.press('G');
    expect(selected(m)).toContain('web-02');
    // only the visible window is rendered
    expect(m.lines().filter((l) => /vm-\d{5}/.test(l)).length).toBeLessThan(20);
    await m.press('g', KEY.pageDown);
    expect(m.lines()[1]).toMatch(/rows \d+-\d+ of 200/);
    expect(selected(m)).toMatch(/vm-00\d{3}/);
    await m.press(KEY.pageUp);
    expect(selected(m)).toContain('clone-01');
  });

  it('s cycles the sort order', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('s');
    expect(m.lines()[1]).toContain('sort:findings');
    expect(status(m)).toContain('sorted by findings');
  });

  it('/ filters by regex, ! inverts, an invalid regex is a status-line error, esc clears', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('/');
    await m.type('^web');
    await m.press(KEY.enter);
    let names = tableRows(m);
    expect(names.length).toBe(2);
    expect(names.every((l) => /web-0[12]/.test(l))).toBe(true);
    expect(m.lines()[1]).toContain('filter:/^web/');
    await m.press('/');
    await m.press(...Array(4).fill(KEY.backspace));
    await m.type('!vm-');
    await m.press(KEY.enter);
    names = tableRows(m);
    expect(names.some((l) => l.includes('vm-0'))).toBe(false);
    expect(names.some((l) => l.includes('clone-01'))).toBe(true);
    await m.press('/', ...Array(4).fill(KEY.backspace));
    await m.type('(oops');
    await m.press(KEY.enter);
    expect(status(m)).toMatch(/✗ invalid filter \/\(oops\//);
    expect(m.lines()[1]).toContain('filter:/!vm-/');
    await m.press(KEY.esc);
    expect(m.lines()[1]).not.toContain('filter:');
  });

  it('? shows every key of the current view; any key closes', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('4', '?');
    const f = m.frame();
    for (const k of ['a ', 'd ', 'X ', 't ', 'j/k', 'PgUp/PgDn', 'g/G', 'enter', '/ ', ': ', 's ', 'q ctrl-c'])
      expect(f).toContain(`  ${k}`);
    expect(f).toContain('Migrations keys:');
    await m.press(KEY.esc);
    expect(m.frame()).not.toContain('Migrations keys:');
  });

  it('q and ctrl-c quit with exit code 0', async () => {
    m = await mount();
    await m.press('q');
    expect(m.quits).toEqual([0]);
    m.unmount();
    m = await mount();
    await m.press(KEY.ctrlC);
    expect(m.quits).toEqual([0]);
  });
});

describe('tui action keys build grammar lines, aimed by UUID', () => {
  const uuidOf = (name: string): string => m!.api.snapshot().rows.find((r) => r.name === name)!.uuid;
  const regOf = (name: string) => m!.api.pending().find((r) => r.name === name)!;

  it('a shows the key fingerprint approval binds, asks, then approves by UUID confirming that key', async () => {
    m = await mount({ cols: 160 });
    await m.press('2', 'a');
    const reg = regOf('new-01');
    expect(m.frame()).toContain(`approve new-01 (${reg.uuid.slice(0, 8)})? binds key ${reg.keyFp} (y/N)`);
    expect(m.api.commands).toEqual([]);
    await m.press('y');
    expect(m.api.commands).toEqual([`approve ${reg.uuid} --key ${reg.keyFp}`]);
    expect(status(m)).toContain('approved new-01');
    expect(m.lines()[0]).toMatch(/pending 1/);
  });

  it('r asks a reason, then rejects', async () => {
    m = await mount();
    await m.press('2', 'j', 'r');
    const reg = regOf('new-02');
    expect(m.frame()).toContain(`reject new-02 (${reg.uuid.slice(0, 8)}), reason:`);
    await m.type('unknown owner');
    await m.press(KEY.enter);
    expect(m.api.commands).toEqual([`reject ${reg.uuid} --reason "unknown owner"`]);
  });

  it('I isolates after y/N on the only host; on a twin it asks which host, marks the home copy and preselects the other', async () => {
    m = await mount();
    await m.press('j', 'I');
    expect(m.frame()).toContain(`isolate db-01 (${uuidOf('db-01').slice(0, 8)}) on lab-a: cut off its network`);
    expect(m.api.commands).toEqual([]);
    await m.press('y');
    expect(m.api.commands).toEqual([`isolate ${uuidOf('db-01')} --host lab-a`]);
    await m.press('k', 'I');
    await tick(30);
    expect(m.frame()).toContain(`isolate clone-01 (${uuidOf('clone-01').slice(0, 8)}) on which host?`);
    expect(m.frame()).toMatch(/ {2}✓ lab-a {2}\(home: the registered copy\)/);
    expect(m.frame()).toMatch(/> ✓ lab-b {2}\(copy\)/);
    await m.press(KEY.enter, 'y');
    expect(m.api.commands.at(-1)).toBe(`isolate ${uuidOf('clone-01')} --host lab-b`);
  });

  it('X on a twin preselects the copy; the home copy takes typing its host name', async () => {
    m = await mount({ cols: 120 });
    await m.press('X');
    await tick(30);
    await m.press(KEY.enter);
    expect(m.frame()).toContain(`stop clone-01 (${uuidOf('clone-01').slice(0, 8)}) on lab-b: hard power-off`);
    await m.press('y');
    expect(m.api.commands.at(-1)).toBe(`stop ${uuidOf('clone-01')} --host lab-b`);
    const before = m.api.commands.length;
    await m.press('X');
    await tick(30);
    await m.press('k', KEY.enter);
    expect(m.frame()).toContain('stop the HOME copy of clone-01');
    await m.press('y', KEY.enter);
    expect(status(m)).toContain('cancelled');
    expect(m.api.commands.filter((c) => c.startsWith('stop')).length).toBe(1);
    await m.press('X');
    await tick(30);
    await m.press('k', KEY.enter);
    await m.type('lab-a');
    await m.press(KEY.enter);
    expect(m.api.commands.slice(before).filter((c) => c.startsWith('stop'))).toEqual([`stop ${uuidOf('clone-01')} --host lab-a`]);
  });

  it('X stops (a hard power-off, said so) only after confirmation', async () => {
    m = await mount({ cols: 120 });
    await m.press('j', 'X');
    expect(m.frame()).toContain(`stop db-01 (${uuidOf('db-01').slice(0, 8)}) on lab-a: hard power-off (virsh destroy`);
    await m.press('n');
    expect(m.api.commands).toEqual([]);
    expect(status(m)).toContain('cancelled');
    await m.press('X', 'y');
    expect(m.api.commands).toEqual([`stop ${uuidOf('db-01')} --host lab-a`]);
  });

  it('r on an approved VM points to revoke without asking; a on an approved VM says so', async () => {
    m = await mount({ cols: 200 });
    await m.press('j', 'r');
    expect(status(m)).toContain(
      `db-01 (${uuidOf('db-01').slice(0, 8)}) is approved: reject is for requests; to withdraw the approval type :revoke`,
    );
    expect(m.frame()).not.toContain('reason:');
    await m.press('a');
    expect(status(m)).toContain('is already approved');
    expect(m.api.commands).toEqual([]);
  });

  it('the keys of a finished job refuse before asking', async () => {
    m = await mount({ cols: 160 });
    await m.press('4', 'G', 'X');
    expect(status(m)).toMatch(/M-1 is completed: nothing to abort/);
    await m.press('d');
    expect(status(m)).toMatch(/M-1 is completed: only a job awaiting authorization can be denied/);
    expect(m.frame()).not.toContain('reason:');
    expect(m.api.commands).toEqual([]);
  });

  it('m shows each destination with its pre-checks and refuses one that failed', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('/');
    await m.type('web-01');
    await m.press(KEY.enter, 'm');
    await tick(30);
    const f = m.frame();
    expect(f).toContain(`migrate web-01 (${uuidOf('web-01').slice(0, 8)}) to:`);
    expect(f).toMatch(/> ✓ lab-b/);
    expect(f).toMatch(/✗ lab-c\s+\(pre-checks failed\)/);
    expect(f).toContain('✓ destination: lab-b is up');
    await m.press('j');
    expect(m.frame()).toContain('✗ destination: lab-c is down: connect ECONNREFUSED 10.0.0.13:22');
    await m.press(KEY.enter);
    expect(status(m)).toMatch(/lab-c: pre-checks failed/);
    expect(m.api.commands).toEqual([]);
    await m.press('k', KEY.enter);
    expect(m.api.commands).toEqual([`migrate ${uuidOf('web-01')} --to lab-b`]);
  });

  it('c acknowledges a finding', async () => {
    m = await mount();
    await m.press('3');
    const id = /^> (F-\d+)/.exec(m.lines().find((l) => l.startsWith('> ')) ?? '')?.[1];
    await m.press('c');
    expect(m.api.commands).toEqual([`ack ${id}`]);
  });

  it('a authorizes, d asks a reason and denies, X aborts after confirmation, t applies the suggestion', async () => {
    m = await mount();
    await m.press('4', 'a');
    expect(m.api.commands).toEqual(['authorize M-3']);
    await m.press('j', 't');
    expect(m.api.commands[1]).toMatch(/^tune M-2 --bandwidth \d+ --max-downtime \d+$/);
    expect(status(m)).toMatch(/tuned M-2: bandwidth \d+ MiB\/s/);
    await m.press('X');
    expect(m.frame()).toContain('abort M-2 (db-01 lab-a → lab-b)? (y/N)');
    await m.press('y');
    expect(m.api.commands[2]).toBe('abort M-2');
  });
});

describe('tui command palette', () => {
  it(': runs a grammar line; errors land in the status line and the screen stays', async () => {
    m = await mount();
    await m.press(':');
    await m.type('frobnicate');
    await m.press(KEY.enter);
    expect(status(m)).toContain('✗ USAGE: unknown command "frobnicate"');
    expect(m.lines()[0]).toContain('billboard');
  });

  it('tab completes via api.complete; ↑/↓ walk the history', async () => {
    m = await mount();
    await m.press(':');
    await m.type('auth');
    await m.press(KEY.tab);
    expect(m.frame()).toContain(':authorize');
    await m.type('M-3');
    await m.press(KEY.enter);
    expect(m.api.commands).toEqual(['authorize M-3']);
    // the grammar completes a command's options (not job ids or VM names)
    await m.press(':');
    await m.type('tune M-2 --');
    await m.press(KEY.tab);
    expect(m.frame()).toMatch(/--bandwidth\s+--max-downtime/);
    await m.press(KEY.esc);
    await m.press(':');
    await m.type('vms');
    await m.press(KEY.enter, KEY.esc); // the VM table opens in an overlay; esc closes it
    await m.press(':', KEY.up, KEY.up);
    expect(m.frame()).toContain(':authorize M-3');
    await m.press(KEY.down);
    expect(m.frame()).toContain(':vms');
  });

  it('multi-line output opens an overlay', async () => {
    m = await mount({ cols: 100, rows: 30 });
    await m.press(':');
    await m.type('help');
    await m.press(KEY.enter);
    expect(m.frame()).toContain(':help');
    expect(m.frame()).toMatch(/^\s+migrate\s+request a live migration/m);
  });
});

describe('tui read-only', () => {
  it('hides mutating keys from hints and refuses them, in every view, and refuses mutating commands', async () => {
    m = await mount({ uiReadOnly: true });
    expect(m.lines()[0]).toContain('[READ-ONLY]');
    for (const [view, keys] of [
      ['1', ['a', 'r', 'I', 'X', 'm']],
      ['2', ['a', 'r']],
      ['3', ['c', 'I', 'X']],
      ['4', ['a', 'd', 'X', 't']],
    ] as const) {
      await m.press(view);
      const hints = m.lines()[m.lines().length - 2]!;
      for (const k of keys) {
        expect(hints).not.toMatch(new RegExp(`(^|\\s)${k} \\w`));
        await m.press(k);
        expect(status(m)).toMatch(/read-only/);
      }
    }
    await m.press(':');
    await m.type('approve new-01');
    await m.press(KEY.enter);
    expect(status(m)).toContain('read-only: "approve new-01" refused');
    await m.press(':');
    await m.type('hosts');
    await m.press(KEY.enter);
    expect(m.api.commands).toEqual(['hosts']);
  });

  it('honours the console api readOnly flag too', async () => {
    m = await mount({ readOnly: true });
    await m.press('2', 'a');
    expect(m.api.commands).toEqual([]);
    expect(status(m)).toMatch(/read-only/);
  });
});

describe('tui pop-ups and unbound keys', () => {
  it('a pop-up that any key closes passes a view key through; esc only closes', async () => {
    m = await mount({ cols: 100, rows: 30 });
    await m.press(':');
    await m.type('help');
    await m.press(KEY.enter);
    expect(m.frame()).toContain(':help');
    await m.press('3');
    expect(m.frame()).not.toContain(':help');
    expect(m.lines()[1]).toMatch(/\[?3 Findings/);
    expect(m.frame()).toMatch(/^[> ] F-\d+/m);
    await m.press('?');
    expect(m.frame()).toContain('Findings keys:');
    await m.press(KEY.esc);
    expect(m.frame()).not.toContain('Findings keys:');
    await m.press('?', '5');
    expect(m.frame()).toContain('LAST ERROR');
  });

  it('an unbound key says so', async () => {
    m = await mount();
    await m.press('z');
    expect(status(m)).toContain('z: not a key in the Billboard view (? lists them)');
  });
});

describe('tui prompt editing', () => {
  it('the filter prompt opens empty; ctrl-w deletes a word, ctrl-u the line', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('/');
    await m.type('^web');
    await m.press(KEY.enter, '/');
    const prompt = () => m!.lines()[m!.lines().length - 2] ?? '';
    expect(prompt()).toMatch(/^\/_?\s*$/);
    await m.type('db 01');
    await m.press('\x17');
    expect(prompt()).toMatch(/^\/db\s*_?\s*$/);
    await m.press('\x15');
    expect(prompt()).toMatch(/^\/_?\s*$/);
  });
});
