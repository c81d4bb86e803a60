import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventChannel } from '../../src/model/host-driver.js';
import { HostEvents, type RescanRequest } from '../../src/hosts/events/host-events.js';
import { DomainNames } from '../../src/hosts/events/names.js';
import { describeEvent, EventParser, MAX_EVENT_LINE, type DomainEvent } from '../../src/hosts/events/parse.js';
import { keepSavedDefinitions, mergeTargeted } from '../../src/hosts/events/targeted.js';
import type { DomainInfo, Inventory } from '../../src/model/types.js';

const FIX = join(import.meta.dirname, '../fixtures/hosts/events');
const recorded = readFileSync(join(FIX, 'recorded-test-driver.txt'), 'utf8');
const migration = readFileSync(join(FIX, 'migration.txt'), 'utf8');

function parseAll(text: string, chunk = text.length): DomainEvent[] {
  const p = new EventParser(() => 0);
  const out: DomainEvent[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk)));
  return [...out, ...p.flush()];
}

describe('virsh event parser', () => {
  it('reads the recorded test-driver stream: every lifecycle event, with virsh’s timestamps', () => {
    const ev = parseAll(recorded);
    expect(ev.map(describeEvent)).toEqual([
      'test Suspended Paused',
      'test Resumed Unpaused',
      'test Stopped Destroyed',
      'test Started Booted',
      'web-01 Defined Added',
      'web-01 Started Booted',
      'web-01 Stopped Destroyed',
      'web-01 Undefined Renamed',
      'web-02 Defined Renamed',
      'web-02 Undefined Removed',
      'test Stopped Saved',
      'test Started Booted',
      'web-01 Started Booted',
      'web-01 Stopped Destroyed',
    ]);
    expect(ev[0]!.at).toBe(Date.parse('2026-11-29T10:28:18.971Z'));
  });

  it('reads blocks, not lines: job-completed’s stats, tunable’s fields, whatever the chunking', () => {
    const whole = parseAll(migration);
    for (const chunk of [1, 3, 17, 64]) expect(parseAll(migration, chunk)).toEqual(whole);
    expect(whole.map((e) => e.kind)).toEqual([
      'lifecycle',
      'migration-iteration',
      'migration-iteration',
      'job-completed',
      'lifecycle',
      'lifecycle',
      'other',
      'other',
      'other',
      'lifecycle',
    ]);
    const done = whole[3]!;
    if (done.kind !== 'job-completed') throw new Error('not job-completed');
    expect(done.domain).toBe('db-01');
    expect(done.stats).toMatchObject({
      type: 'completed',
      operation: 'Outgoing migration',
      elapsedMs: 4711,
      totalDowntimeMs: 37,
      dataProcessedBytes: 160432128,
      dataRemainingBytes: 0,
      memoryTotalBytes: 139460608,
      bandwidthBps: 33554432,
      dirtyRateBps: 3500 * 4096,
      iteration: 7,
      source: 'libvirt-event',
    });
    expect(done.fields.memory_postcopy_requests).toBe('0');
    expect(whole[1]).toMatchObject({ kind: 'migration-iteration', domain: 'db-01', iteration: 2 });
    expect(whole[6]).toMatchObject({ kind: 'other', name: 'tunable', domain: 'web-01', fields: { 'cputune.vcpupin0': '0-1' } });
    expect(whole[8]).toMatchObject({ name: 'rtc-change', domain: 'web-01', text: '3600' });
    expect(whole[9]).toMatchObject({ kind: 'lifecycle', domain: "it's", event: 'Started', detail: 'Booted' });
  });

  it('holds a block open until the next line or a flush, and says so', () => {
    const p = new EventParser(() => 0);
    expect(p.push("event 'job-completed' for domain 'a':\n\tdowntime: 5\n")).toEqual([]);
    expect(p.waiting).toBe(true);
    const [e] = p.flush();
    expect(e).toMatchObject({ kind: 'job-completed', stats: { totalDowntimeMs: 5 } });
    expect(p.waiting).toBe(false);
  });

  it('drops an over-long line whole (bounded memory) and goes on with the next', () => {
    const p = new EventParser(() => 0);
    const long = `event 'lifecycle' for domain '${'x'.repeat(MAX_EVENT_LINE + 10)}': Started Booted`;
    const out = [
      ...p.push(long.slice(0, 9000)),
      ...p.push(long.slice(9000) + '\n'),
      ...p.push("event 'lifecycle' for domain 'b': Stopped Destroyed\n"),
    ];
    expect(out.map(describeEvent)).toEqual(['b Stopped Destroyed']);
  });

  it('skips what is not an event (virsh’s messages, garbage) and makes names safe to print', () => {
    const ev = parseAll(
      "error: Disconnected from test:///x due to end of file\nevent 'lifecycle' for domain 'a\u001b[31m': Crashed Panicked\n",
    );
    expect(ev).toHaveLength(1);
    expect(describeEvent(ev[0]!)).not.toContain('\u001b');
  });
});

