import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../../src/billboard/engine.js';
import { BillboardError } from '../../src/model/errors.js';
import type { BeaconEvent, DomainInfo, Finding, Registration } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const U = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const KEY = (n: number): string => Buffer.alloc(32, n).toString('base64');

function dom(n: number, extra: Partial<DomainInfo> = {}): DomainInfo {
  return {
    uuid: U(n),
    name: `vm${n}`,
    state: 'running',
    vcpus: 1,
    memoryKiB: 1024,
    macs: [`52:54:00:00:00:${n.toString(16).padStart(2, '0')}`],
    interfaces: [],
    ips: [],
    disks: [],
    definitionHash: `hash${n}`,
    ...extra,
  };
}
function ev(n: number, extra: Partial<BeaconEvent> = {}, b: Partial<BeaconEvent['beacon']> = {}): BeaconEvent {
  return {
    verdict: 'valid',
    beacon: {
      v: 1,
      uuid: U(n),
      name: `vm${n}`,
      macs: [],
      ips: [],
      os: 'linux',
      hostname: `vm${n}`,
      bootId: 'boot',
      seq: 1,
      ts: T,
      keyFp: 'fp',
      ...b,
    },
    publicKey: KEY(n),
    from: { address: `10.0.0.${n}`, port: 1 },
    receivedAt: T,
    ...extra,
  };
}

const engines: Engine[] = [];
function make(regs: Registration[] = [], opts: Partial<EngineOptions> = {}, findings: Finding[] = []) {
  let now = T;
  const store = new FakeStore({ registrations: regs, findings }, () => now);
  const scans: (string[] | undefined)[] = [];
  const engine = new Engine({
    store,
    beaconIntervalS: 5,
    missedBeforeSilent: 3,
    enforcement: 'ask',
    now: () => now,
    requestScan: (h) => scans.push(h),
    ...opts,
  });
  engines.push(engine);
  return { engine, store, scans, advance: (ms: number) => (now += ms), at: () => now };
}
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});
const settle = () => new Promise((r) => setTimeout(r, 5));
const reg = (n: number, p: Partial<Registration> = {}) => approved({ uuid: U(n), name: `vm${n}`, publicKey: KEY(n), ...p });

