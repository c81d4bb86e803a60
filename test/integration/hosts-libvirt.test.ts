import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HANG_AFTER_S } from '../../src/hosts/virsh/migrate-guard.js';
import { LibvirtDriver } from '../../src/hosts/libvirt/driver.js';
import { Scanner } from '../../src/hosts/scanner.js';
import type { HostConfig } from '../../src/model/config.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';

// The real libvirt test driver through the native binding: one connection per host, so state changes
// (suspend, destroy) are visible to the next scan on the same driver.

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
const DB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a002';

describe('libvirt driver on test:/// hosts', () => {
  const a = new LibvirtDriver({ name: 'lab-a', driver: 'libvirt', uri: fixtureUri('host-a') });
  afterAll(() => a.close());

  it('inventories every domain with UUIDs, states, MACs and IPs', async () => {
    const inv = await a.inventory();
    const byName = new Map(inv.map((d) => [d.name, d]));
    expect([...byName.keys()].sort()).toEqual(['db-1', 'old-1', 'web-1']);
    expect(byName.get('web-1')).toMatchObject({
      uuid: WEB1,
      state: 'running',
      macs: ['52:54:00:0a:00:01', '52:54:00:0a:00:02'],
      os: 'debian12',
      vcpus: 2,
      memoryKiB: 1048576,
    });
    expect(byName.get('web-1')!.ips.length).toBe(2);
    expect(byName.get('old-1')).toMatchObject({ state: 'shutoff', ips: [] });
    const node = await a.nodeInfo();
    expect(node).toMatchObject({ cpus: 8, memoryKiB: 16777216 });
  });

  it('scans one domain as the whole scan does, its saved definition read and the same as the one it runs', async () => {
    const whole = (await a.inventory()).find((d) => d.uuid === WEB1);
    const one = await a.scanDomain(WEB1);
    expect(one).toEqual(whole);
    expect(one).not.toHaveProperty('savedDefinitionHash');
    expect(await a.scanDomain('6f1c2b9e-0a11-4c3e-9a51-0000000000ff')).toBeNull();
    // a whole scan asked to read saved definitions reads them, and finds none waiting
    const asked = await a.scanAll({ savedDefinitions: true });
    expect(asked.savedRead).toBe(true);
    expect(asked.domains.find((d) => d.uuid === WEB1)).toEqual(whole);
  });

  it('suspend shows paused on the next scan, resume and stop too', async () => {
    await a.suspend(WEB1);
    expect((await a.inventory()).find((d) => d.uuid === WEB1)?.state).toBe('paused');
    await a.resume(WEB1);
    expect((await a.inventory()).find((d) => d.uuid === WEB1)?.state).toBe('running');
    await a.stop(DB1);
    expect((await a.inventory()).find((d) => d.uuid === DB1)?.state).toBe('shutoff');
  });

  it('refuses isolate on the test driver with a clear UNSUPPORTED error offering suspend/stop', async () => {
    await expect(a.isolate(WEB1)).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/^lab-a: .*cannot set interface link state.*suspend or stop/),
    });
  });

  it('reports unknown domains as NOT_FOUND and bad state changes as host errors', async () => {
    await expect(a.suspend('6f1c2b9e-0a11-4c3e-9a51-0000000000ff')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(a.resume('not-a-uuid')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(a.suspend('6f1c2b9e-0a11-4c3e-9a51-00000000a003')).rejects.toMatchObject({
      code: 'HOST_ERROR',
      message: expect.stringMatching(/^lab-a: /),
    });
  });

  it('has no migration job on the test driver: jobStats is a clear host error or null', async () => {
    const r = await a.jobs.jobStats(WEB1).then(
      (v) => ({ ok: true as const, v }),
      (e: { code: string }) => ({ ok: false as const, e }),
    );
    if (r.ok) expect(r.v).toBeNull();
    else expect(r.e.code).toMatch(/HOST_ERROR|UNSUPPORTED/);
  });

  it("migrate (through the local virsh): the test driver refuses with virsh's reason, or, when virsh 9.0 hangs on that, the guard kills it", async () => {
    const err = await a.jobs.migrate(WEB1, { transport: 'direct', destUri: 'test:///default' }).catch((e) => e);
    expect(err.message).toMatch(/^lab-a: virsh migrate failed(: .*not supported| at once, then hung)/);
  });

  it(`a local virsh migrate that hangs without a migration is killed after ${HANG_AFTER_S} s with a clear error`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bb-virsh-'));
    const fake = join(dir, 'virsh');
    writeFileSync(fake, '#!/bin/sh\ncase "$4" in migrate) exec sleep 63;; esac\nexec /usr/bin/virsh "$@"\n');
    chmodSync(fake, 0o755);
    const d = new LibvirtDriver({ name: 'lab-h', driver: 'libvirt', uri: fixtureUri('host-a') }, { virshPath: fake });
    try {
      const t0 = Date.now();
      const err = await d.jobs.migrate(WEB1, { transport: 'direct', destUri: 'test:///default' }).catch((e) => e);
      expect(err).toMatchObject({ code: 'HOST_ERROR', message: expect.stringMatching(/^lab-h: virsh migrate failed at once, then hung/) });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(HANG_AFTER_S * 1000);
      expect(Date.now() - t0).toBeLessThan(HANG_AFTER_S * 1000 + 20_000); // the guard, not the 6 h migrate timeout
      expect(spawnSync('pgrep', ['-f', '^sleep 63$']).status).toBe(1);
    } finally {
      await d.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a bad URI is a host-down error naming the host', async () => {
    const d = new LibvirtDriver({ name: 'lab-bad', driver: 'libvirt', uri: 'test:///nonexistent/host.xml' });
    await expect(d.inventory()).rejects.toMatchObject({ code: 'HOST_DOWN', message: expect.stringMatching(/^lab-bad: cannot connect/) });
  });
});

