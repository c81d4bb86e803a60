import { describe, expect, it } from 'vitest';
import { Scanner } from '../../src/hosts/scanner.js';
import { hostError } from '../../src/hosts/errors.js';
import type { HostConfig } from '../../src/model/config.js';
import type { HostDriver } from '../../src/model/host-driver.js';
import { domainInfo, stubDriver } from '../support/fake-host-driver.js';

// Scheduling logic with fake drivers (the real drivers are covered by the integration tier).

type Behaviour = 'ok' | 'fail' | 'hang';

function fakeDriver(name: string, behave: () => Behaviour, counters: { active: number; max: number; closes: number }): HostDriver {
  const dom = domainInfo({ uuid: '00000000-0000-4000-8000-000000000001', definitionHash: 'x' });
  const inventory = async () => {
    counters.active++;
    counters.max = Math.max(counters.max, counters.active);
    try {
      const b = behave();
      await new Promise((r) => setTimeout(r, 30));
      if (b === 'hang') await new Promise(() => undefined);
      if (b === 'fail') throw hostError('HOST_DOWN', name, 'connection refused');
      return [dom];
    } finally {
      counters.active--;
    }
  };
  return stubDriver(name, {
    close: async () => {
      counters.closes++;
    },
    scanAll: async () => ({ domains: await inventory(), node: { cpus: 1, memoryKiB: 1, freeMemoryKiB: 1 } }),
    inventory,
  });
}

const cfg = (name: string): HostConfig => ({ name, driver: 'libvirt', uri: `test:///${name}.xml` });

describe('Scanner', () => {
  it('bounds concurrency and returns one result per host in order', async () => {
    const c = { active: 0, max: 0, closes: 0 };
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(cfg);
    const s = new Scanner({
      hosts,
      timeoutMs: 5000,
      concurrency: 2,
      intervalMs: 60_000,
      createDriver: (h) => fakeDriver(h.name, () => 'ok', c),
    });
    const res = await s.scan();
    expect(res.map((r) => r.host)).toEqual(hosts.map((h) => h.name));
    expect(res.every((r) => r.ok && r.inventory?.domains.length === 1)).toBe(true);
    expect(c.max).toBe(2);
    await s.stop();
    expect(c.closes).toBe(6);
  });

  it('times out a hung host, marks it down with the reason, and does not hold up the others', async () => {
    const c = { active: 0, max: 0, closes: 0 };
    const s = new Scanner({
      hosts: [cfg('hung'), cfg('fine')],
      timeoutMs: 200,
      concurrency: 2,
      intervalMs: 60_000,
      createDriver: (h) => fakeDriver(h.name, () => (h.name === 'hung' ? 'hang' : 'ok'), c),
    });
    const statuses: string[] = [];
    s.on('status', (st) => statuses.push(`${st.name}:${st.up}`));
    const res = await s.scan();
    expect(res[0]).toMatchObject({ host: 'hung', ok: false, error: 'hung: scan timed out after 0.2s' });
    expect(res[1]).toMatchObject({ host: 'fine', ok: true });
    expect(statuses.sort()).toEqual(['fine:true', 'hung:false']);
    expect(c.closes).toBe(1); // the hung host's driver is reset for the retry
    await s.stop();
  });

  it('backs off exponentially while a host stays down and emits host-down once', async () => {
    let mode: Behaviour = 'fail';
    const c = { active: 0, max: 0, closes: 0 };
    const s = new Scanner({
      hosts: [cfg('flaky')],
      timeoutMs: 1000,
      concurrency: 1,
      intervalMs: 60_000,
      backoffBaseMs: 1000,
      backoffMaxMs: 8000,
      createDriver: (h) => fakeDriver(h.name, () => mode, c),
    });
    const downs: string[] = [];
    s.on('host-down', (h: string) => downs.push(h));
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = Date.now();
      await s.scan();
      const st = s.statuses()[0];
      delays.push(Math.round((st.nextRetryAt! - before) / 1000));
      expect(st).toMatchObject({ up: false, consecutiveFailures: i + 1, lastError: 'flaky: connection refused' });
    }
    expect(delays).toEqual([1, 2, 4, 8, 8]);
    expect(downs).toEqual(['flaky']);
    mode = 'ok';
    await s.scan();
    expect(s.statuses()[0]).toMatchObject({ up: true, consecutiveFailures: 0, nextRetryAt: undefined, domains: 1, running: 1 });
    await s.stop();
  });

  it('periodic scanning starts immediately and stop() leaves no timers behind', async () => {
    const c = { active: 0, max: 0, closes: 0 };
    const s = new Scanner({
      hosts: [cfg('p1'), cfg('p2')],
      timeoutMs: 1000,
      concurrency: 2,
      intervalMs: 50,
      createDriver: (h) => fakeDriver(h.name, () => 'ok', c),
    });
    const seen: string[] = [];
    s.on('inventory', (inv) => seen.push(inv.host));
    s.start();
    await new Promise((r) => setTimeout(r, 400));
    await s.stop();
    const n = seen.length;
    expect(n).toBeGreaterThanOrEqual(4); // several rounds for both hosts
    expect(seen).toContain('p1');
    expect(seen).toContain('p2');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBe(n);
  });

  it('unknown host names are NOT_FOUND', async () => {
    const s = new Scanner({
      hosts: [cfg('a')],
      timeoutMs: 1000,
      concurrency: 1,
      intervalMs: 1000,
      createDriver: (h) => fakeDriver(h.name, () => 'ok', { active: 0, max: 0, closes: 0 }),
    });
    await expect(s.scan(['b'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(() => s.hostConfig('b')).toThrow(/no host named "b"/);
    expect(s.hostConfig('a').name).toBe('a');
    await s.stop();
  });
});
