import { describe, expect, it } from 'vitest';
import {
  definitionDrift,
  duplicateMac,
  duplicateUuid,
  forgedBeacon,
  ipConflict,
  migrationGhost,
  phantom,
  replayedBeacon,
  silent,
  unauthorizedMigration,
  unregistered,
} from '../../src/billboard/detectors/index.js';
import type { DetectContext, InstanceState, VmState } from '../../src/billboard/state.js';
import type { DomainState, Registration } from '../../src/model/types.js';
import { approved } from '../helpers/fake-store.js';

const NOW = 1_000_000;
const UUID = '11111111-2222-4333-8444-555555555555';

function inst(host: string, state: DomainState = 'running', extra: Partial<InstanceState> = {}): InstanceState {
  return {
    host,
    state,
    name: 'web',
    macs: ['52:54:00:00:00:01'],
    ips: [],
    definitionHash: 'aaa',
    memoryKiB: 1,
    vcpus: 1,
    scannedAt: NOW,
    ...extra,
  };
}
function vm(instances: InstanceState[], extra: Partial<VmState> = {}): VmState {
  return { uuid: UUID, instances: new Map(instances.map((i) => [i.host, i])), claimedIps: [], activeMacs: [], ...extra };
}
function ctx(extra: Partial<DetectContext> = {}, down: string[] = []): DetectContext {
  return {
    now: NOW,
    silentAfterMs: 15_000,
    incidentWindowMs: 30_000,
    windows: [],
    hostUp: (h) => !down.includes(h),
    scannedAt: () => NOW,
    fullScanAt: NOW,
    ...extra,
  };
}
const reg = (p: Partial<Registration> = {}): Registration =>
  approved({ uuid: UUID, name: 'web', publicKey: 'AAAA', homeHost: 'a', definitionHash: 'aaa', ...p });
const beacon = (at: number, since = at) => ({
  at,
  receivedAt: at,
  from: '10.0.0.5',
  bootId: 'b1',
  seq: 1,
  ips: [],
  macs: [],
  os: '',
  keyFp: 'fp',
  name: 'web',
  since,
});

describe('DUPLICATE_UUID', () => {
  it('is critical when running on two hosts', () => {
    expect(duplicateUuid(vm([inst('a'), inst('b')]), ctx())).toMatchObject({
      code: 'DUPLICATE_UUID',
      severity: 'critical',
      hosts: ['a', 'b'],
    });
  });
  it('ignores a shut-off definition elsewhere and the pair of an open migration window; a down host counts as last scanned', () => {
    expect(duplicateUuid(vm([inst('a'), inst('b', 'shutoff')]), ctx())).toBeUndefined();
    expect(duplicateUuid(vm([inst('a'), inst('b')]), ctx({}, ['b']))?.evidence).toContain('b down: as last scanned');
    const w = { job: 'J', uuid: UUID, source: 'a', destination: 'b', startedAt: 0 };
    expect(duplicateUuid(vm([inst('a'), inst('b', 'paused')]), ctx({ windows: [w] }))).toBeUndefined();
    expect(duplicateUuid(vm([inst('a'), inst('c')]), ctx({ windows: [w] }))).toBeDefined();
  });
  it('counts a recent clone incident from beacons, not an old one', () => {
    const clone = { at: NOW - 1000, from: '10.0.0.9', reason: 'two boots', count: 2, authenticated: false };
    expect(duplicateUuid(vm([inst('a')], { clone }), ctx())?.evidence).toContain('two boots');
    expect(duplicateUuid(vm([inst('a')], { clone: { ...clone, at: NOW - 60_000 } }), ctx())).toBeUndefined();
  });
});

describe('UNREGISTERED', () => {
  it('medium for an unknown live VM, low while pending or only defined, high when rejected and running; none once approved', () => {
    expect(unregistered(vm([inst('a')]), ctx())?.severity).toBe('medium');
    expect(unregistered(vm([inst('a', 'shutoff')]), ctx())?.severity).toBe('low');
    expect(unregistered(vm([inst('a')]), ctx({ registration: reg({ state: 'pending' }) }))?.severity).toBe('low');
    expect(unregistered(vm([inst('a')]), ctx({ registration: reg({ state: 'rejected' }) }))?.severity).toBe('high');
    expect(unregistered(vm([inst('a')]), ctx({ registration: reg() }))).toBeUndefined();
  });
  it('counts a recent beacon as seen, a stale one not', () => {
    expect(unregistered(vm([], { beacon: beacon(NOW - 1000) }), ctx())?.evidence).toContain('beaconing from 10.0.0.5');
    expect(unregistered(vm([], { beacon: beacon(NOW - 60_000) }), ctx())).toBeUndefined();
  });
});

