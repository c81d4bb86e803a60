// The ghost window of a migration (issue 19): after commitment the source must be discharged; the first scan that
// shows it discharged closes the window, and a later return to the source is a migration of its own.
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import { MigrationWatch } from '../../src/billboard/migrations.js';
import type { InstanceState, VmState } from '../../src/billboard/state.js';
import type { DomainInfo, DomainState, HostStatus } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const UUID = '00000000-0000-4000-8000-000000000001';

function dom(state: DomainState = 'running', extra: Partial<DomainInfo> = {}): DomainInfo {
  return {
    uuid: UUID,
    name: 'tiny',
    state,
    vcpus: 1,
    memoryKiB: 131072,
    macs: ['52:54:00:b1:11:01'],
    interfaces: [],
    ips: [],
    disks: [],
    definitionHash: 'def1',
    ...extra,
  };
}
const up = (name: string): HostStatus => ({ name, driver: 'ssh', target: name, up: true, consecutiveFailures: 0, domains: 0, running: 0 });

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

/** tiny approved at home on lab-a, then moved to lab-b by an authorized job M-1, as the migration manager drives it */
function afterAuthorizedMove() {
  let now = T;
  const store = new FakeStore(
    { registrations: [approved({ uuid: UUID, name: 'tiny', homeHost: 'lab-a', definitionHash: 'def1' })] },
    () => now,
  );
  const engine = new Engine({
    store,
    beaconIntervalS: 5,
    missedBeforeSilent: 3,
    enforcement: 'ask',
    now: () => now,
    requestScan: () => {},
  });
  engines.push(engine);
  const scan = (host: string, ...domains: DomainInfo[]) => {
    now += 1000;
    engine.ingestInventory({ host, at: now, durationMs: 1, domains });
  };
  engine.hostStatuses([up('lab-a'), up('lab-b')]);
  scan('lab-a', dom());
  scan('lab-b');
  engine.beginMigration({ job: 'M-1', uuid: UUID, source: 'lab-a', destination: 'lab-b' });
  scan('lab-b', dom('paused'));
  now += 1000;
  engine.commitMigration('M-1');
  scan('lab-a'); // discharged: the window closes
  scan('lab-b', dom());
  engine.endMigration('M-1', 'completed');
  return { engine, store, scan, codes: () => engine.findings().map((f) => f.code) };
}

describe('the ghost window after commitment', () => {
  it('a bare migration back to the former source is UNAUTHORIZED_MIGRATION only: no ghost, the shut-off copy is no host', async () => {
    const { engine, store, scan, codes } = afterAuthorizedMove();
    await store.updateRegistration(UUID, { homeHost: 'lab-b' }, 'system', 'migrate-home');
    engine.registryChanged();
    expect(codes()).toEqual([]);
    scan('lab-a', dom()); // virsh migrate --live tiny qemu+tcp://lab-a/system on lab-b
    scan('lab-b', dom('shutoff')); // the persistent definition stays behind, shut off
    expect(codes()).toEqual(['UNAUTHORIZED_MIGRATION']);
    expect(engine.findings()[0].hosts).toEqual(['lab-a']);
    expect(engine.resolveVm('tiny').status).not.toBe('ghost');
  });

  it('a later appearance on the former source while live on the destination is DUPLICATE_UUID, not MIGRATION_GHOST', () => {
    const { scan, codes } = afterAuthorizedMove();
    scan('lab-a', dom());
    expect(codes()).toEqual(['DUPLICATE_UUID']);
  });

  it('the same holds while the job is still open (activation pending) once the source was seen discharged', () => {
    const { engine, scan, codes } = afterAuthorizedMove();
    engine.beginMigration({ job: 'M-2', uuid: UUID, source: 'lab-b', destination: 'lab-c' });
    engine.commitMigration('M-2');
    scan('lab-b');
    scan('lab-c', dom());
    scan('lab-b', dom());
    expect(codes()).toEqual(['DUPLICATE_UUID']);
  });

  it('stays open, and says MIGRATION_GHOST, while every scan after commitment still shows it on the source', () => {
    let now = T;
    const store = new FakeStore({ registrations: [approved({ uuid: UUID, name: 'tiny', homeHost: 'lab-a' })] }, () => now);
    const engine = new Engine({
      store,
      beaconIntervalS: 5,
      missedBeforeSilent: 3,
      enforcement: 'ask',
      now: () => now,
      requestScan: () => {},
    });
    engines.push(engine);
    engine.ingestInventory({ host: 'lab-a', at: now, durationMs: 1, domains: [dom()] });
    engine.beginMigration({ job: 'M-1', uuid: UUID, source: 'lab-a', destination: 'lab-b' });
    now += 1000;
    engine.commitMigration('M-1');
    for (let i = 0; i < 3; i++) {
      now += 1000;
      engine.ingestInventory({ host: 'lab-a', at: now, durationMs: 1, domains: [dom()] });
      engine.ingestInventory({ host: 'lab-b', at: now, durationMs: 1, domains: [dom()] });
      expect(engine.findings().map((f) => f.code)).toEqual(['MIGRATION_GHOST']);
    }
    now += 1000;
    engine.ingestInventory({ host: 'lab-a', at: now, durationMs: 1, domains: [] });
    expect(engine.findings()).toEqual([]);
    now += 1000;
    engine.ingestInventory({ host: 'lab-a', at: now, durationMs: 1, domains: [dom()] });
    expect(engine.findings().map((f) => f.code)).toEqual(['DUPLICATE_UUID']);
  });
});

