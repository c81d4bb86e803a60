import { afterEach, describe, expect, it } from 'vitest';
import { MigrationManager, type MigrationManagerOptions } from '../../src/migration/manager.js';
import type { MigrationEvent, MigrationJob } from '../../src/model/types.js';
import { SimulatedExecutor } from '../../src/migration/simulated-executor.js';
import type { HostConfig } from '../../src/model/config.js';
import { fakeHosts, MiB, setup, UUID } from './migration-fakes.js';

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
    verifyTimeoutMs: 500,
    activationTimeoutMs: 500,
    ...extra,
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
  dirtyRateBps: iteration > 1 ? 10 * MiB : undefined,
  expectedDowntimeMs: remaining * 30,
});

async function watchAll(m: MigrationManager, ref: string) {
  const evs: MigrationEvent[] = [];
  const job = await m.watch(ref, (e) => evs.push(e));
  return { job, evs, stages: evs.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage) };
}

describe('MigrationManager stage machine', () => {
  it('requests, authorizes and walks every stage in order to completed, auditing each decision', async () => {
    const s = setup();
    s.drivers.get('a')!.script = { samples: [{}, precopy(1, 100), precopy(1, 20), precopy(2, 40), precopy(3, 5)], durationMs: 200 };
    const m = manager(s, { migration: { transport: 'tunnelled', requireDifferentAuthorizer: false, maxDowntimeMs: 100 } });
    const req = await m.request('web', 'b', { bandwidthMiBs: 32 }, 'alice');
    expect(req.state).toBe('awaiting-authorization');
    expect(req.checks.every((c) => c.ok)).toBe(true);
    expect(m.job('web').id).toBe(req.id);
    await m.authorize(req.id, 'bob');
    const { job, evs, stages } = await watchAll(m, req.id);
    expect(stages).toEqual(['pre-migration', 'reservation', 'iterative-pre-copy', 'stop-and-copy', 'commitment', 'activation']);
    expect(job.state).toBe('completed');
    expect(job.result).toMatch(/agentless/);
    expect(job.lastStats?.totalDowntimeMs).toBe(42);
    expect(evs.at(-1)).toMatchObject({ type: 'end', state: 'completed' });
    const progress = evs.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(s.drivers.get('a')!.calls).toContain('migrate tunnelled 32 qemu+ssh://root@b:22/system');
    expect(s.drivers.get('a')!.calls).toContain('setMaxDowntime 100');
    expect(s.engine.calls).toEqual([`begin ${req.id}`, `commit ${req.id}`, `end ${req.id} completed`]);
    expect(s.store.log.map((e) => e.action)).toEqual(['migrate-request', 'migrate-authorize', 'migrate-home', 'migrate-completed']);
    expect(s.store.regs.get(UUID)!.homeHost).toBe('b');
    expect(s.store.jobList.find((j) => j.id === req.id)?.state).toBe('completed');
  });

  it('streams live samples whose progress may go backwards when a new pass starts', async () => {
    const s = setup();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100), precopy(1, 10), precopy(2, 60), precopy(2, 8)], durationMs: 250 };
    const m = manager(s);
    const req = await m.request('web', 'b', {}, 'alice');
    const evs: MigrationEvent[] = [];
    const watching = m.watch(req.id, (e) => evs.push(e));
    await m.authorize(req.id, 'alice');
    await watching;
    const remaining = evs.flatMap((e) =>
      e.type === 'progress' && e.stats.memoryRemainingBytes !== undefined && e.stats.type !== 'completed'
        ? [e.stats.memoryRemainingBytes]
        : [],
    );
    expect(remaining.some((r, i) => i > 0 && r > remaining[i - 1])).toBe(true);
  });

  it('refuses with the failing checks listed, and audits the refusal', async () => {
    const s = setup();
    s.engine.registration = 'pending';
    s.store.regs.get(UUID)!.state = 'pending';
    const m = manager(s);
    await expect(m.request('web', 'a', {}, 'alice')).rejects.toMatchObject({
      code: 'REFUSED',
      message: expect.stringMatching(/registration is pending.*a is the source/),
    });
    expect(s.store.log.at(-1)?.action).toBe('migrate-refused');
    expect(m.jobs()).toHaveLength(0);
  });

  it('enforces the two-person rule', async () => {
    const s = setup();
    const m = manager(s, { migration: { transport: 'tunnelled', requireDifferentAuthorizer: true } });
    const req = await m.request('web', 'b', {}, 'alice');
    await expect(m.authorize(req.id, 'alice')).rejects.toMatchObject({ code: 'REFUSED' });
    expect(m.job(req.id).state).toBe('awaiting-authorization');
    await m.authorize(req.id, 'bob');
    expect((await m.watch(req.id, () => {})).state).toBe('completed');
  });

  it('deny ends a pending job; a second request for the same VM is a conflict while one is pending', async () => {
    const s = setup();
    const m = manager(s);
    const req = await m.request('web', 'b', {}, 'alice');
    await expect(m.request('web', 'c', {}, 'alice')).rejects.toMatchObject({ code: 'CONFLICT' });
    const denied = await m.deny('web', 'bob', 'change freeze');
    expect(denied.state).toBe('denied');
    expect(denied.error).toMatch(/change freeze/);
    expect(s.engine.calls).toEqual([]);
    await expect(m.authorize(req.id, 'bob')).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('abort runs domjobabort and the VM keeps running on the source', async () => {
    const s = setup();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100), precopy(2, 90), precopy(3, 95)], durationMs: 60_000 };
    const m = manager(s);
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'alice');
    await s.engine.waitFor(() => m.job(req.id).state === 'iterative-pre-copy', UUID, 2000);
    const job = await m.abort(req.id, 'bob');
    expect(job.state).toBe('aborted');
    expect(job.error).toMatch(/keeps running on a/);
    expect(s.drivers.get('a')!.calls).toContain('abortJob');
    expect(s.world.running.get('a')!.has(UUID)).toBe(true);
    expect(s.engine.calls.at(-1)).toBe(`end ${req.id} aborted`);
  });

  it('a libvirt failure fails the job with the reason and where the VM is', async () => {
    const s = setup();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100)], durationMs: 60, fail: 'internal error: unable to execute QEMU command' };
    const m = manager(s);
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'alice');
    const job = await m.watch(req.id, () => {});
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/unable to execute QEMU command/);
    expect(s.engine.calls.at(-1)).toBe(`end ${req.id} failed`);
  });

  it('a keyed VM activates only on a beacon with the same boot id and a higher seq', async () => {
    const s = setup();
    s.store.regs.get(UUID)!.keyFp = 'SHA256:k';
    s.world.beacon = { at: Date.now(), from: '10.0.0.5', bootId: 'boot-1', seq: 10, ips: [], macs: [], os: 'linux', keyFp: 'SHA256:k' };
    const m = manager(s, { activationTimeoutMs: 2000 });
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'alice');
    await s.engine.waitFor(() => m.job(req.id).state === 'activation', UUID, 2000);
    expect(m.job(req.id).state).toBe('activation');
    s.world.beacon = { ...s.world.beacon!, seq: 11, at: Date.now() };
    const job = await m.watch(req.id, () => {});
    expect(job.state).toBe('completed');
    expect(job.result).toMatch(/same key and boot id, seq 10 → 11/);
  });

  it('a keyed VM that comes back with another boot id fails activation', async () => {
    const s = setup();
    s.store.regs.get(UUID)!.keyFp = 'SHA256:k';
    s.world.beacon = { at: Date.now(), from: '10.0.0.5', bootId: 'boot-1', seq: 10, ips: [], macs: [], os: 'linux', keyFp: 'SHA256:k' };
    const m = manager(s, { activationTimeoutMs: 2000 });
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'alice');
    await s.engine.waitFor(() => m.job(req.id).state === 'activation', UUID, 2000);
    s.world.beacon = { ...s.world.beacon!, bootId: 'boot-2', seq: 1, at: Date.now() };
    const job = await m.watch(req.id, () => {});
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/boot id changed/);
  });

  it('fails commitment when the source still runs the VM (ghost)', async () => {
    const s = setup();
    const m = manager(s);
    const d = s.drivers.get('a')!;
    const real = d.migrate.bind(d);
    d.migrate = async (u, o, sig) => {
      await real(u, o, sig);
      s.world.running.get('a')!.add(UUID); // libvirt said done, but the source still runs it
    };
    const req = await m.request('web', 'b', {}, 'alice');
    await m.authorize(req.id, 'alice');
    const job = await m.watch(req.id, () => {});
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/still runs web after commitment/);
    expect(job.stages.map((x) => x.stage)).toContain('commitment');
  });

  it('a job between test-driver hosts runs on the simulated executor: the same stages from the pre-copy model, the VM moved through its hook', async () => {
    const s = setup();
    const moves: string[] = [];
    const testHosts = s.world.hosts.map((name) => ({ name, driver: 'libvirt', uri: `test:///${name}.xml` }) as HostConfig);
    const move = async (uuid: string, from: string, to: string) => {
      moves.push(`${from}->${to}`);
      s.world.move(uuid, from, to);
    };
    const m = manager(s, { hosts: fakeHosts(s.world, s.drivers, testHosts), executors: { simulated: new SimulatedExecutor({ move }) } });
    const req = await m.request('web', 'b', { bandwidthMiBs: 256 }, 'alice');
    expect(req.simulated).toBe(true);
    await m.authorize(req.id, 'alice');
    const { job, evs, stages } = await watchAll(m, req.id);
    expect(stages).toEqual(['pre-migration', 'reservation', 'iterative-pre-copy', 'stop-and-copy', 'commitment', 'activation']);
    expect(job.state).toBe('completed');
    expect(moves).toEqual(['a->b']);
    const samples = evs.filter((e) => e.type === 'progress');
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.every((e) => e.type === 'progress' && e.stats.source === 'simulated')).toBe(true);
    expect(job.lastStats?.totalDowntimeMs).toBeGreaterThan(0);
  });

  it('closes honestly, after a restart, a job that was running: it looks where the VM is', async () => {
    const s = setup();
    const stale: MigrationJob = {
      id: 'M-7',
      vm: UUID,
      vmName: 'web',
      source: 'a',
      destination: 'b',
      state: 'iterative-pre-copy',
      requestedBy: 'alice',
      requestedAt: 1,
      authorizedAt: 2,
      transport: 'tunnelled',
      checks: [],
      stages: [{ stage: 'iterative-pre-copy', enteredAt: 3 }],
    };
    s.store.jobList.push(stale);
    const m = manager(s);
    await m.ready;
    const job = m.job('M-7' as string);
    expect(job).toBeDefined();
    expect(m.jobs()[0].state).toBe('failed');
    expect(m.jobs()[0].error).toMatch(/restarted/);
    expect(s.engine.scans).toBeGreaterThan(0);
    const next = await m.request('web', 'b', {}, 'alice');
    expect(next.id).toBe('M-8');
  });

  it('choices lists pre-checks against every other host', async () => {
    const s = setup();
    const m = manager(s);
    const c = await m.choices('web');
    expect(c.map((x) => [x.host, x.ok])).toEqual([
      ['b', true],
      ['c', true],
    ]);
    expect(c[0].checks.find((k) => k.name === 'memory')?.detail).toMatch(/MiB free/);
  });

  it('tune changes the bandwidth of a running job on the source and audits it', async () => {
    const s = setup();
    s.drivers.get('a')!.script = { samples: [precopy(1, 100), precopy(2, 90)], durationMs: 60_000 };
    const m = manager(s);
    const req = await m.request('web', 'b', { bandwidthMiBs: 16 }, 'alice');
    await m.authorize(req.id, 'alice');
    await s.engine.waitFor(() => m.job(req.id).state === 'iterative-pre-copy', UUID, 2000);
    const tuned = await m.tune(req.id, { bandwidthMiBs: 64, maxDowntimeMs: 500 }, 'bob');
    expect(tuned.bandwidthMiBs).toBe(64);
    expect(s.drivers.get('a')!.calls).toEqual(expect.arrayContaining(['setBandwidth 64', 'setMaxDowntime 500']));
    expect(s.store.log.map((e) => e.action)).toContain('migrate-tune');
    await m.abort(req.id, 'bob');
    await expect(m.tune(req.id, { bandwidthMiBs: 8 }, 'bob')).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});
