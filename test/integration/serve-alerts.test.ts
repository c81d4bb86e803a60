// Issue 16's acceptance in a `billboard serve` run: libvirt test-driver hosts on which one identity runs twice, a real
// HTTP receiver on loopback and a real exec sink script, configured as alerts[] of the service. The clone reaches
// both with the right VM and hosts, once: a second scan sends nothing again.
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDriverXml } from '../../src/demo/lab-xml.js';
import { AlertReceiver } from '../support/alert-receiver.js';
import { requireDist } from './script-harness.js';
import { serveLab, sleep, until, type ServeLab } from './serve-harness.js';

const UUID = '0c1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b';
const receiver = new AlertReceiver();
let lab: ServeLab;
let execOut: string;

const dup = (p: Record<string, unknown>): boolean => (p.finding as { code?: string } | undefined)?.code === 'DUPLICATE_UUID';
const execEvents = (): Record<string, unknown>[] =>
  readdirSync(execOut)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(execOut, f), 'utf8')) as Record<string, unknown>);

beforeAll(async () => {
  requireDist();
  const url = await receiver.start();
  lab = await serveLab({ alice: 'operator' });
  execOut = join(lab.dir, 'exec-out');
  mkdirSync(execOut);
  const script = join(lab.dir, 'page-me.sh');
  // each event renamed into place whole: a test reading the folder never parses half a file
  writeFileSync(script, '#!/bin/sh\nf="$1/alert-$(date +%s%N)-$$"\ncat > "$f.part"\nmv "$f.part" "$f.json"\n');
  chmodSync(script, 0o755);
  const vm = { uuid: UUID, name: 'db-01', state: 'running' as const, macs: ['52:54:00:0c:1a:2b'], memoryKiB: 1048576, vcpus: 1 };
  const hosts = ['lab-a', 'lab-b'].map((name, i) => {
    const file = join(lab.dir, `${name}.xml`);
    writeFileSync(file, testDriverXml([vm], { subnet: `10.9.${i + 1}` }));
    return { name, driver: 'libvirt', uri: `test://${file}` };
  });
  lab.writeConfig({
    ...lab.config,
    hosts,
    scan: { intervalS: 3600, timeoutS: 10, concurrency: 2 },
    alerts: [
      { kind: 'webhook', url, windowS: 0.3 },
      { kind: 'exec', command: ['/bin/sh', script, execOut], windowS: 0.3 },
    ],
  });
  await lab.start();
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  await receiver.stop();
  lab?.cleanup();
});

describe('alerts from billboard serve', () => {
  it(
    'a VM running on two hosts reaches the webhook and the exec sink once, naming the VM and both hosts',
    { timeout: 60_000 },
    async () => {
      await until(() => receiver.received.some((r) => dup(r.json)) && execEvents().some(dup), 'the clone alert at both sinks', 30_000);
      for (const p of [receiver.received.find((r) => dup(r.json))!.json, execEvents().find(dup)!]) {
        const f = p.finding as { vm: string; hosts: string[] };
        expect(f.vm).toBe(UUID);
        expect(f.hosts).toEqual(['lab-a', 'lab-b']);
        expect(String(p.summary)).toMatch(/db-01/);
      }
      const r = await lab.ssh('alice', 'script --json', 'scan\nwait 1\n');
      expect(r.code, r.stderr).toBe(0);
      await sleep(1500); // past the sinks' window: anything held would have gone out
      expect(receiver.received.filter((x) => dup(x.json))).toHaveLength(1);
      expect(execEvents().filter(dup)).toHaveLength(1);
    },
  );

  it('SIGHUP with changed sinks says they apply on the next restart (the running sinks are kept)', { timeout: 30_000 }, async () => {
    const current = JSON.parse(readFileSync(lab.configPath, 'utf8')) as Record<string, any>;
    lab.writeConfig({ ...current, alerts: [{ kind: 'syslog', transport: 'stdout' }] });
    lab.serve!.kill('SIGHUP');
    await until(() => lab.log.some((l) => l.includes('alerts changed: applied on the next restart')), 'the reload to name the alerts');
  });
});