describe('MigrationWatch.scanned', () => {
  const vmOn = (host: string, state: DomainState): VmState => ({
    uuid: UUID,
    instances: new Map([[host, { host, state } as InstanceState]]),
    claimedIps: [],
    activeMacs: [],
  });
  it('discharges a committed move at the first scan after the commit that shows the source not running it', () => {
    const w = new MigrationWatch();
    w.begin({ job: 'M-1', uuid: UUID, source: 'a', destination: 'b' }, 10);
    expect(w.scanned('a', 11, () => vmOn('a', 'running'))).toEqual([UUID]); // open window: always re-judged
    w.commit('M-1', 20);
    w.scanned('a', 20, () => undefined); // not after the commit
    expect(w.windowsOf(UUID)[0].dischargedAt).toBeUndefined();
    w.scanned('a', 21, () => vmOn('a', 'paused')); // still live there
    expect(w.windowsOf(UUID)[0].dischargedAt).toBeUndefined();
    w.scanned('b', 22, () => undefined); // another host says nothing of the source
    expect(w.windowsOf(UUID)[0].dischargedAt).toBeUndefined();
    w.scanned('a', 23, () => vmOn('a', 'shutoff')); // a shut-off definition is not a place it runs
    expect(w.windowsOf(UUID)[0].dischargedAt).toBe(23);
    w.end('M-1', 'completed', 30);
    expect(w.lastMove(UUID)).toMatchObject({ committedAt: 20, dischargedAt: 23 });
    expect(w.scanned('a', 40, () => vmOn('a', 'running'))).toEqual([]); // nothing waits for lab-a any more
    expect(w.lastMove(UUID)?.dischargedAt).toBe(23);
  });
  it('a move that completed before the discharge was seen keeps waiting for it', () => {
    const w = new MigrationWatch();
    w.begin({ job: 'M-1', uuid: UUID, source: 'a', destination: 'b' }, 10);
    w.commit('M-1', 20);
    w.end('M-1', 'completed', 25);
    expect(w.scanned('a', 26, () => vmOn('a', 'running'))).toEqual([UUID]);
    expect(w.lastMove(UUID)?.dischargedAt).toBeUndefined();
    expect(w.scanned('a', 27, () => undefined)).toEqual([UUID]);
    expect(w.lastMove(UUID)?.dischargedAt).toBe(27);
  });
});