describe('Engine table and snapshots', () => {
  it('snapshot() is the same frozen object until something changes; unchanged rows keep their identity', () => {
    const { engine } = make([reg(1), reg(2)]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1), dom(2)] });
    const s1 = engine.snapshot();
    expect(engine.snapshot()).toBe(s1);
    expect(Object.isFrozen(s1) && Object.isFrozen(s1.rows) && Object.isFrozen(s1.rows[0])).toBe(true);
    const row2 = s1.rows.find((r) => r.uuid === U(2));
    engine.ingestBeacon(ev(1));
    const s2 = engine.snapshot();
    expect(s2).not.toBe(s1);
    expect(s2.version).toBeGreaterThan(s1.version);
    expect(s2.rows.find((r) => r.uuid === U(2))).toBe(row2);
    expect(s2.rows.find((r) => r.uuid === U(1))!.lastBeacon).toMatchObject({ bootId: 'boot', from: '10.0.0.1' });
    expect(s1.rows.find((r) => r.uuid === U(1))!.lastBeacon).toBeUndefined(); // old snapshot untouched
  });

  it("emits 'change' once per burst", async () => {
    const { engine } = make([reg(1)]);
    const versions: number[] = [];
    engine.on('change', (v: number) => versions.push(v));
    for (let i = 0; i < 50; i++) engine.ingestBeacon(ev(1, {}, { seq: i + 1 }));
    await settle();
    expect(versions).toHaveLength(1);
    expect(versions[0]).toBe(engine.snapshot().version);
  });

  it('registered VMs appear even before they are seen; a host going down keeps its VMs', () => {
    const { engine } = make([reg(1), reg(2)]);
    expect(
      engine
        .snapshot()
        .rows.map((r) => r.status)
        .sort(),
    ).toEqual(['stopped', 'stopped']);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.hostStatuses([{ name: 'a', driver: 'libvirt', target: 'test:///a', up: false, consecutiveFailures: 3, domains: 1, running: 1 }]);
    expect(engine.resolveVm('vm1').instances).toHaveLength(1);
  });

  it('resolveVm: name, uuid, unique prefix; NOT_FOUND and AMBIGUOUS as BillboardErrors', () => {
    const { engine } = make([reg(1), reg(2), approved({ uuid: U(3), name: 'vm1' })]);
    expect(engine.resolveVm(U(2)).name).toBe('vm2');
    expect(engine.resolveVm('00000000-0000-4000-8000-000000000002'.slice(0, 36)).uuid).toBe(U(2));
    expect(() => engine.resolveVm('vm1')).toThrow(expect.objectContaining({ code: 'AMBIGUOUS' }));
    expect(() => engine.resolveVm('0000')).toThrow(expect.objectContaining({ code: 'AMBIGUOUS' }));
    expect(() => engine.resolveVm('nope')).toThrow(BillboardError);
    expect(() => engine.resolveVm('nope')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    expect(engine.resolveVm('vm2').uuid).toBe(U(2));
  });

  it("guest-supplied names cannot put escape sequences on the operator's terminal", () => {
    const { engine } = make();
    engine.ingestBeacon(ev(5, { verdict: 'unknown-key' }, { name: 'evil\u001b[2J\u0007', os: 'x\u009b\u202e' }));
    const row = engine.resolveVm(U(5));
    expect(row.name).toBe(U(5)); // a name that breaks the rule is not shown as a name at all
    expect(row.os).toBe('x\\x9b\\u202e'); // free text is shown escaped
  });

  it("a beacon name that reads as another VM's UUID (or UUID prefix) is not taken as a name", () => {
    const { engine } = make([reg(1)]);
    engine.ingestBeacon(ev(5, { verdict: 'unknown-key' }, { name: U(1) }));
    engine.ingestBeacon(ev(6, { verdict: 'unknown-key' }, { name: U(1).slice(0, 8) }));
    expect(engine.resolveVm(U(5)).name).toBe(U(5));
    expect(engine.resolveVm(U(6)).name).toBe(U(6));
    expect(engine.resolveVm(U(1)).uuid).toBe(U(1));
  });

  it("a domain a host names like another VM's UUID is shown in «», and its registration request gets a safe name", async () => {
    const { engine, store } = make([reg(1)]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(7, { name: U(1) })] });
    expect(engine.resolveVm(U(7)).name).toBe(`«${U(1)}»`);
    await settle();
    expect(store.registration(U(7))!.name).toBe(`vm-${U(7).slice(0, 8)}`);
    expect(engine.resolveVm(U(1)).name).toBe('vm1');
  });

  it('a full UUID always wins; a name that is also a UUID prefix is AMBIGUOUS, naming both', () => {
    const { engine } = make([reg(1), approved({ uuid: '0abc0000-0000-4000-8000-000000000001', name: '0000' })]);
    expect(engine.resolveVm(U(1)).uuid).toBe(U(1));
    expect(() => engine.resolveVm('0000')).toThrow(/name of 0000 .*and a UUID prefix of vm1/);
    expect(engine.resolveVm('0abc').name).toBe('0000');
  });

  it('knownKey, bindingFor, lastBeacon', () => {
    const { engine } = make([reg(1)]);
    expect(engine.knownKey(U(1))).toBe(KEY(1));
    expect(engine.knownKey(U(9))).toBeUndefined();
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(9, { macs: ['52:54:00:00:00:09', '52:54:00:00:01:09'] })] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(9, { state: 'shutoff' })] });
    engine.ingestBeacon(ev(9, { verdict: 'unknown-key' }));
    expect(engine.bindingFor(U(9))).toEqual({
      definitionHash: 'hash9',
      homeHost: 'a',
      macs: ['52:54:00:00:00:09', '52:54:00:00:01:09'],
      publicKey: KEY(9),
    });
    expect(engine.lastBeacon(U(9))).toMatchObject({ bootId: 'boot', seq: 1 });
  });

  it('waitFor resolves on the row change, false on timeout', async () => {
    const { engine } = make([reg(1)]);
    const p = engine.waitFor((r) => r?.lastBeacon?.seq === 2, U(1), 1000);
    engine.ingestBeacon(ev(1, {}, { seq: 1 }));
    engine.ingestBeacon(ev(1, {}, { seq: 2 }));
    expect(await p).toBe(true);
    expect(await engine.waitFor((r) => r?.status === 'ghost', U(1), 20)).toBe(false);
  });
});