describe('FORGED_BEACON / REPLAYED_BEACON', () => {
  it('last while the incident is recent', () => {
    const inc = { at: NOW - 5000, from: '10.6.6.6', reason: 'bad signature', count: 3, authenticated: false };
    expect(forgedBeacon(vm([], { forged: inc }), ctx())).toMatchObject({ severity: 'critical' });
    expect(forgedBeacon(vm([], { forged: { ...inc, at: NOW - 31_000 } }), ctx())).toBeUndefined();
    expect(replayedBeacon(vm([inst('a')], { replayed: inc }), ctx())).toMatchObject({ severity: 'high', hosts: ['a'] });
    expect(replayedBeacon(vm([inst('a')]), ctx())).toBeUndefined();
  });
});

describe('SILENT', () => {
  const running = (b?: number) => vm([inst('a')], { activeSince: NOW - 100_000, beacon: b === undefined ? undefined : beacon(b) });
  it('raised for a keyed registration running without beacons past the window', () => {
    expect(silent(running(NOW - 16_000), ctx({ registration: reg() }))).toMatchObject({ code: 'SILENT' });
    expect(silent(running(), ctx({ registration: reg() }))?.evidence).toContain('never beaconed');
  });
  it('not within the window, not agentless, not paused, not unregistered, not while migrating', () => {
    expect(silent(running(NOW - 14_000), ctx({ registration: reg() }))).toBeUndefined();
    expect(silent(running(), ctx({ registration: reg({ publicKey: undefined }) }))).toBeUndefined();
    expect(silent(vm([inst('a', 'paused')], { activeSince: 0 }), ctx({ registration: reg() }))).toBeUndefined();
    expect(silent(running(), ctx())).toBeUndefined();
    expect(
      silent(running(), ctx({ registration: reg(), windows: [{ job: 'J', uuid: UUID, source: 'a', destination: 'b', startedAt: 0 }] })),
    ).toBeUndefined();
  });
  it('gives a VM that just started the full window', () => {
    expect(silent(vm([inst('a')], { activeSince: NOW - 5000 }), ctx({ registration: reg() }))).toBeUndefined();
  });
});

describe('PHANTOM', () => {
  it('beacons, no host runs it, after a full scan that began after its beacons', () => {
    expect(phantom(vm([], { beacon: beacon(NOW - 1000, NOW - 20_000) }), ctx())).toMatchObject({ code: 'PHANTOM', severity: 'high' });
    expect(phantom(vm([], { beacon: beacon(NOW - 1000, NOW - 20_000) }), ctx({ fullScanAt: undefined }))).toBeUndefined();
    expect(phantom(vm([], { beacon: beacon(NOW - 1000, NOW + 1) }), ctx())).toBeUndefined();
    expect(phantom(vm([inst('a')], { beacon: beacon(NOW - 1000, 0) }), ctx())).toBeUndefined();
    // a host that is down still "runs" what it last reported
    expect(phantom(vm([inst('a')], { beacon: beacon(NOW - 1000, 0) }), ctx({}, ['a']))).toBeUndefined();
    expect(phantom(vm([inst('a', 'shutoff')], { beacon: beacon(NOW - 1000, 0) }), ctx())?.evidence).toContain('defined on a (shutoff)');
  });
});

describe('UNAUTHORIZED_MIGRATION', () => {
  it('an approved VM away from home with no window or completed move', () => {
    expect(unauthorizedMigration(vm([inst('b')]), ctx({ registration: reg() }))).toMatchObject({ hosts: ['b'], severity: 'high' });
    expect(unauthorizedMigration(vm([inst('a'), inst('b')]), ctx({ registration: reg() }))).toBeUndefined();
    expect(unauthorizedMigration(vm([inst('b')]), ctx({ registration: reg({ state: 'pending' }) }))).toBeUndefined();
    expect(unauthorizedMigration(vm([inst('b')]), ctx({ registration: reg({ homeHost: undefined }) }))).toBeUndefined();
    expect(
      unauthorizedMigration(
        vm([inst('b')]),
        ctx({ registration: reg(), lastMove: { job: 'J', uuid: UUID, source: 'a', destination: 'b', committedAt: 0 } }),
      ),
    ).toBeUndefined();
    expect(
      unauthorizedMigration(
        vm([inst('b')]),
        ctx({ registration: reg(), windows: [{ job: 'J', uuid: UUID, source: 'a', destination: 'b', startedAt: 0 }] }),
      ),
    ).toBeUndefined();
  });
});

describe('DEFINITION_DRIFT', () => {
  it('hash differs from the one bound at approval, on any host', () => {
    expect(definitionDrift(vm([inst('a', 'shutoff', { definitionHash: 'bbb' })]), ctx({ registration: reg() }))).toMatchObject({
      hosts: ['a'],
    });
    expect(definitionDrift(vm([inst('a')]), ctx({ registration: reg() }))).toBeUndefined();
    expect(
      definitionDrift(vm([inst('a', 'running', { definitionHash: 'bbb' })]), ctx({ registration: reg({ definitionHash: undefined }) })),
    ).toBeUndefined();
  });

  it('a hash bound under the first normal form still matches an unchanged definition (no drift on upgrade)', () => {
    const bound = reg().definitionHash!;
    const unchanged = inst('a', 'running', { definitionHash: 'new-form', legacyDefinitionHash: bound });
    expect(definitionDrift(vm([unchanged]), ctx({ registration: reg() }))).toBeUndefined();
    const edited = inst('a', 'running', { definitionHash: 'new-form', legacyDefinitionHash: 'other' });
    expect(definitionDrift(vm([edited]), ctx({ registration: reg() }))).toMatchObject({ hosts: ['a'] });
  });
});