describe('scanner over libvirt hosts', () => {
  it('scans three hosts, reports statuses, and marks a broken one down without blocking the others', async () => {
    const hosts: HostConfig[] = [
      { name: 'lab-a', driver: 'libvirt', uri: fixtureUri('host-a') },
      { name: 'lab-b', driver: 'libvirt', uri: fixtureUri('host-b') },
      { name: 'lab-c', driver: 'libvirt', uri: fixtureUri('host-c') },
      { name: 'lab-gone', driver: 'libvirt', uri: 'test:///nonexistent/gone.xml' },
    ];
    const s = new Scanner({ hosts, timeoutMs: 10_000, concurrency: 2, intervalMs: 60_000, backoffBaseMs: 60_000 });
    const invs: string[] = [];
    const downs: string[] = [];
    s.on('inventory', (inv) => invs.push(inv.host));
    s.on('host-down', (h, msg) => downs.push(`${h}|${msg}`));
    try {
      const res = await s.scan();
      expect(res.map((r) => [r.host, r.ok])).toEqual([
        ['lab-a', true],
        ['lab-b', true],
        ['lab-c', true],
        ['lab-gone', false],
      ]);
      const b = res[1].inventory!;
      expect(b.domains.find((d) => d.name === 'app-1')?.state).toBe('paused');
      expect(b.domains.filter((d) => d.uuid === WEB1)).toHaveLength(1);
      expect(invs.sort()).toEqual(['lab-a', 'lab-b', 'lab-c']);
      expect(downs).toHaveLength(1);
      expect(downs[0]).toMatch(/^lab-gone\|lab-gone: /);
      const st = new Map(s.statuses().map((x) => [x.name, x]));
      expect(st.get('lab-a')).toMatchObject({ up: true, domains: 3, running: 2, target: fixtureUri('host-a') });
      expect(st.get('lab-gone')).toMatchObject({ up: false, consecutiveFailures: 1 });
      expect(st.get('lab-gone')!.nextRetryAt).toBeGreaterThan(Date.now());
      expect(() => s.driver('nope')).toThrow(/no host named "nope"/);
      await expect(s.scan(['nope'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // enforcement through the scanner's driver is seen by the next scan
      await s.driver('lab-b').suspend(WEB1);
      const again = await s.scan(['lab-b']);
      expect(again[0].inventory!.domains.find((d) => d.uuid === WEB1)?.state).toBe('paused');
    } finally {
      await s.stop();
    }
  });
});
