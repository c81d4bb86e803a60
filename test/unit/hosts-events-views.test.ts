import { describe, expect, it } from 'vitest';
import { hosts as hostsCommand } from '../../src/console/commands/hosts.js';
import type { ConsoleContext } from '../../src/console/context.js';
import type { HostStatus } from '../../src/model/types.js';
import { VIEWS } from '../../src/tui/views.js';

// A host's event stream where an operator looks: the `hosts` command and the Hosts view (columns and details).

const NOW = 1_000_000;
const base = { driver: 'ssh', target: '127.0.0.1:22', up: true, consecutiveFailures: 0, domains: 3, running: 2 } as const;
const list: HostStatus[] = [
  {
    ...base,
    name: 'lab-a',
    events: 'on',
    eventsReceived: 42,
    lastEventAt: NOW - 3000,
    lastEvent: 'web-01 Started Booted',
    streamRestarts: 1,
    pollIntervalMs: 300_000,
  },
  {
    ...base,
    name: 'lab-b',
    events: 'off',
    eventsNote: 'connection to lab-b lost',
    eventsReceived: 0,
    streamRestarts: 4,
    pollIntervalMs: 30_000,
  },
  { ...base, name: 'lab-c', driver: 'libvirt', events: 'unavailable', eventsNote: 'test:/// driver: polled only', pollIntervalMs: 30_000 },
];

describe('event state shown to the operator', () => {
  it('hosts: events on/off/polled only, received, last event, restarts, the poll in force, and why a host has none', async () => {
    const ctx = { scanner: { statuses: () => list }, now: () => NOW } as unknown as ConsoleContext;
    const r = await hostsCommand.run({ name: 'hosts', args: [], flags: {} } as never, ctx, () => undefined);
    const lines = r.text!.split('\n');
    expect(lines[0]).toMatch(/EVENTS\s+RCVD\s+LAST EVENT\s+RESTARTS\s+POLL/);
    expect(lines[1]).toMatch(/lab-a .* on\s+42\s+3s ago\s+1\s+300 s/);
    expect(lines[2]).toMatch(/lab-b .* off\s+0\s+-\s+4\s+30 s/);
    expect(lines[3]).toMatch(/lab-c .* polled only\s+-\s+-\s+-\s+30 s/);
    expect(lines.slice(4)).toEqual([
      'lab-b: events off: connection to lab-b lost',
      'lab-c: events unavailable: test:/// driver: polled only',
    ]);
  });

  it('Hosts view: EVENTS and EVS columns, and a details line with the last event and the restarts', () => {
    const v = VIEWS.hosts;
    const col = (t: string) => v.columns.find((c) => c.title === t)!;
    expect(list.map((h) => col('EVENTS').get!(h))).toEqual(['on', 'OFF', 'poll']);
    expect(list.map((h) => col('EVS').get!(h))).toEqual(['42', '0', '-']);
    const d = { now: NOW } as never;
    expect(v.detail(list[0], d)).toContain(
      '  events on: 42 received, last 3s ago: web-01 Started Booted, 1 stream restart; polled every 5m',
    );
    expect(v.detail(list[1], d)).toContain('  event stream: connection to lab-b lost');
    expect(v.detail(list[2], d)).toContain('  events: none (test:/// driver: polled only); polled every 30s');
  });
});

describe("a host's admission hook shown to the operator", () => {
  const sha256 = 'ab'.repeat(32);
  const hooked: HostStatus[] = [
    { ...base, name: 'lab-a', admissionHook: { state: 'present', sha256, settings: { unreachable: 'deny', timeoutS: 3 } } },
    {
      ...base,
      name: 'lab-b',
      admissionHook: { state: 'present', sha256, settings: { problem: 'TIMEOUT is not 1-60 seconds: the hook refuses every start' } },
    },
    { ...base, name: 'lab-c', admissionHook: { state: 'missing' } },
    { ...base, name: 'lab-d', admissionHook: { state: 'unknown' } },
  ];

  it('hosts: what each hook answers when billboard does not, and a hook that refuses everything, under the table', async () => {
    const ctx = { scanner: { statuses: () => hooked }, now: () => NOW } as unknown as ConsoleContext;
    const r = await hostsCommand.run({ name: 'hosts', args: [], flags: {} } as never, ctx, () => undefined);
    const lines = r.text!.split('\n');
    expect(lines[0]).toMatch(/POLL\s+HOOK\s+ERROR/);
    expect(lines.slice(1, 5).map((l) => /(deny after 3 s|refuses all|missing|-)\s*$/.exec(l)?.[1])).toEqual([
      'deny after 3 s',
      'refuses all',
      'missing',
      '-',
    ]);
    expect(lines.slice(5)).toEqual([
      'lab-b: TIMEOUT is not 1-60 seconds: the hook refuses every start (billboard hosts install-hook lab-b writes them)',
    ]);
  });

  it('Hosts view: a HOOK column, and a details line', () => {
    const v = VIEWS.hosts;
    expect(hooked.map((h) => v.columns.find((c) => c.title === 'HOOK')!.get!(h))).toEqual([
      'deny after 3 s',
      'refuses all',
      'missing',
      '-',
    ]);
    const d = { now: NOW } as never;
    expect(v.detail(hooked[0], d)).toContain(
      `  admission hook: sha256 ${sha256.slice(0, 12)}, when billboard does not answer in 3 s it answers deny`,
    );
    expect(v.detail(hooked[2], d)).toContain('  admission hook: missing (libvirt asks nobody before a start)');
    expect(v.detail(hooked[3], d).join('\n')).not.toContain('admission hook');
  });
});