describe('Engine findings lifecycle', () => {
  it('dedupes by key, updates count/lastSeen, resolves, and ack is audited', async () => {
    const { engine, store, advance } = make([reg(1)]);
    const seen: Finding[] = [];
    engine.on('finding', (f: Finding) => seen.push(f));
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    expect(engine.findings()).toHaveLength(1);
    const f = engine.findings()[0];
    expect(f).toMatchObject({ id: 'F-1', code: 'DUPLICATE_UUID', state: 'open', count: 1 });
    engine.ingestInventory({ host: 'c', at: T, durationMs: 1, domains: [dom(1)] });
    expect(engine.findings()[0]).toMatchObject({ id: 'F-1', count: 2, hosts: ['a', 'b', 'c'] });

    const acked = await engine.ack('f-1', 'alice', 'looking');
    expect(acked).toMatchObject({ state: 'acked', ackedBy: 'alice', note: 'looking' });
    expect(store.entries.at(-1)).toMatchObject({ actor: 'alice', action: 'ack', target: 'F-1' });
    await expect(engine.ack('F-99', 'alice')).rejects.toMatchObject({ code: 'NOT_FOUND' });

    advance(1000);
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [] });
    engine.ingestInventory({ host: 'c', at: T, durationMs: 1, domains: [] });
    expect(engine.findings()).toEqual([]);
    expect(engine.findings(true)[0]).toMatchObject({ id: 'F-1', state: 'resolved', resolvedAt: T + 1000 });
    expect(seen.map((x) => x.state)).toEqual(['open', 'open', 'acked', 'acked', 'resolved']); // updated while acked
    await expect(engine.ack('F-1', 'alice')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a failed audit leaves the finding un-acked', async () => {
    const { engine, store } = make([reg(1)]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    store.failAudit = true;
    await expect(engine.ack('F-1', 'alice')).rejects.toMatchObject({ code: 'AUDIT_FAILED' });
    expect(engine.findings()[0].state).toBe('open');
  });

  it('an open critical finding is saved within ~1 s; a restart reloads it and keeps it until a full scan says otherwise', async () => {
    const { engine, store } = make([reg(1)]);
    engine.hostStatuses([
      { name: 'a', driver: 'libvirt', target: 'x', up: true, consecutiveFailures: 0, domains: 0, running: 0 },
      { name: 'b', driver: 'libvirt', target: 'x', up: true, consecutiveFailures: 0, domains: 0, running: 0 },
    ]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    await new Promise((r) => setTimeout(r, 1000));
    expect(store.saved.map((f) => `${f.code}:${f.state}`)).toEqual(['DUPLICATE_UUID:open']);

    const again = make([reg(1)], {}, store.saved);
    expect(again.engine.findings()[0]).toMatchObject({ id: 'F-1', code: 'DUPLICATE_UUID', state: 'open' });
    expect(again.engine.resolveVm('vm1').status).toBe('ghost');
    again.engine.hostStatuses([
      { name: 'a', driver: 'libvirt', target: 'x', up: true, consecutiveFailures: 0, domains: 0, running: 0 },
      { name: 'b', driver: 'libvirt', target: 'x', up: true, consecutiveFailures: 0, domains: 0, running: 0 },
    ]);
    again.engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    again.engine.tick();
    expect(again.engine.findings()).toHaveLength(1); // lab-b not scanned yet: not forgotten
    again.engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [] });
    again.engine.tick();
    expect(again.engine.findings()).toEqual([]);
    again.engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    expect(again.engine.findings()[0].id).toBe('F-2'); // ids continue after a restart
    await again.engine.close();
    expect(again.store.saved.map((f) => `${f.id}:${f.state}`)).toEqual(['F-1:resolved', 'F-2:open']);
  });
});

