import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HostDomainEvent } from '../../src/hosts/events/host-events.js';
import { describeEvent, EventParser } from '../../src/hosts/events/parse.js';
import { Scanner } from '../../src/hosts/scanner.js';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import type { HostStatus, Inventory } from '../../src/model/types.js';
import { FIXTURE_DIR } from '../helpers/libvirt-fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { EventVirshHost } from '../support/event-virsh.js';

// Domain events over a real OpenSSH sshd, from a fake remote `virsh` in front of the real one
// (test/support/event-virsh.ts): the test driver on a copy of host-a.xml the test can edit, and `virsh event` a
// `tail -F` of recorded `virsh event` output the test appends. Scans are one-shot execs (session: false): each reads
// the XML file afresh, and each is one more run in the fake's log.

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
const DB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a002';
const EV_FIX = join(FIXTURE_DIR, 'events');
let sshd: Sshd;
let lab: EventVirshHost;
let scanner: Scanner | undefined;

const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

interface Seen {
  inventories: Inventory[];
  events: HostDomainEvent[];
  status: () => HostStatus;
}

async function startScanner(): Promise<Seen> {
  const s = new Scanner({
    hosts: [lab.config()],
    timeoutMs: 15_000,
    concurrency: 2,
    intervalMs: 60_000,
    createDriver: () => new SshDriver(lab.config(), { virshPath: lab.virsh, session: false }),
    eventOptions: { stream: { settleMs: 400, restartBaseMs: 300 } },
  });
  scanner = s;
  const seen: Seen = { inventories: [], events: [], status: () => s.statuses()[0]! };
  s.on('inventory', (inv: Inventory) => seen.inventories.push(inv));
  s.on('domain-event', (e: HostDomainEvent) => seen.events.push(e));
  s.start();
  await until(() => seen.status().events === 'on' && seen.inventories.length >= 2, 'the stream up and its resync');
  await settle(seen);
  return seen;
}

async function until(ok: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** no rescan pending: inventories stop arriving for a while */
async function settle(seen: Seen, quietMs = 800): Promise<void> {
  let n = -1;
  while (n !== seen.inventories.length) {
    n = seen.inventories.length;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

beforeAll(async () => {
  sshd = await startSshd();
});

afterAll(async () => {
  await sshd?.stop();
});

afterEach(async () => {
  await scanner?.stop();
  scanner = undefined;
});

describe('domain events over ssh', () => {
  beforeEach(() => {
    lab = new EventVirshHost(sshd, 'ev-host', readFileSync(join(FIXTURE_DIR, 'host-a.xml'), 'utf8'));
  });

  it('parses recorded virsh event output as it streams through the channel, blocks and all', async () => {
    const seen = await startScanner();
    const text = readFileSync(join(EV_FIX, 'recorded-test-driver.txt'), 'utf8') + readFileSync(join(EV_FIX, 'migration.txt'), 'utf8');
    const p = new EventParser();
    const expected = [...p.push(text), ...p.flush()].map(describeEvent);
    lab.emit(text);
    await until(() => seen.events.length >= expected.length, `${expected.length} events`);
    expect(seen.events.map((e) => describeEvent(e.event))).toEqual(expected);
    const done = seen.events.find((e) => e.event.kind === 'job-completed')!.event;
    expect(done).toMatchObject({ stats: { totalDowntimeMs: 37, dataProcessedBytes: 160432128, operation: 'Outgoing migration' } });
    expect(seen.status()).toMatchObject({ events: 'on', eventsReceived: expected.length, streamRestarts: 0, pollIntervalMs: 300_000 });
    expect(seen.status().lastEvent).toBe(expected.at(-1));
  });

  it('a stream killed mid-run is restarted with backoff and followed by a full resync; stop leaves nothing running', async () => {
    const seen = await startScanner();
    const first = lab.eventPid();
    const fullBefore = seen.inventories.filter((i) => !i.targeted).length;
    spawnSync('kill', ['-KILL', String(first)]);
    await until(() => seen.status().events === 'off', 'the stream down');
    expect(seen.status().pollIntervalMs).toBe(60_000); // the poll is the safety net again
    await until(() => seen.status().events === 'on' && seen.status().streamRestarts === 1, 'the stream back');
    await until(() => seen.inventories.filter((i) => !i.targeted).length > fullBefore, 'a full resync');
    const second = lab.eventPid();
    expect(second).not.toBe(first);
    lab.emit("event 'lifecycle' for domain 'web-1': Suspended Paused\n");
    await until(() => seen.events.length === 1, 'an event on the new stream');
    await scanner!.stop();
    scanner = undefined;
    await until(() => !alive(second), 'the remote virsh event gone after stop', 5000);
  });

  it('follows a rename: the new name resolves to the same UUID, rescanned alone', async () => {
    const seen = await startScanner();
    lab.xml = lab.xml.replace('<name>web-1</name>', '<name>web-renamed</name>');
    const before = seen.inventories.length;
    lab.emit("event 'lifecycle' for domain 'web-1': Undefined Renamed\nevent 'lifecycle' for domain 'web-renamed': Defined Renamed\n");
    await until(() => seen.inventories.length > before, 'the rescan');
    await settle(seen);
    const after = seen.inventories.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]!.targeted).toEqual([WEB1]);
    expect(after[0]!.domains.find((d) => d.uuid === WEB1)?.name).toBe('web-renamed');
    expect(seen.events.map((e) => e.uuid)).toEqual([WEB1, WEB1]);
    lab.emit("event 'lifecycle' for domain 'web-renamed': Suspended Paused\n");
    await until(() => seen.events.length === 3, 'the next event');
    expect(seen.events[2]!.uuid).toBe(WEB1);
    // the event's rescan can take longer than a quiet spell on a loaded machine: wait for it, then for quiet
    await until(() => seen.inventories.length - before >= 2, 'the second rescan');
    await settle(seen);
    expect(seen.inventories.slice(before).map((i) => i.targeted)).toEqual([[WEB1], [WEB1]]);
  });

  it('an event storm (200 lifecycle events in 1 s on one host) costs one rescan: one virsh run on the host', async () => {
    const seen = await startScanner();
    const before = seen.inventories.length;
    const runsBefore = lab.calls().length;
    for (let i = 0; i < 20; i++) {
      const batch = Array.from(
        { length: 10 },
        (_, j) => `event 'lifecycle' for domain 'db-1': ${(i + j) % 2 ? 'Suspended Paused' : 'Resumed Unpaused'}\n`,
      );
      lab.emit(batch.join(''));
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => seen.events.length === 200, '200 events');
    await settle(seen);
    expect(seen.inventories.length - before).toBe(1);
    expect(seen.inventories.at(-1)!.targeted).toEqual([DB1]);
    // what the host itself was asked: one virsh run (db-1's state, XML and addresses), no listing of the host
    const runs = lab.calls().slice(runsBefore);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(new RegExp(`domstate ${DB1} ;.*dumpxml ${DB1} ;.*domifaddr ${DB1}`));
  });
});
