import { describe, expect, it } from 'vitest';
import { MAC, Scenario, T0, U, approvedVm, beaconsEvery, scansEvery, keyFor, type Dom, type Input } from './harness.js';

// One scenario per finding code: timed scans + beacons through the real engine, asserting what is raised
// (and that it resolves when the condition clears).

const HOSTS = [
  { name: 'lab-a', up: true },
  { name: 'lab-b', up: true },
  { name: 'lab-c', up: true },
];
const WEB: Dom = { uuid: U(1), name: 'web', macs: [MAC(1)], ips: ['192.168.122.10'] };
const DB: Dom = { uuid: U(2), name: 'db', macs: [MAC(2)], ips: ['192.168.122.20'] };
const regs = () => [
  approvedVm(WEB.uuid, 'web', { macs: WEB.macs, homeHost: 'lab-a' }),
  approvedVm(DB.uuid, 'db', { macs: DB.macs, homeHost: 'lab-b' }),
];
/** the healthy lab: web on lab-a, db on lab-b, both beaconing, every host scanned every 10 s */
function healthy(until: number, extra: { a?: (s: number) => Dom[]; b?: (s: number) => Dom[]; c?: (s: number) => Dom[] } = {}): Input[] {
  return [
    { at: 0, hosts: HOSTS },
    ...scansEvery(0, until, 10, 'lab-a', (s) => [WEB, ...(extra.a?.(s) ?? [])]),
    ...scansEvery(0, until, 10, 'lab-b', (s) => [DB, ...(extra.b?.(s) ?? [])]),
    ...scansEvery(0, until, 10, 'lab-c', (s) => extra.c?.(s) ?? []),
    ...beaconsEvery(1, until, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
    ...beaconsEvery(2, until, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
  ];
}

describe('scenario: one per finding code', () => {
  it('DUPLICATE_UUID: the same identity running on a second host is critical, and resolves when the clone goes', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run(healthy(60, { c: (t) => (t >= 20 && t < 40 ? [{ ...WEB }] : []) }));
    const raised = s.events.find((f) => f.code === 'DUPLICATE_UUID')!;
    expect(raised).toMatchObject({ severity: 'critical', vm: WEB.uuid, hosts: ['lab-a', 'lab-c'], state: 'open' });
    expect((raised.firstSeen - T0) / 1000).toBe(20);
    expect(raised.evidence).toContain('running on 2 hosts');
    expect(s.open()).toEqual([]);
    expect(
      s.engine
        .findings(true)
        .filter((f) => f.code === 'DUPLICATE_UUID')
        .map((f) => f.state),
    ).toEqual(['resolved']);
  });

  it('DUPLICATE_UUID from beacons: two boot ids interleaving (a clone) is raised before any scan sees it, and triggers an active scan', async () => {
    const s = new Scenario({ registrations: regs() });
    const clone: Input[] = [];
    for (let t = 23; t <= 33; t += 5)
      clone.push({ at: t, beacon: { uuid: WEB.uuid, bootId: 'clone-boot', from: '192.168.122.99', ips: ['192.168.122.99'] } });
    await s.run([...healthy(35), ...clone]);
    const f = s.open('DUPLICATE_UUID')[0];
    expect(f).toMatchObject({ severity: 'critical', vm: WEB.uuid });
    expect(f.evidence).toContain('two boot ids interleaving');
    expect(f.firstSeen).toBe(s.events.find((e) => e.code === 'DUPLICATE_UUID')!.firstSeen);
    expect((f.firstSeen - T0) / 1000).toBe(26); // at the first interleaving beacon (the original's next one)
    expect(s.scanRequests).toContainEqual(undefined); // all hosts scanned at once
    expect(s.engine.resolveVm('web').status).toBe('ghost');
  });

  it("DUPLICATE_UUID from the listener's clone-suspect verdict", async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      ...healthy(20),
      { at: 12, beacon: { uuid: WEB.uuid, verdict: 'clone-suspect', reason: 'boot ids a,b interleaving', bootId: 'b' } },
    ]);
    expect(s.events.some((e) => e.code === 'DUPLICATE_UUID' && e.evidence.includes('boot ids a,b interleaving'))).toBe(true);
  });

  it('DUPLICATE_MAC: one MAC (any case) on live domains of two identities', async () => {
    const s = new Scenario({ registrations: regs() });
    const dbSameMac: Dom = { ...DB, macs: [MAC(1).toUpperCase()] };
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 30, 10, 'lab-a', [WEB]),
      ...scansEvery(0, 30, 10, 'lab-b', (t) => (t >= 10 ? [dbSameMac] : [DB])),
      ...scansEvery(0, 30, 10, 'lab-c', []),
      ...beaconsEvery(1, 30, { uuid: WEB.uuid, ips: WEB.ips }),
      ...beaconsEvery(2, 30, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    const f = s.open('DUPLICATE_MAC');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ key: `DUPLICATE_MAC:${MAC(1)}`, severity: 'high', vm: '', hosts: ['lab-a', 'lab-b'] });
    expect(s.engine.resolveVm('db').openFindings).toBeGreaterThanOrEqual(1);
  });

  it('IP_CONFLICT: one IP claimed by two identities, flip-flopping; resolves when one lets go', async () => {
    const s = new Scenario({ registrations: regs() });
    const stolen: Input[] = [];
    for (let t = 12; t <= 30; t += 5) stolen.push({ at: t, beacon: { uuid: DB.uuid, ips: WEB.ips, from: '192.168.122.10' } });
    await s.run([...healthy(60).filter((i) => !(i.beacon?.uuid === DB.uuid && i.at >= 12 && i.at <= 30)), ...stolen]);
    const f = s.engine.findings(true).filter((x) => x.code === 'IP_CONFLICT');
    expect(f).toHaveLength(1);
    expect(f[0].key).toBe('IP_CONFLICT:192.168.122.10');
    expect(f[0].evidence).toMatch(/flip-flopped \d+ times/);
    expect(f[0].count).toBeGreaterThan(1);
    expect(f[0].state).toBe('resolved');
  });

  it('UNREGISTERED: an unknown domain and an unknown beacon each become ONE pending request; approving clears it', async () => {
    const s = new Scenario({ registrations: regs() });
    const stranger: Dom = { uuid: U(7), name: 'stranger', macs: [MAC(7)] };
    const walkIn = U(8);
    await s.run([
      ...healthy(40, { c: () => [stranger] }),
      ...beaconsEvery(3, 40, { uuid: walkIn, name: 'walk-in', from: '10.0.0.77', publicKey: keyFor(walkIn) }),
    ]);
    const open = s.open('UNREGISTERED');
    expect(open.map((f) => f.vm).sort()).toEqual([U(7), U(8)]);
    expect(s.store.registration(U(7))).toMatchObject({ state: 'pending', origin: 'scan', firstSeen: 'scan of lab-c' });
    expect(s.store.registration(U(8))).toMatchObject({
      state: 'pending',
      origin: 'beacon',
      firstSeen: 'beacon from 10.0.0.77',
      publicKey: keyFor(walkIn),
    });
    expect(s.store.entries.filter((e) => e.action === 'request')).toHaveLength(2); // not once per scan / beacon
    expect(s.engine.resolveVm('stranger').status).toBe('pending');
    expect(s.scanRequests).toContainEqual(undefined); // unknown identity → active scan

    await s.store.decide(U(8), 'approved', 'alice');
    s.engine.registryChanged();
    expect(s.open('UNREGISTERED').map((f) => f.vm)).toEqual([U(7)]);
  });

  it('FORGED_BEACON: bad signature, a key that is not the registered one, and any beacon of a revoked identity', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      ...healthy(30),
      { at: 11, beacon: { uuid: WEB.uuid, verdict: 'bad-signature', from: '10.6.6.6', reason: 'signature does not verify' } },
      { at: 13, beacon: { uuid: DB.uuid, verdict: 'unknown-key', publicKey: keyFor(U(66)), from: '10.6.6.7' } },
    ]);
    const forged = s.open('FORGED_BEACON');
    expect(forged.map((f) => f.vm).sort()).toEqual([WEB.uuid, DB.uuid]);
    expect(forged.every((f) => f.severity === 'critical')).toBe(true);
    expect(forged.find((f) => f.vm === DB.uuid)!.evidence).toContain('not the registered key');
    expect(s.engine.resolveVm('db').status).toBe('suspect');

    // no more forgeries: the findings expire; then revoke web and its (validly signed) beacons are forged
    await s.run(
      healthy(120).filter((i) => i.at > 30),
      120,
    );
    expect(s.open('FORGED_BEACON')).toEqual([]);
    await s.store.decide(WEB.uuid, 'revoked', 'alice', 'key leaked');
    s.engine.registryChanged();
    await s.run(
      healthy(140).filter((i) => i.at > 120),
      140,
    );
    expect(s.open('FORGED_BEACON')[0]).toMatchObject({ vm: WEB.uuid });
    expect(s.open('FORGED_BEACON')[0].evidence).toContain('revoked');
    expect(s.engine.resolveVm('web').status).toBe('revoked');
  });

  it("REPLAYED_BEACON: the listener's replay verdict", async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      ...healthy(20),
      { at: 14, beacon: { uuid: WEB.uuid, verdict: 'replay', seq: 1, from: '10.6.6.6', reason: 'seq 1 not above 3' } },
    ]);
    expect(s.open('REPLAYED_BEACON')[0]).toMatchObject({ severity: 'high', vm: WEB.uuid });
    expect(s.open('REPLAYED_BEACON')[0].evidence).toContain('seq 1 not above 3');
    expect(s.scanRequests).toContainEqual(['lab-a']); // the hosts that run it
  });

  it('SILENT: running per scan, no beacon for missedBeforeSilent intervals; not for agentless VMs; clears on the next beacon', async () => {
    const agentless = { uuid: U(3), name: 'printer', macs: [MAC(3)] };
    const s = new Scenario({
      registrations: [...regs(), approvedVm(U(3), 'printer', { macs: [MAC(3)], homeHost: 'lab-c', publicKey: undefined })],
    });
    const inputs = healthy(60, { c: () => [agentless] }).filter((i) => !(i.beacon?.uuid === WEB.uuid && i.at > 20));
    await s.run(inputs);
    expect(s.open().map((f) => `${f.code}:${f.vm}`)).toEqual([`SILENT:${WEB.uuid}`]);
    expect(s.engine.resolveVm('web').status).toBe('silent');
    const raised = s.events.find((f) => f.code === 'SILENT')!;
    expect((raised.firstSeen - T0) / 1000).toBe(32); // last beacon at 16 s + 15 s, first tick after
    await s.run([{ at: 61, beacon: { uuid: WEB.uuid, ips: WEB.ips } }], 62);
    expect(s.open()).toEqual([]);
  });

  it('PHANTOM: beacons but no host runs it — only after every up host was scanned', async () => {
    const ghostly = U(4);
    const s = new Scenario({ registrations: [...regs(), approvedVm(ghostly, 'ghostly')] });
    await s.run([...healthy(30), ...beaconsEvery(3, 30, { uuid: ghostly, from: '10.0.0.44' })]);
    const f = s.open('PHANTOM');
    expect(f).toHaveLength(1);
    expect(f[0].vm).toBe(ghostly);
    // not before the first full scan round after its beacons began (scans at 10 s)
    expect((s.events.find((e) => e.code === 'PHANTOM')!.firstSeen - T0) / 1000).toBe(10);
  });

  it('PHANTOM is not raised while a host is still unscanned', async () => {
    const ghostly = U(4);
    const s = new Scenario({ registrations: [...regs(), approvedVm(ghostly, 'ghostly')] });
    await s.run([{ at: 0, hosts: HOSTS }, ...scansEvery(0, 30, 10, 'lab-a', [WEB]), ...beaconsEvery(3, 30, { uuid: ghostly })]);
    expect(s.open('PHANTOM')).toEqual([]);
  });

  it('UNAUTHORIZED_MIGRATION: an approved VM now runs on a host other than its home with no migration window', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 30, 10, 'lab-a', (t) => (t < 20 ? [WEB] : [])),
      ...scansEvery(0, 30, 10, 'lab-b', [DB]),
      ...scansEvery(0, 30, 10, 'lab-c', (t) => (t >= 20 ? [WEB] : [])),
      ...beaconsEvery(1, 30, { uuid: WEB.uuid, ips: WEB.ips }),
      ...beaconsEvery(2, 30, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    expect(s.open().map((f) => f.code)).toEqual(['UNAUTHORIZED_MIGRATION']);
    expect(s.open()[0]).toMatchObject({ severity: 'high', hosts: ['lab-c'] });
    expect(s.engine.resolveVm('web').status).toBe('suspect');
  });

  it('DEFINITION_DRIFT: the definition hash changed since approval', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run(
      healthy(30).map((i) =>
        i.scan?.host === 'lab-a' && i.at >= 20 ? { ...i, scan: { host: 'lab-a', domains: [{ ...WEB, memoryKiB: 4194304 }] } } : i,
      ),
    );
    expect(s.open().map((f) => f.code)).toEqual(['DEFINITION_DRIFT']);
    expect(s.open()[0].evidence).toContain('lab-a has');
  });

  it('MIGRATION_GHOST: live outside source/destination during a window; still on the source after commitment', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      ...healthy(60, {
        b: (t) => (t >= 20 ? [{ ...WEB, state: t < 40 ? 'paused' : 'running' }] : []),
        c: (t) => (t >= 30 && t < 40 ? [WEB] : []),
      }),
      { at: 15, do: (x) => x.engine.beginMigration({ job: 'J-1', uuid: WEB.uuid, source: 'lab-a', destination: 'lab-b' }) },
      { at: 45, do: (x) => x.engine.commitMigration('J-1') },
    ]);
    const ghosts = s.engine.findings(true).filter((f) => f.code === 'MIGRATION_GHOST');
    expect(ghosts[0].evidence).toContain('live on lab-c during migration J-1');
    const open = s.open('MIGRATION_GHOST')[0];
    expect(open).toMatchObject({ severity: 'critical', hosts: ['lab-a'] });
    expect(open.evidence).toContain('still running on source lab-a after migration J-1 committed to lab-b');
    expect(s.engine.resolveVm('web').status).toBe('ghost');
  });
});
