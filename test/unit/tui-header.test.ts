import { describe, expect, it } from 'vitest';
import { nextCounters, type HeaderCounters } from '../../src/tui/components/header.js';
import { KEY, mount } from './tui-harness.js';

const base: HeaderCounters = { up: 2, down: 1, vms: 100, pending: 2, sev: { critical: 1, high: 2, medium: 0, low: 0 }, perSecond: 900 };

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
}

describe('header counters', () => {
  it('hosts, pending and findings change the header at once; VM count and beacons/s at most every 500 ms', () => {
    expect(nextCounters(undefined, base, 0, 0)).toBe(base);
    const same = { ...base, sev: { ...base.sev } };
    expect(nextCounters(base, same, 0, 10)).toBe(base); // equal content: same object, no re-render
    const busy = { ...base, perSecond: 1200, vms: 101 };
    expect(nextCounters(base, busy, 1000, 1100)).toBe(base);
    expect(nextCounters(base, busy, 1000, 1500)).toBe(busy);
    for (const urgent of [
      { ...base, down: 2, up: 1 },
      { ...base, pending: 3 },
      { ...base, sev: { ...base.sev, critical: 2 } },
      { ...base, sev: { ...base.sev, low: 1 } },
    ]) {
      expect(nextCounters(base, urgent, 1000, 1001)).toBe(urgent);
    }
  });

  it('a host going down shows in the next frame even while the busy counters are held back', async () => {
    const m = await mount();
    try {
      m.api.beaconUpdates(5);
      m.api.setHostUp('lab-b', false);
      await m.press();
      // the rule itself (host changes are never held back) is the test above; here the frame shows it, however
      // slowly a loaded machine renders
      await until(() => /hosts 1 up 2 down/.test(m.lines()[0]!));
      expect(m.lines()[0]).toMatch(/hosts 1 up 2 down/);
      await m.press(KEY.esc);
      m.api.setHostUp('lab-b', true);
      await m.press();
      await until(() => /hosts 2 up 1 down/.test(m.lines()[0]!));
      expect(m.lines()[0]).toMatch(/hosts 2 up 1 down/);
    } finally {
      m.unmount();
    }
  });
});
