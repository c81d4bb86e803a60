// Issue 21.2, 21.3 and 21.9 on the migration manager: the transport policy at authorization, bounded and
// two-person `tune` audited after the host call, and activation on the destination only.
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationManager, type MigrationManagerOptions } from '../../src/migration/manager.js';
import { BillboardError } from '../../src/model/errors.js';
import { MiB, setup, UUID } from './migration-fakes.js';

const managers: MigrationManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.close();
});

function manager(s: ReturnType<typeof setup>, extra: Partial<MigrationManagerOptions> = {}) {
  const m = new MigrationManager({
    store: s.store,
    engine: s.engine,
    hosts: s.hosts,
    migration: { transport: 'tunnelled', requireDifferentAuthorizer: false },
    sampleIntervalMs: 20,
    verifyTimeoutMs: 400,
    activationTimeoutMs: 400,
    ...extra,
  });
  managers.push(m);
  return m;
}

const precopy = { iteration: 1, memoryProcessedBytes: 64 * MiB, memoryRemainingBytes: 64 * MiB, bandwidthBps: 32 * MiB };

/** a job of `web` from a to b, authorized and in pre-copy (the fake libvirt job runs for a minute) */
async function running(s: ReturnType<typeof setup>, m: MigrationManager, by = 'alice', authorizer = 'bob') {
  s.drivers.get('a')!.script = { samples: [precopy], durationMs: 60_000 };
  const req = await m.request('web', 'b', {}, by);
  await m.authorize(req.id, authorizer);
  await s.engine.waitFor(() => m.job(req.id).state === 'iterative-pre-copy', UUID, 3000);
  return req.id;
}

describe('authorize takes the transport from the policy in force (21.2)', () => {
  it('a request made under "direct" and authorized after a restart under "tls" runs TLS, and the audit says so', async () => {
    const s = setup();
    const before = manager(s, { migration: { transport: 'direct', requireDifferentAuthorizer: false } });
    const req = await before.request('web', 'b', {}, 'alice');
    expect(req.transport).toBe('direct');
    await before.close();
    const after = manager(s, { migration: { transport: 'tls', requireDifferentAuthorizer: false } });
    await after.ready;
    const job = await after.authorize(req.id, 'bob');
    expect(job.transport).toBe('tls');
    expect(job.checks.find((c) => c.name === 'transport')?.detail).toMatch(/TLS/);
    await after.watch(req.id, () => {});
    const migrates = s.drivers.get('a')!.calls.filter((c) => c.startsWith('migrate '));
    expect(migrates).toEqual(['migrate tls - qemu+ssh://root@b:22/system']);
    const entry = s.store.log.find((e) => e.action === 'migrate-authorize')!;
    expect(entry.details).toMatchObject({
      transport: 'tls',
      destUri: 'qemu+ssh://root@b:22/system',
      requestedTransport: 'direct',
      encrypted: true,
    });
  });
});