describe('Engine and hosts going down', () => {
  it('a clone on a host that goes down stays a finding (as last scanned) until a scan shows it gone', () => {
    const { engine } = make([reg(1)]);
    const st = (name: string, up: boolean) => ({
      name,
      driver: 'libvirt' as const,
      target: 'x',
      up,
      consecutiveFailures: up ? 0 : 1,
      domains: 1,
      running: 1,
    });
    engine.hostStatuses([st('a', true), st('b', true)]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    engine.hostStatuses([st('a', true), st('b', false)]);
    expect(engine.findings()[0]).toMatchObject({ code: 'DUPLICATE_UUID', count: 2 });
    expect(engine.findings()[0].evidence).toContain('b down: as last scanned');
    engine.hostStatuses([st('a', true), st('b', true)]);
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [] });
    expect(engine.findings()).toEqual([]);
  });
});

describe('Engine persistence failures', () => {
  it('a failed save is retried, not lost', async () => {
    const { engine, store } = make([reg(1)]);
    store.failSave = true;
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [dom(1)] });
    await new Promise((r) => setTimeout(r, 600));
    expect(store.saves).toBe(0);
    store.failSave = false;
    await engine.close();
    expect(store.saved.map((f) => f.code)).toEqual(['DUPLICATE_UUID']);
  });
});

describe('Engine registration requests', () => {
  it('one request per unknown identity, rate-limited against a flood of fresh keys', async () => {
    const { engine, store } = make([], { autoRequestsPerSec: 1 });
    for (let i = 0; i < 3; i++) engine.ingestBeacon(ev(1, { verdict: 'unknown-key' }, { seq: i + 1 }));
    for (let n = 2; n < 40; n++) engine.ingestBeacon(ev(n, { verdict: 'unknown-key' }));
    await settle();
    expect(store.registration(U(1))).toMatchObject({
      state: 'pending',
      origin: 'beacon',
      publicKey: KEY(1),
      firstSeen: 'beacon from 10.0.0.1',
    });
    expect(store.entries.filter((e) => e.action === 'request')).toHaveLength(10); // burst of 10 tokens
    expect(engine.resolveVm('vm1').status).toBe('pending');
  });

  it('a bad signature never creates a request, a row or a finding per identity: one finding per source', async () => {
    const { engine, store } = make();
    for (let n = 1; n < 2000; n++) {
      engine.ingestBeacon(ev(n, { verdict: 'bad-signature', from: { address: `10.0.0.${n % 3}`, port: 1 } }));
    }
    await settle();
    expect(store.regs.size).toBe(0);
    expect(engine.snapshot().rows.length).toBe(0);
    const open = engine.findings();
    expect(open.map((f) => f.key).sort()).toEqual([
      'FORGED_BEACON:from:10.0.0.0',
      'FORGED_BEACON:from:10.0.0.1',
      'FORGED_BEACON:from:10.0.0.2',
    ]);
    expect(open.every((f) => f.evidenceSource === 'unauthenticated' && f.severity === 'medium' && f.vm === '')).toBe(true);
    expect(engine.untrustedCounters().forged).toBe(1999);
  });

  it('sources beyond the cap share one finding; counts are refreshed on tick; the finding ends with its window', async () => {
    const { engine, advance } = make([], { maxUntrustedSources: 4 });
    for (let n = 1; n <= 1000; n++)
      engine.ingestBeacon(ev(n, { verdict: 'bad-signature', from: { address: `10.1.${n >> 8}.${n & 255}`, port: 1 } }));
    expect(engine.findings()).toHaveLength(5);
    engine.tick();
    const other = engine.findings().find((f) => f.key === 'FORGED_BEACON:from:*')!;
    expect(other.evidence).toMatch(/^996 beacon datagram\(s\) from 996 other source addresses/);
    advance(61_000);
    engine.tick();
    expect(engine.findings()).toEqual([]);
  });

  it('one source announcing many new identities is tallied beyond 16; silent ones are forgotten and free the pool', async () => {
    const { engine, advance } = make([], { autoRequestsPerSec: 1000 });
    const from = { address: '10.9.9.9', port: 1 };
    for (let n = 1; n <= 30; n++) {
      engine.ingestBeacon(ev(n, { verdict: 'unknown-key', from }));
      await settle();
    }
    expect(engine.snapshot().rows).toHaveLength(16);
    expect(engine.untrustedCounters().untracked).toBe(14);
    engine.ingestBeacon(ev(40, { verdict: 'unknown-key' })); // another source still has room
    await settle();
    expect(engine.snapshot().rows).toHaveLength(17);
    advance(61_000); // silent past the incident window: forgotten, though their own requests stay pending
    engine.tick();
    expect(engine.snapshot().rows).toHaveLength(0);
    engine.ingestBeacon(ev(41, { verdict: 'unknown-key', from }));
    expect(engine.snapshot().rows.map((r) => r.uuid)).toEqual([U(41)]);
  });

  it('identities known from beacons alone are capped, and so are the requests they open; scanned VMs never are', async () => {
    const { engine, store } = make([], { maxBeaconOnly: 10, maxBeaconRequests: 5, autoRequestsPerSec: 1000 });
    for (let n = 1; n <= 50; n++) {
      engine.ingestBeacon(ev(n, { verdict: 'unknown-key' }));
      await settle();
    }
    expect(engine.snapshot().rows).toHaveLength(10);
    expect([...store.regs.values()].filter((r) => r.origin === 'beacon')).toHaveLength(5);
    expect(engine.untrustedCounters().untracked).toBe(40);
    expect(engine.findings().some((f) => f.key.startsWith('UNREGISTERED:from:'))).toBe(true);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(60), dom(61)] });
    engine.ingestBeacon(ev(60, { verdict: 'unknown-key' }));
    expect(engine.resolveVm(U(60)).lastBeacon).toBeDefined();
    expect(engine.snapshot().rows).toHaveLength(12);
  });
});