describe('name → UUID map', () => {
  const life = (domain: string, event: string, detail: string, at = 0) => ({ kind: 'lifecycle', at, domain, event, detail }) as DomainEvent;
  it('follows Undefined Renamed then Defined Renamed; forgets a removed name', () => {
    const n = new DomainNames();
    n.replace([{ uuid: 'u1', name: 'web-01' }]);
    expect(n.follow(life('web-01', 'Undefined', 'Renamed'))).toBe('u1');
    expect(n.follow(life('web-02', 'Defined', 'Renamed'))).toBe('u1');
    expect(n.uuidOf('web-02')).toBe('u1');
    expect(n.uuidOf('web-01')).toBeUndefined();
    n.set('u1', undefined);
    expect(n.follow(life('web-02', 'Started', 'Booted'))).toBeUndefined();
  });
  it('a name a scan no longer shows resolves for 10 s for the events that trail a domain (job-completed), never for lifecycle', () => {
    let now = 1000;
    const n = new DomainNames(() => now);
    n.replace([{ uuid: 'u1', name: 'tiny' }]);
    n.replace([]); // the migration's source: gone before its job-completed event is read
    const completed = { kind: 'job-completed', at: 0, domain: 'tiny', fields: {}, stats: { at: 0, type: 'completed' } } as DomainEvent;
    expect(n.follow(completed)).toBe('u1');
    // a new domain under the old name is not the old one: its lifecycle events ask for a rescan
    expect(n.follow(life('tiny', 'Defined', 'Added'))).toBeUndefined();
    n.set('u2', 'other');
    n.set('u2', undefined);
    expect(n.follow({ ...completed, domain: 'other' })).toBe('u2');
    now += 10_001;
    expect(n.follow(completed)).toBeUndefined();
  });
  it('a Defined Renamed without its Undefined Renamed resolves only a known name', () => {
    const n = new DomainNames();
    n.replace([{ uuid: 'u1', name: 'a' }]);
    expect(n.follow(life('b', 'Defined', 'Renamed'))).toBeUndefined();
  });
});

function fakeChannel(): { ch: EventChannel; send(t: string): void; end(why: string): void } {
  let data: (t: string) => void = () => {};
  let ended: (w: string) => void = () => {};
  return {
    ch: { onData: (cb) => (data = cb), onEnd: (cb) => (ended = cb), close: () => ended('closed') },
    send: (t) => data(t),
    end: (w) => ended(w),
  };
}

/** a host's events over a fake channel, `web` known as u1, started: the rescans it asks for are kept in `asks` */
async function watched(o: { debounceMs: number; maxDelayMs?: number }) {
  const f = fakeChannel();
  const asks: RescanRequest[] = [];
  const ev = new HostEvents({
    host: 'h',
    open: async () => f.ch,
    rescan: async (r) => void asks.push(r),
    stream: { settleMs: 60_000 },
    ...o,
  });
  ev.names.replace([{ uuid: 'u1', name: 'web' }]);
  ev.start();
  await new Promise((r) => setTimeout(r, 10));
  return { f, asks, ev };
}

describe('rescans asked by events', () => {
  it('a storm of 200 lifecycle events on one domain costs one targeted rescan; an unknown name one full rescan', async () => {
    const { f, asks, ev } = await watched({ debounceMs: 30, maxDelayMs: 5000 });
    for (let i = 0; i < 200; i++) f.send(`event 'lifecycle' for domain 'web': ${i % 2 ? 'Suspended Paused' : 'Resumed Unpaused'}\n`);
    await new Promise((r) => setTimeout(r, 200));
    // the first event also marks the stream up, which asks for a full resync: gathered into the same rescan
    expect(asks).toHaveLength(1);
    expect(ev.stream.stats.received).toBe(200);
    f.send("event 'lifecycle' for domain 'web': Stopped Destroyed\n");
    await new Promise((r) => setTimeout(r, 100));
    expect(asks).toHaveLength(2);
    expect(asks[1]).toMatchObject({ full: false, targets: new Map([['u1', 'web']]) });
    f.send("event 'lifecycle' for domain 'ghost': Started Booted\n");
    await new Promise((r) => setTimeout(r, 100));
    expect(asks[2]).toMatchObject({ full: true });
    ev.stop();
  });
});

