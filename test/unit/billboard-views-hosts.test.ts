// The Billboard view's HOST(S), OS and tone for a row with a shut-off copy (issue 19): a shut-off definition is not
// a place the VM runs, so it is shown apart and never makes the row look like it runs twice.
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/billboard/engine.js';
import { VIEWS, formatted, vmTone } from '../../src/tui/views.js';
import type { DomainInfo, DomainState, Registration, VmRow, VmStatus } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';
import { domainInfo } from '../support/fake-host-driver.js';

const inst = (host: string, state: DomainState) => ({
  host,
  state,
  name: 'tiny',
  macs: [] as string[],
  ips: [] as string[],
  definitionHash: 'd'.repeat(64),
  memoryKiB: 131072,
  vcpus: 1,
});
const row = (instances: ReturnType<typeof inst>[], status: VmStatus = 'ok', os?: string): VmRow => ({
  uuid: '1bfa9ca7-06c5-4bd5-b67f-ba1ba639e932',
  name: 'tiny',
  instances,
  registration: 'approved',
  os,
  ips: [],
  openFindings: 0,
  status,
});
const billboard = VIEWS.billboard;
const cell = (r: VmRow, title: string) => formatted(billboard, r).cells[billboard.columns.findIndex((c) => c.title === title)];

describe('Billboard HOST(S) with a shut-off copy', () => {
  it('lists the hosts it runs on; a shut-off copy is shown apart, after them', () => {
    expect(cell(row([inst('lab-b', 'shutoff'), inst('lab-a', 'running')]), 'HOST(S)')).toBe('lab-a (off: lab-b)');
    expect(cell(row([inst('lab-a', 'running'), inst('lab-b', 'running')]), 'HOST(S)')).toBe('lab-a,lab-b');
    expect(cell(row([inst('lab-b', 'shutoff')], 'stopped'), 'HOST(S)')).toBe('(off: lab-b)');
  });
  it('a shut-off copy does not make the row red (two places it runs would)', () => {
    expect(vmTone(row([inst('lab-a', 'running'), inst('lab-b', 'shutoff')]))).toBeUndefined();
    expect(vmTone(row([inst('lab-a', 'running'), inst('lab-b', 'paused')]))).toBe('red');
  });
});

describe('Billboard OS', () => {
  it('is what beacons or libosinfo say, else blank', () => {
    expect(cell(row([inst('lab-a', 'running')], 'ok', 'debian12'), 'OS')).toBe('debian12');
    expect(cell(row([inst('lab-a', 'running')]), 'OS')).toBe('');
  });
});

describe('the row OS for an agentless VM', () => {
  const engines: Engine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
  });
  const UUID = '1bfa9ca7-06c5-4bd5-b67f-ba1ba639e932';
  function engineWith(reg: Partial<Registration>) {
    const store = new FakeStore({ registrations: [approved({ uuid: UUID, name: 'tiny', ...reg })] });
    const engine = new Engine({ store, beaconIntervalS: 5, missedBeforeSilent: 3, enforcement: 'ask', requestScan: () => {} });
    engines.push(engine);
    return engine;
  }
  const domain = (os?: string): DomainInfo => domainInfo({ uuid: UUID, name: 'tiny', ...(os ? { os } : {}) });
  it("is the libosinfo id its host's definition carries, else blank: never the <os><type> a scan request once recorded", () => {
    const e = engineWith({ origin: 'scan', os: 'hvm' });
    e.ingestInventory({ host: 'lab-a', at: 0, durationMs: 1, domains: [domain()] });
    expect(e.resolveVm('tiny').os).toBeUndefined();
    e.ingestInventory({ host: 'lab-a', at: 1, durationMs: 1, domains: [domain('debian12')] });
    expect(e.resolveVm('tiny').os).toBe('debian12');
  });
  it('an OS the operator registered still shows', () => {
    const e = engineWith({ origin: 'operator', os: 'openbsd7' });
    e.ingestInventory({ host: 'lab-a', at: 0, durationMs: 1, domains: [domain()] });
    expect(e.resolveVm('tiny').os).toBe('openbsd7');
  });
});

describe('Billboard UUID column', () => {
  const withUuid = (uuid: string, name: string): VmRow => ({ ...row([inst('lab-a', 'running')]), uuid, name });
  const items = (rows: VmRow[]) => billboard.items({ snapshot: { rows } } as never) as VmRow[];
  it('is 8 digits, longer where two rows share their first digits, and a row lengthens when such a row arrives', () => {
    const a = withUuid('11111111-2222-4333-8444-555555555555', 'vm1');
    const c = withUuid('99999999-2222-4333-8444-555555555555', 'vm3');
    items([a, c]);
    expect(cell(a, 'UUID')).toBe('11111111');
    const b = withUuid('11111111-2299-4333-8444-555555555555', 'vm2');
    items([a, b, c]);
    expect([cell(a, 'UUID'), cell(b, 'UUID'), cell(c, 'UUID')]).toEqual(['11111111-222', '11111111-229', '99999999']);
  });
});

describe('Billboard details for a VM on two hosts', () => {
  it('list each boot id seen, where it came from, and the host whose copy has that address', () => {
    const now = 1_000_000;
    const a = { ...inst('lab-a', 'running'), ips: ['10.0.0.5'] };
    const b = { ...inst('lab-b', 'running'), ips: ['10.0.0.9'] };
    const r: VmRow = {
      ...row([a, b], 'ghost'),
      lastBeacon: { at: now - 2000, from: '10.0.0.9', bootId: 'boot-b', seq: 7, ips: [], macs: [], os: '', keyFp: 'SHA256:k' },
      previousBoot: { bootId: 'boot-a', from: '10.0.0.5', at: now - 5000 },
    };
    const d = { now, snapshot: { findings: [] }, registration: () => undefined } as never;
    const lines = billboard.detail!(r, d);
    expect(lines).toContain('    boot-b from 10.0.0.9 (the copy on lab-b), 2s ago');
    expect(lines).toContain('    boot-a from 10.0.0.5 (the copy on lab-a), 5s ago');
    const one = billboard.detail!({ ...r, previousBoot: undefined, lastBeacon: { ...r.lastBeacon!, from: '192.0.2.1' } }, d);
    expect(one.filter((l) => l.startsWith('    boot-'))).toEqual(['    boot-b from 192.0.2.1, 2s ago']);
  });
});
