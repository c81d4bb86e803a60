// `--read-only` acts on nothing (issue 13.9): no writer lock, no store writes, enforcement forced to 'ask' — while
// scans still run. Real processes of bin/billboard.js on one store: a writer holds it, a read-only session runs
// beside it against libvirt test-driver hosts where web-1 (unregistered) runs twice, a critical finding that
// `policy.enforcement: "stop"` acts on in a writing session.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { requireDist, runBillboard, sha256File, spawnBillboard, tempLab, type TempLab } from './script-harness.js';

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
const labs: TempLab[] = [];
beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

function configs(l: TempLab) {
  const store = { path: l.storePath };
  const hosts = [
    { name: 'lab-a', driver: 'libvirt', uri: fixtureUri('host-a') },
    { name: 'lab-b', driver: 'libvirt', uri: fixtureUri('host-b') },
  ];
  const enforcing = join(l.dir, 'enforcing.json');
  writeFileSync(enforcing, JSON.stringify({ store, beacon: { listen: '127.0.0.1:0' }, hosts, policy: { enforcement: 'stop' } }));
  const quiet = join(l.dir, 'quiet.json');
  writeFileSync(quiet, JSON.stringify({ store, beacon: { listen: '127.0.0.1:0' } }));
  return { enforcing, quiet };
}

const READ = 'wait 4\nfindings\nscan\naudit\n';

describe('script --read-only', () => {
  it('control: a writing session with enforcement "stop" stops the duplicated unregistered VM', { timeout: 90_000 }, async () => {
    const l = tempLab();
    labs.push(l);
    const { enforcing } = configs(l);
    const r = await runBillboard(['script', '--json', '--config', enforcing], l.env, READ);
    const [, , , audit] = r.json();
    expect(audit!.data.map((e: { actor: string; action: string }) => `${e.actor} ${e.action}`)).toContain('policy stop-requested');
  });

  it('runs beside a writer that holds the store, scans, and never enforces nor writes', { timeout: 90_000 }, async () => {
    const l = tempLab();
    labs.push(l);
    const { enforcing, quiet } = configs(l);
    expect((await runBillboard(['script', '--json', '--config', quiet], l.env, 'audit verify\n')).code).toBe(0);

    const writer = spawnBillboard(['script', '--json', '--config', quiet], l.env);
    const writerUp = new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
    writer.stdin!.write('pending\n');
    await writerUp; // it holds the lock now
    const before = sha256File(l.storePath);

    const r = await runBillboard(['script', '--json', '--read-only', '--config', enforcing], l.env, READ);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [, findings, scan, audit] = r.json();
    expect(
      findings!.data.some(
        (f: { code: string; vm: string; severity: string }) => f.code === 'DUPLICATE_UUID' && f.vm === WEB1 && f.severity === 'critical',
      ),
    ).toBe(true);
    for (const host of scan!.data) expect(host.domains.find((d: { uuid: string }) => d.uuid === WEB1)?.state, host.host).toBe('running');
    expect(audit!.data.filter((e: { actor: string }) => e.actor === 'policy')).toEqual([]);
    expect(readFileSync(join(l.dir, 'state', 'billboard', 'billboard.log'), 'utf8')).not.toMatch(/enforcement (applied|failed)/);
    expect(sha256File(l.storePath)).toBe(before);

    writer.stdin!.end();
    expect(await new Promise((resolve) => writer.on('close', resolve))).toBe(0);
  });

  it('refuses to create a missing store (exit 2, nothing created)', { timeout: 60_000 }, async () => {
    const l = tempLab();
    labs.push(l);
    const r = await runBillboard(['script', '--json', '--read-only'], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no store at .*billboard init/);
    expect(() => sha256File(l.storePath)).toThrow();
  });
});
