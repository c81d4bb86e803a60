// A migration watched through its hosts' domain events (issue 17): libvirt's job-completed event is the final word on
// the guest's pause and the data moved (over the polled samples and over domjobinfo --completed), and its
// migration-iteration events count the passes between two samples. The events come from a fake feed, parsed from
// the recorded virsh event output by the real parser; the hosts and the engine are the migration tests' fakes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostDomainEvent } from '../../src/hosts/events/host-events.js';
import { EventParser, type DomainEvent } from '../../src/hosts/events/parse.js';
import type { DomainEventFeed, MigrationHosts } from '../../src/migration/hooks.js';
import { LibvirtExecutor } from '../../src/migration/libvirt-executor.js';
import { MigrationManager } from '../../src/migration/manager.js';
import type { MigrationEvent } from '../../src/model/types.js';
import { MiB, setup, UUID } from './migration-fakes.js';

const recorded = readFileSync(join(import.meta.dirname, '../fixtures/hosts/events/migration.txt'), 'utf8');
const parser = new EventParser();
const fixture = [...parser.push(recorded), ...parser.flush()];
const completed = fixture.find((e) => e.kind === 'job-completed')!;
const OTHER = '99999999-2222-4333-8444-555555555555';

/** every host's events, as the scanner's onDomainEvent hands them out */
class Feed {
  private readonly listeners = new Set<(e: HostDomainEvent) => void>();
  readonly feed: DomainEventFeed = (l) => {
    this.listeners.add(l);
    return () => void this.listeners.delete(l);
  };
  emit(host: string, uuid: string | undefined, event: DomainEvent): void {
    for (const l of [...this.listeners]) l(uuid ? { host, uuid, event } : { host, event });
  }
  get size(): number {
    return this.listeners.size;
  }
}

const managers: MigrationManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
});

/** the manager over the fakes, with an event feed; `flowing`: the hosts' streams are up */
function withEvents(s: ReturnType<typeof setup>, feed: Feed, o: { flowing: boolean; graceMs: number }) {
  const hosts: MigrationHosts = {
    ...s.hosts,
    domainEvents: feed.feed,
    status: (h) => {
      const st = s.hosts.status(h);
      return st && { ...st, events: o.flowing ? 'on' : 'off' };
    },
  };
  const m = new MigrationManager({
    store: s.store,
    engine: s.engine,
    hosts,
    migration: { transport: 'tunnelled', requireDifferentAuthorizer: false },
    executors: { libvirt: new LibvirtExecutor(hosts, undefined, { completedGraceMs: o.graceMs }) },
    sampleIntervalMs: 20,
    verifyTimeoutMs: 500,
    activationTimeoutMs: 500,
  });
  managers.push(m);
  return m;
}

const precopy = (iteration: number, remaining: number) => ({
  iteration,
  memoryProcessedBytes: (128 + iteration * 10) * MiB,
  memoryRemainingBytes: remaining * MiB,
  memoryTotalBytes: 128 * MiB,
  bandwidthBps: 32 * MiB,
  expectedDowntimeMs: 500,
  totalDowntimeMs: 999,
});

/** counts domjobinfo --completed on each host */
function countCompleted(s: ReturnType<typeof setup>): Map<string, number> {
  const n = new Map<string, number>();
  for (const [name, d] of s.drivers) {
    const orig = d.completedJobStats.bind(d);
    d.completedJobStats = () => {
      n.set(name, (n.get(name) ?? 0) + 1);
      return orig();
    };
  }
  return n;
}

async function run(m: MigrationManager, onEvent: (e: MigrationEvent) => void = () => undefined) {
  const req = await m.request('web', 'b', {}, 'alice');
  const evs: MigrationEvent[] = [];
  const watching = m.watch(req.id, (e) => {
    evs.push(e);
    onEvent(e);
  });
  await m.authorize(req.id, 'bob');
  return { job: await watching, evs };
}