describe('a listener that throws', () => {
  it('costs no rescan: the rescan is asked for before listeners hear the event', async () => {
    const { f, asks, ev } = await watched({ debounceMs: 10 });
    f.send("event 'lifecycle' for domain 'web': Resumed Unpaused\n"); // the stream is up: its resync
    await new Promise((r) => setTimeout(r, 100));
    const before = asks.length;
    ev.on('domain-event', () => {
      throw new Error('a buggy consumer');
    });
    expect(() => f.send("event 'lifecycle' for domain 'web': Stopped Destroyed\n")).toThrow('a buggy consumer');
    await new Promise((r) => setTimeout(r, 100));
    expect(asks.slice(before)).toEqual([expect.objectContaining({ full: false, targets: new Map([['u1', 'web']]) })]);
    ev.stop();
  });
});

describe('a targeted rescan merged into the last inventory', () => {
  const dom = (uuid: string, name: string, state: DomainInfo['state'] = 'running') => ({ uuid, name, state }) as DomainInfo;
  const last: Inventory = { host: 'h', at: 1, durationMs: 5, domains: [dom('u1', 'a'), dom('u2', 'b')] };
  it('replaces or removes the targets and keeps the rest', () => {
    const inv = mergeTargeted(
      last,
      [
        { uuid: 'u1', name: 'a', info: dom('u1', 'a', 'paused') },
        { uuid: 'u2', name: 'b', info: null },
      ],
      90,
      100,
    );
    expect(inv?.domains).toEqual([dom('u1', 'a', 'paused')]);
    expect(inv).toMatchObject({ at: 100, durationMs: 10, targeted: ['u1', 'u2'] });
  });
  it('gives up (whole scan) when a domain answers to another name than its event gave', () => {
    expect(mergeTargeted(last, [{ uuid: 'u1', name: 'zz', info: dom('u1', 'a') }], 0)).toBeUndefined();
  });
});

describe('a saved definition a one-domain rescan found, across the whole scans that follow', () => {
  const dom = (uuid: string, state: DomainInfo['state'], def: string, saved?: string) =>
    ({ uuid, name: uuid, state, definitionHash: def, ...(saved ? { savedDefinitionHash: saved } : {}) }) as DomainInfo;
  const last: Inventory = { host: 'h', at: 1, durationMs: 5, domains: [dom('u1', 'running', 'd1', 's1'), dom('u2', 'running', 'd2')] };
  it('is kept while the domain runs the definition it ran then', () => {
    expect(keepSavedDefinitions(last, [dom('u1', 'paused', 'd1'), dom('u2', 'running', 'd2')], true)).toEqual([
      dom('u1', 'paused', 'd1', 's1'),
      dom('u2', 'running', 'd2'),
    ]);
  });
  it('where the scan read saved definitions, only one it could not read is kept (and in a targeted merge too)', () => {
    const unread = { ...dom('u1', 'running', 'd1'), savedDefinitionUnread: true as const };
    expect(keepSavedDefinitions(last, [dom('u1', 'running', 'd1')], false)).toEqual([dom('u1', 'running', 'd1')]);
    expect(keepSavedDefinitions(last, [unread], false)).toEqual([{ ...unread, savedDefinitionHash: 's1' }]);
    const merged = mergeTargeted(last, [{ uuid: 'u1', name: 'u1', info: unread }], 0);
    expect(merged?.domains.find((d) => d.uuid === 'u1')).toMatchObject({ savedDefinitionHash: 's1' });
  });
  it('goes when it stops (its scan then reads that definition) or runs another one (a restart applied it)', () => {
    expect(keepSavedDefinitions(last, [dom('u1', 'shutoff', 's1')], true)).toEqual([dom('u1', 'shutoff', 's1')]);
    expect(keepSavedDefinitions(last, [dom('u1', 'running', 's1')], true)).toEqual([dom('u1', 'running', 's1')]);
    expect(keepSavedDefinitions(undefined, [dom('u1', 'running', 'd1')], true)).toEqual([dom('u1', 'running', 'd1')]);
  });
});
