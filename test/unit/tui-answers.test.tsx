import { afterEach, describe, expect, it } from 'vitest';
import type { VmRow } from '../../src/model/types.js';
import type { TuiData } from '../../src/tui/store.js';
import { vmDetail } from '../../src/tui/vm-detail.js';
import { KEY, mount, type Mounted } from './tui-harness.js';

// Details that answer "why": full evidence, the twin's home copy and the next step, filters over fields, values
// completed from the live snapshot.

let m: Mounted | undefined;
afterEach(() => {
  m?.unmount();
  m = undefined;
});
const status = (mm: Mounted) => mm.lines()[mm.lines().length - 1] ?? '';
const words = (s: string) => s.replace(/\s+/g, ' ').trim();

describe('tui answers', () => {
  it('the details show every finding’s evidence in full at 80×24', async () => {
    m = await mount({ cols: 80, rows: 24 });
    await m.press('3');
    for (const f of m.api.snapshot().findings.filter((x) => x.state === 'open')) {
      await m.press('/');
      await m.press(...Array(10).fill(KEY.backspace));
      await m.type(`^${f.id}$`);
      await m.press(KEY.enter, KEY.enter);
      const shown = words(m.frame());
      expect(shown).toContain(`${f.id} ${f.code}`);
      for (const w of f.evidence.split(/\s+/).filter((x) => x.length > 3)) expect(shown).toContain(w);
      await m.press(KEY.esc);
    }
  });

  it('a twin’s details say which copy is the registered one and what to do', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press(KEY.enter);
    const f = m.frame();
    expect(f).toMatch(/on lab-a \[HOME: the registered copy\]/);
    expect(f).toMatch(/on lab-b \[COPY: not the registered one\]/);
    expect(f).toContain('next: stop the copy on lab-b');
  });

  it('/^db finds db-01 (fields, not the marked line)', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press('/');
    await m.type('^db');
    await m.press(KEY.enter);
    expect(status(m)).toMatch(/filter \/\^db\/: [1-9]\d* rows/);
    expect(m.frame()).toMatch(/^> . db-01 /m);
  });

  it('tab completes VM names, hosts and finding ids from the live snapshot, never flags where a value goes', async () => {
    m = await mount({ cols: 120, rows: 40 });
    await m.press(':');
    await m.type('show w');
    await m.press(KEY.tab);
    expect(m.frame()).toContain(':show web-0');
    expect(m.frame()).toMatch(/web-01\s+web-02/);
    await m.press(KEY.esc, ':');
    await m.type('migrate web-01 --to ');
    await m.press(KEY.tab);
    expect(m.frame()).toMatch(/lab-a\s+lab-b\s+lab-c/);
    expect(m.frame()).not.toContain('--bandwidth');
    await m.press(KEY.esc, ':');
    await m.type('ack F-1');
    await m.press(KEY.tab);
    expect(m.frame()).toMatch(/:ack F-1/);
  });

  it('an agentless VM says agentless, not never', async () => {
    m = await mount({ cols: 160, rows: 40 });
    const agentless = m.api.snapshot().rows.find((r) => !r.lastBeacon && r.status === 'ok');
    if (!agentless) return;
    await m.press('/');
    await m.type(agentless.name);
    await m.press(KEY.enter);
    expect(m.frame()).toMatch(new RegExp(`${agentless.name}.*agentless`));
  });
});

describe('a VM’s details', () => {
  it('show a definition saved for the next start beside the one it runs', () => {
    const inst = { host: 'lab-a', state: 'running' as const, name: 'web', macs: [], ips: [], memoryKiB: 1024, vcpus: 1 };
    const row = (extra: object) =>
      ({ uuid: 'u', name: 'web', status: 'ok', instances: [{ ...inst, definitionHash: 'a'.repeat(64), ...extra }] }) as unknown as VmRow;
    const d = { snapshot: { findings: [] }, now: 0 } as unknown as TuiData;
    expect(vmDetail(row({}), d)[1]).toMatch(/def aaaaaaaaaaaa$/);
    expect(vmDetail(row({ savedDefinitionHash: 'b'.repeat(64) }), d)[1]).toMatch(/def aaaaaaaaaaaa \(next start: bbbbbbbbbbbb\)$/);
  });
});