describe('a migration watched through its domain events', () => {
  it("the source's job-completed event sets the final downtime and data moved, over the polled samples and domjobinfo --completed", async () => {
    const s = setup();
    const feed = new Feed();
    const a = s.drivers.get('a')!;
    a.script = { samples: [precopy(1, 100), precopy(2, 20)], durationMs: 100, downtimeMs: 42 };
    const migrate = a.migrate.bind(a);
    // libvirt emits job-completed as the job ends, before the migrate call returns
    a.migrate = async (...args) => {
      await migrate(...args);
      feed.emit('a', UUID, completed);
    };
    const calls = countCompleted(s);
    const { job, evs } = await run(withEvents(s, feed, { flowing: true, graceMs: 60_000 }));
    expect(job.state).toBe('completed');
    expect(job.lastStats).toMatchObject({
      type: 'completed',
      source: 'libvirt-event',
      totalDowntimeMs: 37,
      dataProcessedBytes: 160432128,
      memoryProcessedBytes: 160432128,
      elapsedMs: 4711,
      iteration: 7,
    });
    const progress = evs.filter((e) => e.type === 'progress');
    expect(progress.some((e) => e.stats.source === 'libvirt' && e.stats.totalDowntimeMs === 999)).toBe(true);
    expect(progress.at(-1)!.stats).toEqual(job.lastStats);
    expect(evs.at(-1)).toMatchObject({ type: 'end', state: 'completed', detail: expect.stringContaining('downtime 37 ms') });
    expect([...calls.values()]).toEqual([]); // no domjobinfo --completed: the event said it all
    expect(feed.size).toBe(0);
  });

  it('a job-completed event that comes after the migrate command returned still wins, while the streams flow', async () => {
    const s = setup();
    const feed = new Feed();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100)], durationMs: 60, downtimeMs: 42 };
    const m = withEvents(s, feed, { flowing: true, graceMs: 60_000 });
    const { job, evs } = await run(m, (e) => {
      if (e.type === 'stage' && e.stage === 'stop-and-copy') setImmediate(() => feed.emit('b', UUID, completed));
    });
    expect(job.lastStats).toMatchObject({ source: 'libvirt-event', totalDowntimeMs: 37 });
    expect(evs.at(-1)).toMatchObject({ type: 'end', state: 'completed', detail: expect.stringContaining('downtime 37 ms') });
  });

  it('events of another VM, of a host outside the job, a name no scan knows, or a failed job are not the final word', async () => {
    const s = setup();
    const feed = new Feed();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100)], durationMs: 60, downtimeMs: 42 };
    const failed: DomainEvent = { ...completed, stats: { ...completed.stats, type: 'failed', totalDowntimeMs: 1 } } as DomainEvent;
    const { job, evs } = await run(withEvents(s, feed, { flowing: true, graceMs: 50 }), (e) => {
      if (e.type !== 'stage' || e.stage !== 'stop-and-copy') return;
      feed.emit('a', OTHER, completed);
      feed.emit('c', UUID, completed);
      feed.emit('a', undefined, completed);
      feed.emit('a', UUID, failed);
    });
    expect(job.lastStats).toMatchObject({ source: 'libvirt', totalDowntimeMs: 42 });
    expect(evs.at(-1)).toMatchObject({ type: 'end', state: 'completed', detail: expect.stringContaining('downtime 42 ms') });
  });

  it('without an event, domjobinfo --completed gives the final stats; with no stream up nothing is waited for', async () => {
    const s = setup();
    const feed = new Feed();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100)], durationMs: 60, downtimeMs: 42 };
    const calls = countCompleted(s);
    // a grace longer than the test's timeout: only not waiting lets it finish
    const { job } = await run(withEvents(s, feed, { flowing: false, graceMs: 3_600_000 }));
    expect(job.lastStats).toMatchObject({ type: 'completed', source: 'libvirt', totalDowntimeMs: 42 });
    expect(calls.get('b')).toBe(1);
    expect(feed.size).toBe(0);
  });

  it("the source's migration-iteration events count the passes between samples, and no later sample shows fewer", async () => {
    const s = setup();
    const feed = new Feed();
    const iteration = (n: number): DomainEvent => ({ kind: 'migration-iteration', at: Date.now(), domain: 'web', iteration: n });
    s.drivers.get('a')!.script = {
      samples: [precopy(1, 100), precopy(1, 90), precopy(1, 80), precopy(1, 70), precopy(2, 60)],
      durationMs: 100,
    };
    let sent = false;
    const { evs } = await run(withEvents(s, feed, { flowing: false, graceMs: 0 }), (e) => {
      if (sent || e.type !== 'progress') return;
      sent = true;
      feed.emit('a', OTHER, iteration(9));
      feed.emit('b', UUID, iteration(8));
      feed.emit('a', UUID, iteration(5));
    });
    const passes = evs.flatMap((e) => (e.type === 'progress' && e.stats.type !== 'completed' ? [e.stats.iteration] : []));
    const at = passes.indexOf(5);
    expect(passes[0]).toBe(1);
    expect(at).toBeGreaterThan(0);
    expect(passes.slice(at + 1).length).toBeGreaterThan(0); // samples polled after the event…
    expect(passes.slice(at).every((n) => n === 5)).toBe(true); // …show its pass, not the polled 1 or 2
    expect(passes).not.toContain(8);
    expect(passes).not.toContain(9);
  });
});
