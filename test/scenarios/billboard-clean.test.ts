import { describe, expect, it } from 'vitest';
import { MAC, Scenario, U, approvedVm, beaconsEvery, scansEvery, type Dom, type Input } from './harness.js';

// "All clean" scenarios: normal life in a lab that must raise nothing at all (not even a finding that resolved).

const HOSTS = [
  { name: 'lab-a', up: true },
  { name: 'lab-b', up: true },
];
const WEB: Dom = { uuid: U(1), name: 'web', macs: [MAC(1)], ips: ['192.168.122.10'] };
const DB: Dom = { uuid: U(2), name: 'db', macs: [MAC(2)], ips: ['192.168.122.20'] };
const regs = () => [
  approvedVm(WEB.uuid, 'web', { macs: WEB.macs, homeHost: 'lab-a' }),
  approvedVm(DB.uuid, 'db', { macs: DB.macs, homeHost: 'lab-b' }),
];

describe('scenario: all clean', () => {
  it('a steady lab: scans and beacons agree', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 120, 10, 'lab-a', [WEB]),
      ...scansEvery(0, 120, 10, 'lab-b', [DB]),
      ...beaconsEvery(1, 120, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
      ...beaconsEvery(2, 120, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    s.expectClean();
    expect(
      s.engine
        .snapshot()
        .rows.map((r) => `${r.name}:${r.status}`)
        .sort(),
    ).toEqual(['db:ok', 'web:ok']);
    expect(s.scanRequests).toEqual([]);
  });

  it('a normal migration window: paused on the destination, then moved; the source lets go after commitment', async () => {
    const s = new Scenario({ registrations: regs() });
    const statuses: string[] = [];
    await s.run([
      { at: 0, hosts: HOSTS },
      // web on lab-a until 40 s; incoming (paused) on lab-b from 20 s, running there from 40 s
      ...scansEvery(0, 120, 10, 'lab-a', (t) => (t < 40 ? [WEB] : [])),
      ...scansEvery(0, 120, 10, 'lab-b', (t) => (t < 20 ? [DB] : t < 40 ? [DB, { ...WEB, state: 'paused' }] : [DB, WEB])),
      // same boot id throughout (pre-copy moves the running guest), a short pause in beacons at stop-and-copy
      ...beaconsEvery(1, 120, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }).filter((i) => i.at !== 36),
      ...beaconsEvery(2, 120, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
      { at: 15, do: (x) => x.engine.beginMigration({ job: 'J-7', uuid: WEB.uuid, source: 'lab-a', destination: 'lab-b' }) },
      { at: 25, do: (x) => void statuses.push(x.engine.resolveVm('web').status) },
      { at: 38, do: (x) => x.engine.commitMigration('J-7') },
      { at: 45, do: (x) => x.engine.endMigration('J-7', 'completed') },
    ]);
    expect(statuses).toEqual(['migrating']);
    s.expectClean();
    expect(s.engine.resolveVm('web')).toMatchObject({
      status: 'ok',
      instances: [expect.objectContaining({ host: 'lab-b', state: 'running' })],
    });
    expect(s.engine.bindingFor(WEB.uuid).homeHost).toBe('lab-b');
  });

  it('a VM rebooting: new boot id, seq starting over, a gap in beacons', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 90, 10, 'lab-a', [WEB]),
      ...scansEvery(0, 90, 10, 'lab-b', [DB]),
      ...beaconsEvery(1, 30, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
      ...beaconsEvery(41, 90, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10', bootId: 'second-boot' }),
      ...beaconsEvery(2, 90, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    s.expectClean();
    expect(s.engine.lastBeacon(WEB.uuid)).toMatchObject({ bootId: 'second-boot', seq: 10 });
  });

  it('a VM rebooting fast and getting a new DHCP address (new boot id from a new source address)', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 90, 10, 'lab-a', (t) => [{ ...WEB, ips: t < 30 ? WEB.ips : ['192.168.122.11'] }]),
      ...scansEvery(0, 90, 10, 'lab-b', [DB]),
      ...beaconsEvery(1, 21, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
      ...beaconsEvery(26, 90, { uuid: WEB.uuid, ips: ['192.168.122.11'], from: '192.168.122.11', bootId: 'second-boot' }),
      ...beaconsEvery(2, 90, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    s.expectClean();
    expect(s.scanRequests).toEqual([undefined]); // suspicious enough to look (a clone would look the same at first)
  });

  it('a shut-off duplicate definition of a VM on another host is not a ghost', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 60, 10, 'lab-a', [WEB]),
      ...scansEvery(0, 60, 10, 'lab-b', [DB, { ...WEB, state: 'shutoff' }]),
      ...beaconsEvery(1, 60, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
      ...beaconsEvery(2, 60, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    s.expectClean();
    expect(
      s.engine
        .resolveVm('web')
        .instances.map((i) => `${i.host}:${i.state}`)
        .sort(),
    ).toEqual(['lab-a:running', 'lab-b:shutoff']);
  });

  it('a DHCP IP change on one VM; later another VM gets its old address', async () => {
    const s = new Scenario({ registrations: regs() });
    const webIp = (t: number) => (t < 30 ? '192.168.122.10' : '192.168.122.30');
    const dbIp = (t: number) => (t < 60 ? '192.168.122.20' : '192.168.122.10');
    const inputs: Input[] = [
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 90, 10, 'lab-a', (t) => [{ ...WEB, ips: [webIp(t)] }]),
      ...scansEvery(0, 90, 10, 'lab-b', (t) => [{ ...DB, ips: [dbIp(t)] }]),
    ];
    for (let t = 1; t <= 90; t += 5) inputs.push({ at: t, beacon: { uuid: WEB.uuid, ips: [webIp(t)], from: webIp(t) } });
    for (let t = 2; t <= 90; t += 5) inputs.push({ at: t, beacon: { uuid: DB.uuid, ips: [dbIp(t)], from: dbIp(t) } });
    await s.run(inputs);
    s.expectClean();
    expect(s.engine.resolveVm('web').ips).toEqual(['192.168.122.30']);
  });

  it('a host going down does not make its VMs vanish (and raises nothing)', async () => {
    const s = new Scenario({ registrations: regs() });
    await s.run([
      { at: 0, hosts: HOSTS },
      ...scansEvery(0, 60, 10, 'lab-a', [WEB]),
      ...scansEvery(0, 20, 10, 'lab-b', [DB]),
      {
        at: 25,
        hosts: [
          { name: 'lab-a', up: true },
          { name: 'lab-b', up: false },
        ],
      },
      ...beaconsEvery(1, 60, { uuid: WEB.uuid, ips: WEB.ips, from: '192.168.122.10' }),
      ...beaconsEvery(2, 60, { uuid: DB.uuid, ips: DB.ips, from: '192.168.122.20' }),
    ]);
    s.expectClean();
    expect(s.engine.resolveVm('db').instances.map((i) => i.host)).toEqual(['lab-b']);
    expect(s.engine.snapshot().hosts.find((h) => h.name === 'lab-b')!.up).toBe(false);
  });
});