describe('Engine active scan on suspicion', () => {
  it('scans at once, then at most once a second, merged', async () => {
    const { engine, scans, advance } = make([reg(1), reg(2)]);
    engine.ingestBeacon(ev(1, { verdict: 'clone-suspect' })); // under the registered key: all hosts
    engine.ingestBeacon(ev(2, { verdict: 'clone-suspect' }));
    engine.ingestBeacon(ev(2, { verdict: 'clone-suspect' }));
    expect(scans).toEqual([undefined]);
    advance(1000);
    await new Promise((r) => setTimeout(r, 1100));
    expect(scans).toEqual([undefined, undefined]);
    engine.ingestBeacon(ev(1, {}, { bootId: 'boot' })); // a normal beacon is not suspicious
    expect(scans).toHaveLength(2);
  });

  it('evidence nobody had to sign scans only the hosts that run the VM, and all hosts at most once per 15 s', async () => {
    const { engine, scans, advance } = make([reg(1), reg(2), reg(3)]);
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1)] });
    engine.ingestBeacon(ev(1, { verdict: 'bad-signature' }));
    expect(scans).toEqual([['a']]);
    advance(1000);
    engine.ingestBeacon(ev(2, { verdict: 'bad-signature' })); // runs nowhere: one all-hosts scan
    advance(1000);
    engine.ingestBeacon(ev(3, { verdict: 'bad-signature' })); // and not another within 15 s
    expect(scans).toEqual([['a'], undefined]);
  });
});

