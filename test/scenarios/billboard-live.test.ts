// The whole detection path with real parts: real billboard-beacon agent processes → a real BeaconListener
// over loopback UDP → the Engine; scans of real libvirt test-driver hosts (test:///…xml) through the real
// LibvirtDriver. Needs dist/ (npm test builds first): the agents run as `node bin/billboard-beacon.js`.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeaconListener } from '../../src/beacon/listener.js';
import { Engine } from '../../src/billboard/engine.js';
import { LibvirtDriver } from '../../src/hosts/libvirt/driver.js';
import { testDriverXml, type TestDomainSpec } from '../../src/demo/lab-xml.js';
import type { BeaconEvent, Finding, HostStatus } from '../../src/model/types.js';
import { FakeStore, approved } from '../helpers/fake-store.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/billboard-beacon.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'billboard-live-'));
const WEB = '7a000000-0000-4000-8000-00000000a001';
const WALKIN = '7a000000-0000-4000-8000-00000000a002';
const BOOT = '7a000000-0000-4000-8000-0000000000b1';
const CLONE_BOOT = '7a000000-0000-4000-8000-0000000000b2';
const dom = (uuid: string, name: string, mac: string): TestDomainSpec => ({
  uuid,
  name,
  state: 'running',
  macs: [mac],
  memoryKiB: 262144,
  vcpus: 1,
});

function hostFile(name: string, domains: TestDomainSpec[]): string {
  const f = path.join(tmp, `${name}.xml`);
  fs.writeFileSync(f, testDriverXml(domains));
  return `test://${f}`;
}
const status = (name: string): HostStatus => ({
  name,
  driver: 'libvirt',
  target: name,
  up: true,
  consecutiveFailures: 0,
  domains: 1,
  running: 1,
});

describe('live: real agents + real listener + test-driver scans → engine', () => {
  const store = new FakeStore();
  // SILENT after 6 s: nothing here tests it, and an agent starved on a loaded machine must not raise it
  const engine = new Engine({ store, beaconIntervalS: 0.3, missedBeforeSilent: 20, enforcement: 'ask' });
  const findings: Finding[] = [];
  engine.on('finding', (f: Finding) => findings.push(f));
  let listener: BeaconListener;
  let port = 0;
  const agents: ChildProcess[] = [];
  const drivers: LibvirtDriver[] = [];
  const pub: Record<string, string> = {};

  const keygen = (name: string): string => {
    const out = execFileSync(process.execPath, [BIN, 'keygen', '--out', path.join(tmp, name)], { encoding: 'utf8' });
    return /public key:\s+(\S+)/.exec(out)![1]!;
  };
  const agent = (key: string, uuid: string, name: string, bootId: string, ip: string): void => {
    const args = [
      '--to',
      `127.0.0.1:${port}`,
      '--key',
      path.join(tmp, key),
      '--uuid',
      uuid,
      '--name',
      name,
      '--boot-id',
      bootId,
      '--ip',
      ip,
      '--os',
      'test',
      '--interval',
      '0.3',
      '--count',
      '400',
      '--state',
      path.join(tmp, `${name}-${bootId}.seq`),
    ];
    agents.push(spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' }));
  };
  const scan = async (name: string, uri: string): Promise<void> => {
    const d = new LibvirtDriver({ name, driver: 'libvirt', uri });
    drivers.push(d);
    engine.ingestInventory({ host: name, at: Date.now(), durationMs: 0, domains: await d.inventory() });
  };
  const until = async (what: string, pred: () => boolean, ms = 15_000): Promise<void> => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end)
        throw new Error(`timed out waiting for ${what}; findings: ${JSON.stringify(engine.findings().map((f) => f.evidence))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist/agent/billboard-beacon.js'))) {
      throw new Error('dist/agent/billboard-beacon.js is missing: run `npm run build` (npm test builds first)');
    }
    pub.web = keygen('web.key');
    pub.walkin = keygen('walkin.key');
    store.regs.set(WEB, approved({ uuid: WEB, name: 'web', publicKey: pub.web }));
    engine.registryChanged();
    listener = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, workers: 1, keyLookup: (u) => engine.knownKey(u) });
    listener.on('beacon', (e: BeaconEvent) => engine.ingestBeacon(e));
    ({ port } = await listener.start());
    const tick = setInterval(() => engine.tick(), 200);
    tick.unref();
  });

  afterAll(async () => {
    for (const a of agents) a.kill('SIGTERM');
    for (const d of drivers) await d.close().catch(() => {});
    await listener?.stop();
    await engine.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a walk-in agent becomes one pending request with its key; approving clears UNREGISTERED', async () => {
    engine.hostStatuses([status('lab-a'), status('lab-b')]);
    await scan('lab-a', hostFile('lab-a', [dom(WEB, 'web', '52:54:00:7a:00:01'), dom(WALKIN, 'walk-in', '52:54:00:7a:00:02')]));
    await scan('lab-b', hostFile('lab-b', []));
    agent('web.key', WEB, 'web', BOOT, '192.0.2.10');
    agent('walkin.key', WALKIN, 'walk-in', BOOT, '192.0.2.11');
    await until('the walk-in beacon', () => engine.lastBeacon(WALKIN) !== undefined && engine.lastBeacon(WEB) !== undefined);
    await until('a pending request', () => store.registration(WALKIN)?.state === 'pending');
    expect(engine.findings().map((f) => `${f.code}:${f.vm}`)).toEqual([`UNREGISTERED:${WALKIN}`]);
    expect(store.entries.filter((e) => e.action === 'request' && e.target === WALKIN)).toHaveLength(1);
    // the scan saw it first, the beacon then added its key to the operator's binding
    expect(engine.bindingFor(WALKIN)).toMatchObject({ homeHost: 'lab-a', macs: ['52:54:00:7a:00:02'], publicKey: pub.walkin });

    await store.decide(WALKIN, 'approved', 'alice');
    await store.updateRegistration(WALKIN, engine.bindingFor(WALKIN), 'alice', 'bind');
    engine.registryChanged();
    expect(engine.findings()).toEqual([]);
    expect(engine.resolveVm('walk-in').status).toBe('ok');
    await until('beacons verified under the bound key', () => engine.lastBeacon(WALKIN)!.seq > 3);
    expect(engine.findings()).toEqual([]);
  });

  it('a clone of web (same key and uuid, other boot id) beaconing and running on a second host: DUPLICATE_UUID critical', async () => {
    const before = findings.length;
    agent('web.key', WEB, 'web', CLONE_BOOT, '192.0.2.99');
    await until('clone evidence from beacons', () => engine.findings().some((f) => f.code === 'DUPLICATE_UUID'));
    const fromBeacons = engine.findings().find((f) => f.code === 'DUPLICATE_UUID')!;
    expect(fromBeacons).toMatchObject({ severity: 'critical', vm: WEB });
    expect(fromBeacons.evidence).toMatch(/interleaving/);

    await scan('lab-b', hostFile('lab-b-clone', [dom(WEB, 'web', '52:54:00:7a:00:01')]));
    const dup = engine.findings().find((f) => f.code === 'DUPLICATE_UUID')!;
    expect(dup.hosts).toEqual(['lab-a', 'lab-b']);
    expect(dup.evidence).toContain('running on 2 hosts');
    expect(findings.slice(before).every((f) => f.code === 'DUPLICATE_UUID')).toBe(true);
    expect(engine.resolveVm('web').status).toBe('ghost');
  });
});
