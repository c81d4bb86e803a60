import { afterEach, describe, expect, it } from 'vitest';
import { mount, tick, type Mounted } from './tui-harness.js';

// Rows that can be trusted: a stable order under beacons, the cursor on the same row, keys acting on what is drawn.

let m: Mounted | undefined;
afterEach(() => {
  m?.unmount();
  m = undefined;
});
const ids = (mm: Mounted) =>
  mm
    .lines()
    .map((l) => /^[> ] (F-\d+)\s/.exec(l)?.[1])
    .filter(Boolean);
const selectedId = (mm: Mounted) => /^> (\S+)/.exec(mm.lines().find((l) => l.startsWith('> ')) ?? '')?.[1];

describe('tui rows keep their places', () => {
  it('Findings keep their order and the cursor its row while beacons arrive', async () => {
    m = await mount({ cols: 160, rows: 40 });
    await m.press('3', 'j');
    const order = ids(m);
    const sel = selectedId(m);
    expect(order.length).toBeGreaterThan(3);
    for (let i = 0; i < 20; i++) {
      m.api.tick(500);
      m.api.beaconUpdates(40);
      await tick(20);
      expect(ids(m)).toEqual(order);
      expect(selectedId(m)).toBe(sel);
    }
  });

  it('F-9 sorts before F-10 on a tie', async () => {
    const { cmpId } = (await import('../../src/tui/views.js')) as unknown as { cmpId: (a: string, b: string) => number };
    expect(cmpId('F-9', 'F-10')).toBeLessThan(0);
    expect(cmpId('M-2', 'M-2')).toBe(0);
  });

  it('the cursor stays on its row when beacons reorder the rows under it (sort by beacon)', async () => {
    m = await mount({ cols: 160, rows: 40 });
    await m.press('1', 's', 's', 's');
    expect(m.lines()[1]).toContain('sort:beacon');
    // the cursor has not moved: the row first shown under it is the one it stays on
    const name = () => /^> . (\S+)/.exec(m!.lines().find((l) => l.startsWith('> ')) ?? '')?.[1];
    const sel = name();
    expect(sel).toBeTruthy();
    for (let i = 0; i < 5; i++) {
      m.api.tick(500);
      m.api.beaconUpdates(10);
      await tick(20);
      expect(name()).toBe(sel);
    }
  });

  it('c acknowledges the highlighted finding even when the data moved since the frame', async () => {
    m = await mount({ cols: 160, rows: 40 });
    await m.press('3', 'j');
    const sel = selectedId(m)!;
    // new data lands (no frame yet) then the key: the key acts on the row drawn highlighted
    m.api.beaconUpdates(50);
    m.api.tick(1);
    await m.press('c', 'y');
    expect(m.api.commands.filter((c) => c.startsWith('ack'))).toEqual([`ack ${sel}`]);
  });
});
