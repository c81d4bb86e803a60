import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import { enforcementHosts } from '../../src/billboard/enforcement-targets.js';
import type { DomainInfo, Registration } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const U = '00000000-0000-4000-8000-000000000007';
const scanDup = { code: 'DUPLICATE_UUID', evidenceSource: 'scan' } as const;

describe('enforcementHosts', () => {
  it('an unapproved identity: every host it is live on', () => {
    for (const state of [undefined, 'pending', 'rejected', 'revoked'] as const) {
      const registration = state ? { state, homeHost: 'a' } : undefined;
      expect(enforcementHosts(scanDup, { registration, liveHosts: ['a', 'b'], runningHosts: [] })).toEqual(['a', 'b']);
    }
  });

  it('an approved identity: only the running copies away from its home host, while the home copy runs too', () => {
    const registration = { state: 'approved', homeHost: 'a' } as const;
    const on = (running: string[], liveHosts = running) => ({ registration, liveHosts, runningHosts: running });
    expect(enforcementHosts(scanDup, on(['a', 'b', 'c']))).toEqual(['b', 'c']);
    expect(enforcementHosts(scanDup, on(['b', 'c']))).toEqual([]); // the home host does not run it
    // a live migration's halves: one of them is always paused (incoming, or switched over)
    expect(enforcementHosts(scanDup, on(['a'], ['a', 'b']))).toEqual([]);
    expect(enforcementHosts(scanDup, on(['b'], ['a', 'b']))).toEqual([]);
    expect(enforcementHosts(scanDup, { ...on(['a', 'b']), registration: { state: 'approved' } })).toEqual([]); // no home
    const byBeacons = { code: 'DUPLICATE_UUID', evidenceSource: 'authenticated' } as const;
    expect(enforcementHosts(byBeacons, on(['a', 'b']))).toEqual([]);
    expect(enforcementHosts({ code: 'UNAUTHORIZED_MIGRATION', evidenceSource: 'scan' }, on(['a', 'b']))).toEqual([]);
  });
});

const engines: Engine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});
const settle = () => new Promise((r) => setTimeout(r, 10));
const dom = (): DomainInfo => ({
  uuid: U,
  name: 'vm7',
  state: 'running',
  vcpus: 1,
  memoryKiB: 1024,
  macs: ['52:54:00:00:00:07'],
  interfaces: [],
  ips: [],
  disks: [],
  definitionHash: 'hash7',
});

function engineWith(reg: Registration, calls: string[]) {
  const store = new FakeStore({ registrations: [reg] }, () => T);
  const engine = new Engine({
    store,
    beaconIntervalS: 5,
    missedBeforeSilent: 3,
    enforcement: 'stop',
    now: () => T,
    requestScan: () => {},
    enforce: async (a, u, h) => (calls.push(`${a}:${u}:${h}`), true),
  });
  engines.push(engine);
  return { engine, store };
}

describe('Engine enforcement of a clone of an approved VM', () => {
  it("'stop' stops the copy on the host that is not its home, never the registered original, audited as policy", async () => {
    const calls: string[] = [];
    const { engine, store } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }), calls);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom()] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom()] });
    await settle();
    expect(engine.findings().map((f) => f.code)).toContain('DUPLICATE_UUID');
    expect(calls).toEqual([`stop:${U}:b`]);
    expect(store.entries.filter((e) => e.actor === 'policy').map((e) => `${e.action}:${e.details.host}:${e.details.result}`)).toEqual([
      'stop:b:ok',
    ]);
  });

  it('a paused copy beside the home one (a live migration in flight) is left alone', async () => {
    const calls: string[] = [];
    const { engine } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }), calls);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom()] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [{ ...dom(), state: 'paused' }] });
    await settle();
    expect(engine.findings().map((f) => f.code)).toContain('DUPLICATE_UUID');
    expect(calls).toEqual([]);
  });

  it('an approved VM without a home host, or whose home host does not run it, is left to the operator', async () => {
    for (const homeHost of [undefined, 'c']) {
      const calls: string[] = [];
      const { engine } = engineWith(approved({ uuid: U, name: 'vm7', ...(homeHost ? { homeHost } : {}) }), calls);
      engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom()] });
      engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom()] });
      await settle();
      expect(calls).toEqual([]);
    }
  });
});
