// recordBeacon keeps an identity's latest beacon. Agents repeat their addresses beacon after beacon, and each
// beacon's lists live until the next one (about a second at 10,000 beacons/s): long enough for V8 to promote them,
// so a beacon that says the same addresses keeps the lists already recorded instead of leaving new ones behind.
import { expect, it } from 'vitest';
import { recordBeacon } from '../../src/billboard/beacon-record.js';
import type { VmState } from '../../src/billboard/state.js';
import type { BeaconEvent } from '../../src/model/types.js';

const T = 1_700_000_000_000;
const UUID = '00000000-0000-4000-8000-000000000001';
const W = { silentAfterMs: 15_000, incidentWindowMs: 30_000 };

/** a beacon as the listener hands it over: fresh lists decoded from the wire each time */
function ev(seq: number, ips: string[], macs: string[]): BeaconEvent {
  const b = { v: 1, uuid: UUID, name: 'vm1', macs: [...macs], ips: [...ips], os: 'linux', hostname: 'vm1', bootId: 'boot' };
  return {
    verdict: 'valid',
    beacon: { ...b, seq, ts: T + seq * 1000, keyFp: 'fp' },
    from: { address: '10.0.0.1', port: 40_000 },
    receivedAt: T + seq * 1000,
  };
}

it('a beacon with the same addresses keeps the lists already recorded; new addresses make new ones', () => {
  const vm: VmState = { uuid: UUID, instances: new Map(), claimedIps: [], activeMacs: [] };
  recordBeacon(vm, ev(1, ['10.0.0.1', '10.0.1.1'], ['52:54:00:00:00:01']), true, T + 1000, W);
  const first = vm.beacon!;
  recordBeacon(vm, ev(2, ['10.0.1.1', '10.0.0.1'], ['52-54-00-00-00-01']), true, T + 2000, W);
  expect(vm.beacon).not.toBe(first);
  expect(vm.beacon!.seq).toBe(2);
  expect(vm.beacon!.ips).toBe(first.ips); // same addresses, said in another order: cleanIps sorts them
  expect(vm.beacon!.macs).toBe(first.macs); // the same MAC, spelled otherwise
  recordBeacon(vm, ev(3, ['10.0.0.2'], ['52:54:00:00:00:02']), true, T + 3000, W);
  expect(vm.beacon!.ips).toEqual(['10.0.0.2']);
  expect(vm.beacon!.macs).toEqual(['52:54:00:00:00:02']);
  expect(first.ips).toEqual(['10.0.0.1', '10.0.1.1']); // what was recorded before is never changed in place
  expect(first.macs).toEqual(['52:54:00:00:00:01']);
});
