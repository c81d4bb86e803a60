// The Billboard view's HOST(S), OS and tone for a row with a shut-off copy (issue 19): a shut-off definition is not
// a place the VM runs, so it is shown apart and never makes the row look like it runs twice.
import { describe, expect, it } from 'vitest';
import { VIEWS, formatted, vmTone } from '../../src/tui/views.js';
import type { DomainState, VmRow, VmStatus } from '../../src/model/types.js';

const inst = (host: string, state: DomainState) => ({
  host,
  state,
  name: 'tiny',
  macs: [],
  ips: [],
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
  it('the details still list every copy with its state', () => {
    const lines = billboard.detail(row([inst('lab-a', 'running'), inst('lab-b', 'shutoff')]), { now: 0 } as never);
    expect(lines.join('\n')).toMatch(/on lab-b: shutoff/);
  });
});

describe('Billboard OS', () => {
  it('is what beacons or libosinfo say, else blank', () => {
    expect(cell(row([inst('lab-a', 'running')], 'ok', 'debian12'), 'OS')).toBe('debian12');
    expect(cell(row([inst('lab-a', 'running')]), 'OS')).toBe('');
  });
});