describe('Engine enforcement policy', () => {
  const twoHosts = (e: Engine, ...n: number[]) => {
    e.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: n.map((x) => dom(x)) });
    e.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: n.map((x) => dom(x)) });
  };
  it("'ask' does nothing automatic", async () => {
    const calls: string[] = [];
    const { engine } = make([], { enforce: async (a, u, h) => (calls.push(`${a}:${h}`), true) });
    twoHosts(engine, 7);
    await settle();
    expect(calls).toEqual([]);
  });

  it("'stop' stops an unregistered identity's instances on a critical finding, audited as policy; never an approved VM", async () => {
    const calls: string[] = [];
    const { engine, store } = make([reg(1)], { enforcement: 'stop', enforce: async (a, u, h) => (calls.push(`${a}:${u}:${h}`), true) });
    twoHosts(engine, 7, 1);
    await settle();
    expect(calls.sort()).toEqual([`stop:${U(7)}:a`, `stop:${U(7)}:b`]);
    const policy = store.entries.filter((e) => e.actor === 'policy');
    expect(policy.map((e) => `${e.action}:${e.details.host}:${e.details.result}`).sort()).toEqual(['stop:a:ok', 'stop:b:ok']);
    twoHosts(engine, 7, 1); // same finding again: not enforced twice
    await settle();
    expect(calls).toHaveLength(2);
  });

  it('one unauthenticated datagram never gets a VM stopped (bad signature, or a key of its own)', async () => {
    const calls: string[] = [];
    const { engine } = make([reg(2, { state: 'pending' })], {
      enforcement: 'stop',
      enforce: async (a, u, h) => (calls.push(`${a}:${u}:${h}`), true),
    });
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(1), dom(2)] });
    await settle();
    engine.ingestBeacon(ev(1, { verdict: 'bad-signature', publicKey: KEY(99) }));
    engine.ingestBeacon(ev(2, { verdict: 'valid', publicKey: KEY(99) }, { keyFp: 'other' }));
    engine.ingestBeacon(ev(2, { verdict: 'valid', publicKey: KEY(99) }, { keyFp: 'other', bootId: 'b2', seq: 2 }));
    engine.ingestBeacon(ev(2, { verdict: 'valid', publicKey: KEY(99) }, { keyFp: 'other', bootId: 'boot', seq: 3 }));
    await settle();
    const crit = engine.findings().filter((f) => f.severity === 'critical');
    expect(crit.map((f) => `${f.code}:${f.evidenceSource}`).sort()).toEqual([
      'FORGED_BEACON:unauthenticated',
      'FORGED_BEACON:unauthenticated',
    ]);
    expect(calls).toEqual([]);
  });

  it('approval is checked again at the moment of acting', async () => {
    const calls: string[] = [];
    const { engine, store } = make([reg(7, { state: 'pending' })], {
      enforcement: 'stop',
      enforce: async (a, u, h, _r, stillWarranted) => {
        await store.decide(U(7), 'approved', 'alice'); // the operator approves while the action is on its way
        if (!stillWarranted()) return false;
        calls.push(`${a}:${u}:${h}`);
        return true;
      },
    });
    twoHosts(engine, 7);
    await settle();
    expect(calls).toEqual([]);
    expect(store.entries.filter((e) => e.actor === 'policy').map((e) => e.details.result)).toEqual(['skipped', 'skipped']);
  });

  it('a failed action is audited and raises a finding of its own, resolved with the original', async () => {
    const { engine, store } = make([], {
      enforcement: 'isolate',
      enforce: async () => {
        throw new BillboardError('UNSUPPORTED', 'the test driver cannot set link state');
      },
    });
    twoHosts(engine, 7);
    await settle();
    const failed = engine.findings().filter((f) => f.evidence.startsWith('enforcement failed'));
    expect(failed.map((f) => f.hosts[0]).sort()).toEqual(['a', 'b']);
    expect(failed[0].evidence).toContain('the test driver cannot set link state');
    expect(store.entries.filter((e) => e.actor === 'policy' && e.details.result === 'failed')).toHaveLength(2);
    engine.ingestInventory({ host: 'b', at: T, durationMs: 1, domains: [] });
    expect(engine.findings().filter((f) => f.severity === 'critical')).toEqual([]);
  });
});

describe('registration requests learn their key', () => {
  it('a request opened by a scan takes the key its agent signs with, once, audited as request-key', async () => {
    const { engine, store } = make();
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(7)] });
    await settle();
    expect(store.registration(U(7))).toMatchObject({ state: 'pending', origin: 'scan' });
    expect(store.registration(U(7))!.publicKey).toBeUndefined();
    engine.ingestBeacon(ev(7, { verdict: 'unknown-key' }));
    engine.ingestBeacon(ev(7, { verdict: 'unknown-key' }, { seq: 2 }));
    await settle();
    expect(store.registration(U(7))!.publicKey).toBe(KEY(7));
    expect(store.auditLog().filter((e) => e.action === 'request-key')).toHaveLength(1);
  });

  it('a forged (bad-signature) beacon never gives a request its key', async () => {
    const { engine, store } = make();
    engine.ingestInventory({ host: 'a', at: T, durationMs: 1, domains: [dom(8)] });
    await settle();
    engine.ingestBeacon(ev(8, { verdict: 'bad-signature' }));
    await settle();
    expect(store.registration(U(8))!.publicKey).toBeUndefined();
  });
});
