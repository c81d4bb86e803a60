import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HostDomainEvent } from '../../src/hosts/events/host-events.js';
import { describeEvent, EventParser } from '../../src/hosts/events/parse.js';
import { Scanner } from '../../src/hosts/scanner.js';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import type { SshHostConfig } from '../../src/model/config.js';
import type { HostStatus, Inventory } from '../../src/model/types.js';
import { FIXTURE_DIR } from '../helpers/libvirt-fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

// Domain events over a real OpenSSH sshd. The remote `virsh` is a fake in front of the real one: a host URI
// (qemu:///events) becomes the test driver on a copy of host-a.xml the test can edit, and `virsh … event` becomes a
// `tail -F` of a file the test appends recorded `virsh event` output to (the test driver keeps its own events
// inside one process, so a real stream would never see another process's changes). Scans are one-shot execs
// (session: false): each reads the XML file afresh.

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
const EV_FIX = join(FIXTURE_DIR, 'events');
let sshd: Sshd;
let dir: string;
let scanner: Scanner | undefined;

const eventsLog = () => join(dir, 'events.log');
const eventPid = () => Number(readFileSync(join(dir, 'event.pid'), 'utf8').trim());
const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;

function fakeVirsh(): string {
  const file = join(dir, 'virsh');
  writeFileSync(
    file,
    `#!/bin/sh
n=$#
for a in "$@"; do
  [ "$a" = "qemu:///events" ] && a="test://${dir}/host.xml"
  set -- "$@" "$a"
done
shift $n
case " $* " in *" event --all --loop "*) echo $$ > ${dir}/event.pid; exec tail -n 0 -F ${dir}/events.log;; esac
exec /usr/bin/virsh "$@"
`,
  );
  chmodSync(file, 0o755);
  return file;
}

function host(): SshHostConfig {
  return {
    name: 'ev-host',
    driver: 'ssh',
    address: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    libvirtUri: 'qemu:///events',
  };
}

interface Seen {
  inventories: Inventory[];
  events: HostDomainEvent[];
  status: () => HostStatus;
}

async function startScanner(): Promise<Seen> {
  const virshPath = fakeVirsh();
  const s = new Scanner({
    hosts: [host()],
    timeoutMs: 15_000,
    concurrency: 2,
    intervalMs: 60_000,
    createDriver: (h) => new SshDriver(h as SshHostConfig, { virshPath, session: false }),
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
  rmSync(dir, { recursive: true, force: true });
});

describe('domain events over ssh', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(sshd.dir, 'events-'));
    chmodSync(dir, 0o755);
    copyFileSync(join(FIXTURE_DIR, 'host-a.xml'), join(dir, 'host.xml'));
    writeFileSync(eventsLog(), '');
  });

  it('parses recorded virsh event output as it streams through the channel, blocks and all', async () => {
    const seen = await startScanner();
    const text = readFileSync(join(EV_FIX, 'recorded-test-driver.txt'), 'utf8') + readFileSync(join(EV_FIX, 'migration.txt'), 'utf8');
    const p = new EventParser();
    const expected = [...p.push(text), ...p.flush()].map(describeEvent);
    appendFileSync(eventsLog(), text);
    await until(() => seen.events.length >= expected.length, `${expected.length} events`);
    expect(seen.events.map((e) => describeEvent(e.event))).toEqual(expected);
    const done = seen.events.find((e) => e.event.kind === 'job-completed')!.event;
    expect(done).toMatchObject({ stats: { totalDowntimeMs: 37, dataProcessedBytes: 160432128, operation: 'Outgoing migration' } });
    expect(seen.status()).toMatchObject({ events: 'on', eventsReceived: expected.length, streamRestarts: 0, pollIntervalMs: 300_000 });
    expect(seen.status().lastEvent).toBe(expected.at(-1));
  });

  it('a stream killed mid-run is restarted with backoff and followed by a full resync; stop leaves nothing running', async () => {
    const seen = await startScanner();
    const first = eventPid();
    const fullBefore = seen.inventories.filter((i) => !i.targeted).length;
    spawnSync('kill', ['-KILL', String(first)]);
    await until(() => seen.status().events === 'off', 'the stream down');
    expect(seen.status().pollIntervalMs).toBe(60_000); // the poll is the safety net again
    await until(() => seen.status().events === 'on' && seen.status().streamRestarts === 1, 'the stream back');
    await until(() => seen.inventories.filter((i) => !i.targeted).length > fullBefore, 'a full resync');
    const second = eventPid();
    expect(second).not.toBe(first);
    appendFileSync(eventsLog(), "event 'lifecycle' for domain 'web-1': Suspended Paused\n");
    await until(() => seen.events.length === 1, 'an event on the new stream');
    await scanner!.stop();
    scanner = undefined;
    await until(() => !alive(second), 'the remote virsh event gone after stop', 5000);
  });

  it('follows a rename: the new name resolves to the same UUID, rescanned alone', async () => {
    const seen = await startScanner();
    const xml = readFileSync(join(dir, 'host.xml'), 'utf8');
    writeFileSync(join(dir, 'host.xml'), xml.replace('<name>web-1</name>', '<name>web-renamed</name>'));
    const before = seen.inventories.length;
    appendFileSync(
      eventsLog(),
      "event 'lifecycle' for domain 'web-1': Undefined Renamed\nevent 'lifecycle' for domain 'web-renamed': Defined Renamed\n",
    );
    await until(() => seen.inventories.length > before, 'the rescan');
    await settle(seen);
    const after = seen.inventories.slice(before);
    expect(after).toHaveLength(1);
    expect(after[0]!.targeted).toEqual([WEB1]);
    expect(after[0]!.domains.find((d) => d.uuid === WEB1)?.name).toBe('web-renamed');
    expect(seen.events.map((e) => e.uuid)).toEqual([WEB1, WEB1]);
    appendFileSync(eventsLog(), "event 'lifecycle' for domain 'web-renamed': Suspended Paused\n");
    await until(() => seen.events.length === 3, 'the next event');
    expect(seen.events[2]!.uuid).toBe(WEB1);
    // the event's rescan can take longer than a quiet spell on a loaded machine: wait for it, then for quiet
    await until(() => seen.inventories.length - before >= 2, 'the second rescan');
    await settle(seen);
    expect(seen.inventories.slice(before).map((i) => i.targeted)).toEqual([[WEB1], [WEB1]]);
  });

  it('an event storm (200 lifecycle events in 1 s on one host) costs one rescan', async () => {
    const seen = await startScanner();
    const before = seen.inventories.length;
    for (let i = 0; i < 20; i++) {
      const batch = Array.from(
        { length: 10 },
        (_, j) => `event 'lifecycle' for domain 'db-1': ${(i + j) % 2 ? 'Suspended Paused' : 'Resumed Unpaused'}\n`,
      );
      appendFileSync(eventsLog(), batch.join(''));
      await new Promise((r) => setTimeout(r, 50));
    }
    await until(() => seen.events.length === 200, '200 events');
    await settle(seen);
    expect(seen.inventories.length - before).toBe(1);
    expect(seen.inventories.at(-1)!.targeted).toEqual(['6f1c2b9e-0a11-4c3e-9a51-00000000a002']);
  });
});