describe('tune (21.3)', () => {
  it('refuses values outside whole numbers within QEMU/libvirt limits before any host call', async () => {
    const s = setup();
    const m = manager(s);
    const id = await running(s, m);
    for (const t of [
      { bandwidthMiBs: 1e300 },
      { bandwidthMiBs: 1.5 },
      { bandwidthMiBs: 8796093022208 },
      { maxDowntimeMs: 1e12 },
      { maxDowntimeMs: 0 },
      { maxDowntimeMs: NaN },
    ]) {
      await expect(m.tune(id, t, 'bob'), JSON.stringify(t)).rejects.toMatchObject({ code: 'USAGE' });
    }
    expect(s.drivers.get('a')!.calls.filter((c) => c.startsWith('set'))).toEqual([]);
    expect(s.store.log.map((e) => e.action)).not.toContain('migrate-tune');
  });

  it('raising max downtime needs another operator than the requester under the two-person rule', async () => {
    const s = setup();
    const m = manager(s, { migration: { transport: 'tunnelled', requireDifferentAuthorizer: true, maxDowntimeMs: 300 } });
    const id = await running(s, m, 'alice', 'bob');
    await expect(m.tune(id, { maxDowntimeMs: 5000 }, 'alice')).rejects.toMatchObject({
      code: 'REFUSED',
      message: expect.stringMatching(/another operator/),
    });
    expect(s.drivers.get('a')!.calls).not.toContain('setMaxDowntime 5000');
    expect(s.store.log.at(-1)).toMatchObject({ action: 'migrate-tune-refused', actor: 'alice' });
    // lowering it, or the bandwidth, is the requester's to do; raising it is the second operator's
    expect((await m.tune(id, { maxDowntimeMs: 200, bandwidthMiBs: 64 }, 'alice')).maxDowntimeMs).toBe(200);
    expect((await m.tune(id, { maxDowntimeMs: 5000 }, 'bob')).maxDowntimeMs).toBe(5000);
    expect(s.drivers.get('a')!.calls).toEqual(expect.arrayContaining(['setMaxDowntime 200', 'setBandwidth 64', 'setMaxDowntime 5000']));
  });

  it('audits the outcome after the host call: a refused call is audited as failed, never as tuned', async () => {
    const s = setup();
    const m = manager(s);
    const id = await running(s, m);
    const d = s.drivers.get('a')!;
    d.setMaxDowntime = async () => {
      throw new BillboardError('HOST_ERROR', 'a: invalid argument: downtime out of range');
    };
    await expect(m.tune(id, { bandwidthMiBs: 64, maxDowntimeMs: 900 }, 'bob')).rejects.toMatchObject({ code: 'HOST_ERROR' });
    const tunes = s.store.log.filter((e) => e.action.startsWith('migrate-tune'));
    expect(tunes.map((e) => e.action)).toEqual(['migrate-tune-failed']);
    expect(tunes[0]!.details).toMatchObject({
      applied: { bandwidthMiBs: 64 },
      requested: { bandwidthMiBs: 64, maxDowntimeMs: 900 },
      error: expect.stringMatching(/out of range/),
    });
    expect(m.job(id).bandwidthMiBs).toBe(64);
    expect(m.job(id).maxDowntimeMs).not.toBe(900);
    d.setMaxDowntime = async () => {};
    await m.tune(id, { maxDowntimeMs: 900 }, 'bob');
    expect(s.store.log.at(-1)).toMatchObject({ action: 'migrate-tune', details: { job: id, maxDowntimeMs: 900 } });
  });
});

describe('activation: the destination only, and a beacon from its instance (21.9)', () => {
  it('a copy on a third host after commitment fails the job instead of completing it', async () => {
    const s = setup();
    const m = manager(s);
    const d = s.drivers.get('a')!;
    const real = d.migrate.bind(d);
    d.migrate = async (u, o, sig) => {
      await real(u, o, sig);
      s.world.running.get('c')!.add(UUID);
    };
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'bob');
    const job = await m.watch(req.id, () => {});
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/also runs on c/);
    expect(s.store.regs.get(UUID)!.homeHost).toBeUndefined();
  });

  it('a keyed VM activates only on a beacon from an address of its instance on the destination', async () => {
    for (const [from, want, claims] of [
      ['10.0.0.66', 'failed', []],
      ['10.0.0.7', 'completed', []],
      ['192.168.122.1', 'completed', ['10.0.0.7']],
    ] as const) {
      const s = setup();
      s.store.regs.get(UUID)!.keyFp = 'SHA256:k';
      s.world.ips.set('b', ['10.0.0.7']);
      s.world.beacon = { at: Date.now(), from: '10.0.0.5', bootId: 'boot-1', seq: 10, ips: [], macs: [], os: 'linux', keyFp: 'SHA256:k' };
      const m = manager(s);
      const req = await m.request('web', 'b', {}, 'alice');
      await m.authorize(req.id, 'bob');
      await s.engine.waitFor(() => m.job(req.id).state === 'activation', UUID, 3000);
      s.world.beacon = { ...s.world.beacon!, from, ips: [...claims], seq: 11, at: Date.now() };
      const job = await m.watch(req.id, () => {});
      expect(job.state, `${from}: ${job.error}`).toBe(want);
      if (want === 'failed') expect(job.error).toMatch(/came from 10\.0\.0\.66, not from the instance on b/);
      else if (!claims.length) expect(job.result).toMatch(/from 10\.0\.0\.7, an address of the instance on b/);
      else expect(job.result).toMatch(/NAT\), claiming 10\.0\.0\.7 of the instance on b/); // behind NAT: the signed beacon names it
    }
  });
});
