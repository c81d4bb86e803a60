import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import { enforcementHosts, type EnforcementContext } from '../../src/billboard/enforcement-targets.js';
import type { DomainInfo, Registration } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const U = '00000000-0000-4000-8000-000000000007';
const scanDup = { code: 'DUPLICATE_UUID', evidenceSource: 'scan' } as const;

describe('enforcementHosts', () => {
  const ctx = (runs: Record<string, number>, o: Partial<EnforcementContext> = {}): EnforcementContext => ({
    registration: { state: 'approved', homeHost: 'a' },
    liveHosts: Object.keys(runs),
    runningSince: new Map(Object.entries(runs)),
    migrating: false,
    ...o,
  });

  it('an unapproved identity: every host it is live on', () => {
    for (const state of [undefined, 'pending', 'rejected', 'revoked'] as const) {
      const registration = state ? { state, homeHost: 'a' } : undefined;
      expect(enforcementHosts(scanDup, ctx({}, { registration, liveHosts: ['a', 'b'] }))).toEqual(['a', 'b']);
    }
  });

  it('an approved identity: the copies away from home that began running after the home copy did', () => {
    expect(enforcementHosts(scanDup, ctx({ a: 1, b: 2, c: 3 }))).toEqual(['b', 'c']);
    expect(enforcementHosts(scanDup, ctx({ a: -Infinity, b: 2 }))).toEqual(['b']); // home ran before the engine watched
    // a home copy that began after the other (a home host lagging a move, or lying) is no original
    expect(enforcementHosts(scanDup, ctx({ a: 5, b: 2 }))).toEqual([]);
    // both already running when the engine first looked: no order is known, nothing is done
    expect(enforcementHosts(scanDup, ctx({ a: -Infinity, b: -Infinity }))).toEqual([]);
  });

  it('nothing for an approved identity without a running home copy, while migrating, or on other evidence', () => {
    expect(enforcementHosts(scanDup, ctx({ b: 2, c: 3 }))).toEqual([]); // the home copy is paused or gone
    expect(enforcementHosts(scanDup, ctx({ a: 1, b: 2 }, { liveHosts: ['a', 'b', 'c'] }))).toEqual(['b']); // c paused
    expect(enforcementHosts(scanDup, ctx({ a: 1, b: 2 }, { migrating: true }))).toEqual([]);
    expect(enforcementHosts(scanDup, ctx({ a: 1, b: 2 }, { registration: { state: 'approved' } }))).toEqual([]); // no home
    const byBeacons = { code: 'DUPLICATE_UUID', evidenceSource: 'authenticated' } as const;
    expect(enforcementHosts(byBeacons, ctx({ a: 1, b: 2 }))).toEqual([]);
    expect(enforcementHosts({ code: 'UNAUTHORIZED_MIGRATION', evidenceSource: 'scan' }, ctx({ a: 1, b: 2 }))).toEqual([]);
  });
});

const engines: Engine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});
const settle = () => new Promise((r) => setTimeout(r, 10));
const dom = (state: DomainInfo['state'] = 'running'): DomainInfo => ({
  uuid: U,
  name: 'vm7',
  state,
  vcpus: 1,
  memoryKiB: 1024,
  macs: ['52:54:00:00:00:07'],
  interfaces: [],
  ips: [],
  disks: [],
  definitionHash: 'hash7',
});

function engineWith(reg: Registration) {
  let now = T;
  const calls: string[] = [];
  const store = new FakeStore({ registrations: [reg] }, () => now);
  const engine = new Engine({
    store,
    beaconIntervalS: 5,
    missedBeforeSilent: 3,
    enforcement: 'stop',
    now: () => now,
    requestScan: () => {},
    enforce: async (a, u, h) => (calls.push(`${a}:${u}:${h}`), true),
  });
  engines.push(engine);
  const scan = (host: string, ...d: DomainInfo[]) => {
    now += 1000;
    engine.ingestInventory({ host, at: now, durationMs: 1, domains: d });
  };
  return { engine, store, calls, scan };
}

describe('Engine enforcement of a clone of an approved VM', () => {
  it("'stop' stops the copy that started on another host after the home copy, audited as policy", async () => {
    const { engine, store, calls, scan } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }));
    scan('a', dom());
    scan('b');
    scan('b', dom()); // the clone starts while the engine watches
    await settle();
    expect(engine.findings().map((f) => f.code)).toContain('DUPLICATE_UUID');
    expect(calls).toEqual([`stop:${U}:b`]);
    const policy = store.entries.filter((e) => e.actor === 'policy');
    expect(policy.map((e) => `${e.action}:${e.details.host}:${e.details.result}`)).toEqual(['stop:b:ok']);
  });

  it('a copy that goes from paused to running is judged again (start --paused, then resume)', async () => {
    const { engine, calls, scan } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }));
    scan('a', dom());
    scan('b');
    scan('b', dom('paused'));
    await settle();
    expect(engine.findings().find((f) => f.code === 'DUPLICATE_UUID')?.evidence).toMatch(/running on 2 hosts: a, b \(paused\)/);
    expect(calls).toEqual([]);
    scan('b', dom());
    await settle();
    expect(calls).toEqual([`stop:${U}:b`]);
  });

  it('the home host showing the VM again after it ran elsewhere (a lagging or lying home) gets nothing stopped', async () => {
    const { engine, calls, scan } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }));
    scan('a');
    scan('b');
    scan('b', dom()); // it runs on b (moved there, say) …
    scan('a', dom()); // … and then a, its registered home, shows it too
    await settle();
    expect(engine.findings().map((f) => f.code)).toContain('DUPLICATE_UUID');
    expect(calls).toEqual([]);
  });

  it('two copies already running when the engine first looked are left to the operator (a restart makes no order up)', async () => {
    const { engine, calls, scan } = engineWith(approved({ uuid: U, name: 'vm7', homeHost: 'a' }));
    scan('a', dom());
    scan('b', dom());
    await settle();
    expect(engine.findings().map((f) => f.code)).toContain('DUPLICATE_UUID');
    expect(calls).toEqual([]);
  });

  it('an approved VM without a home host, or whose home copy is paused, is left to the operator', async () => {
    for (const [homeHost, homeState] of [
      [undefined, 'running'],
      ['a', 'paused'],
    ] as const) {
      const { calls, scan } = engineWith(approved({ uuid: U, name: 'vm7', ...(homeHost ? { homeHost } : {}) }));
      scan('a', dom(homeState));
      scan('b');
      scan('b', dom());
      await settle();
      expect(calls).toEqual([]);
    }
  });
});