describe('DEFINITION_DRIFT across normal forms', () => {
  it('a hash bound under the second form still matches the definition it was bound to', () => {
    const bound = reg().definitionHash!;
    const unchanged = inst('a', 'running', { definitionHash: 'third-form', previousDefinitionHash: bound });
    expect(definitionDrift(vm([unchanged]), ctx({ registration: reg() }))).toBeUndefined();
    const edited = inst('a', 'running', { definitionHash: 'third-form', previousDefinitionHash: 'other' });
    expect(definitionDrift(vm([edited]), ctx({ registration: reg() }))).toMatchObject({ hosts: ['a'] });
  });
});

describe('DEFINITION_DRIFT in a saved definition', () => {
  it('an edit of a running VM waiting for its next start is drift before the restart applies it', () => {
    const waiting = inst('a', 'running', { savedDefinitionHash: 'ccccccccccccccc' });
    expect(definitionDrift(vm([waiting]), ctx({ registration: reg() }))?.evidence).toMatch(/a saved cccccccccccc for its next start/);
    const same = inst('a', 'running', { savedDefinitionHash: reg().definitionHash });
    expect(definitionDrift(vm([same]), ctx({ registration: reg() }))).toBeUndefined();
  });
});

describe('MIGRATION_GHOST', () => {
  const w = { job: 'J', uuid: UUID, source: 'a', destination: 'b', startedAt: 0 };
  it('live outside source/destination during the window', () => {
    expect(migrationGhost(vm([inst('a'), inst('c')]), ctx({ windows: [w] }))).toMatchObject({ hosts: ['c'], severity: 'critical' });
    expect(migrationGhost(vm([inst('a'), inst('b', 'paused')]), ctx({ windows: [w] }))).toBeUndefined();
  });
  it('still on the source per a scan made after commitment (not per an older scan)', () => {
    const committed = { ...w, committedAt: NOW - 10 };
    expect(migrationGhost(vm([inst('a'), inst('b')]), ctx({ windows: [committed] }))?.evidence).toContain('still running on source a');
    expect(
      migrationGhost(vm([inst('a'), inst('b')]), ctx({ windows: [committed], scannedAt: (h) => (h === 'a' ? NOW - 20 : NOW) })),
    ).toBeUndefined();
    const move = { job: 'J', uuid: UUID, source: 'a', destination: 'b', committedAt: NOW - 10 };
    expect(migrationGhost(vm([inst('a'), inst('b')]), ctx({ lastMove: move }))).toBeDefined();
    expect(migrationGhost(vm([inst('b')]), ctx({ lastMove: move }))).toBeUndefined();
  });
  it('not once a scan after commitment showed the source discharged: a return there is another finding', () => {
    const move = { job: 'J', uuid: UUID, source: 'a', destination: 'b', committedAt: NOW - 10, dischargedAt: NOW - 5 };
    expect(migrationGhost(vm([inst('a'), inst('b', 'shutoff')]), ctx({ lastMove: move }))).toBeUndefined();
    const open = { ...w, committedAt: NOW - 10, dischargedAt: NOW - 5 };
    expect(migrationGhost(vm([inst('a'), inst('b')]), ctx({ windows: [open] }))).toBeUndefined();
    expect(duplicateUuid(vm([inst('a'), inst('b')]), ctx({ windows: [open] }))).toMatchObject({ code: 'DUPLICATE_UUID' });
    const r = reg({ homeHost: 'b' });
    expect(unauthorizedMigration(vm([inst('a'), inst('b', 'shutoff')]), ctx({ registration: r, lastMove: move }))).toMatchObject({
      hosts: ['a'],
    });
    expect(unauthorizedMigration(vm([inst('a')]), ctx({ registration: r, windows: [open] }))).toMatchObject({ hosts: ['a'] });
  });
});

describe('DUPLICATE_MAC / IP_CONFLICT', () => {
  it('need two identities', () => {
    const a = { uuid: 'a', name: 'A', host: 'h1' };
    expect(duplicateMac('52:54:00:AA:00:01', [a, { ...a, host: 'h2' }])).toBeUndefined();
    expect(duplicateMac('52:54:00:AA:00:01', [a, { uuid: 'b', name: 'B', host: 'h2' }])).toMatchObject({
      key: 'DUPLICATE_MAC:52:54:00:aa:00:01',
      vm: '',
    });
    const c = { uuid: 'a', name: 'A', source: 'beacon from x', hosts: ['h1'] };
    expect(ipConflict('10.0.0.1', [c], 0)).toBeUndefined();
    expect(ipConflict('10.0.0.1', [c, { ...c, uuid: 'b', name: 'B' }], 4)?.evidence).toContain('flip-flopped 4 times');
  });
});
