// The executor seam of the migration manager: which executor runs a job, what the default simulation does where
// nothing can move a domain, and how a job a previous process left running ends.
import { afterEach, describe, expect, it } from 'vitest';
import { cannotMigrate, type Execution, type ExecutionEnd, type MigrationExecutor } from '../../src/migration/executor.js';
import { MigrationManager, type MigrationManagerOptions } from '../../src/migration/manager.js';
import { restartOutcome } from '../../src/migration/recovery.js';
import type { HostConfig } from '../../src/model/config.js';
import type { MigrationEvent, MigrationJob } from '../../src/model/types.js';
import { fakeHosts, setup, UUID } from './migration-fakes.js';

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
    verifyTimeoutMs: 300,
    activationTimeoutMs: 300,
    ...extra,
  });
  managers.push(m);
  return m;
}

const testDriverHosts = (s: ReturnType<typeof setup>) =>
  s.world.hosts.map((name) => ({ name, driver: 'libvirt', uri: `test:///${name}.xml` }) as HostConfig);

/** an executor that runs until aborted, recording what it was asked */
class HeldExecutor implements MigrationExecutor {
  readonly simulated = false;
  calls: string[] = [];
  start(): Execution {
    let end!: (e: ExecutionEnd) => void;
    const ended = new Promise<ExecutionEnd>((resolve) => (end = resolve));
    return {
      ended,
      abort: async () => {
        this.calls.push('abort');
        end({ kind: 'aborted' });
      },
      tune: async (params, applied) => {
        this.calls.push(`tune ${JSON.stringify(params)}`);
        Object.assign(applied, params);
      },
    };
  }
  async stopOrphan(job: Readonly<MigrationJob>) {
    this.calls.push(`stopOrphan ${job.id}`);
  }
}

describe('executors', () => {
  it('libvirt test-driver hosts cannot migrate; other hosts can', () => {
    expect(cannotMigrate({ name: 'a', driver: 'libvirt', uri: 'test:///default' } as HostConfig)).toBe(true);
    expect(cannotMigrate({ name: 'a', driver: 'libvirt', uri: 'qemu:///system' } as HostConfig)).toBe(false);
    expect(cannotMigrate({ name: 'a', driver: 'ssh', address: 'a', libvirtUri: 'test:///default' } as HostConfig)).toBe(false);
  });

  it('the manager runs, tunes and aborts a job through the executor it is given', async () => {
    const s = setup();
    const held = new HeldExecutor();
    const m = manager(s, { executors: { libvirt: held } });
    const req = await m.request('web', 'b', {}, 'alice');
    expect(req.simulated).toBeUndefined();
    await m.authorize(req.id, 'alice');
    await m.tune(req.id, { bandwidthMiBs: 64 }, 'alice');
    const job = await m.abort(req.id, 'bob');
    expect(held.calls).toEqual(['tune {"bandwidthMiBs":64}', 'abort']);
    expect(job.state).toBe('aborted');
    expect(job.error).toMatch(/aborted by bob; web keeps running on a/);
    expect(s.drivers.get('a')!.calls).toEqual([]);
  });

  it('by default, a job between test-driver hosts runs its pre-copy on the model and fails before commitment, the VM left on its source', async () => {
    const s = setup();
    const m = manager(s, { hosts: fakeHosts(s.world, s.drivers, testDriverHosts(s)) });
    const req = await m.request('web', 'b', { bandwidthMiBs: 1024 }, 'alice');
    expect(req.simulated).toBe(true);
    await m.authorize(req.id, 'alice');
    const evs: MigrationEvent[] = [];
    const job = await m.watch(req.id, (e) => evs.push(e));
    const stages = evs.filter((e) => e.type === 'stage').map((e) => (e as { stage: string }).stage);
    expect(stages).toEqual(['pre-migration', 'reservation', 'iterative-pre-copy', 'stop-and-copy']);
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(/nothing here can move the domain/);
    expect([...s.world.running.get('a')!]).toEqual([UUID]);
    expect(s.engine.calls).not.toContain(`commit ${req.id}`);
  });

  it('a job a previous process left running is stopped through its own executor, then ends by where the VM is', async () => {
    const s = setup();
    const held = new HeldExecutor();
    s.store.jobList.push({
      id: 'M-3',
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
    });
    const m = manager(s, { executors: { libvirt: held } });
    await m.ready;
    expect(held.calls).toEqual(['stopOrphan M-3']);
    expect(m.job('M-3').state).toBe('failed');
    expect(m.job('M-3').error).toBe('console restarted during iterative-pre-copy; the migration did not complete');
  });
});

describe('a move found done after a restart', () => {
  it("completes, and the VM's home host follows it to the destination, as a verified move's does", async () => {
    const s = setup();
    s.world.running.get('a')!.delete(UUID);
    s.world.running.get('b')!.add(UUID);
    s.store.regs.set(UUID, { ...s.store.regs.get(UUID)!, homeHost: 'a' });
    s.store.jobList.push({
      id: 'M-4',
      vm: UUID,
      vmName: 'web',
      source: 'a',
      destination: 'b',
      state: 'commitment',
      requestedBy: 'alice',
      requestedAt: 1,
      authorizedAt: 2,
      transport: 'tunnelled',
      checks: [],
      stages: [{ stage: 'commitment', enteredAt: 3 }],
    });
    const m = manager(s, { executors: { libvirt: new HeldExecutor() } });
    await m.ready;
    expect(m.job('M-4').state).toBe('completed');
    expect(s.store.regs.get(UUID)?.homeHost).toBe('b');
  });
});

describe('restartOutcome', () => {
  const job = { state: 'commitment', vmName: 'web', source: 'a', destination: 'b' } as MigrationJob;
  it('on the destination only: completed, not re-verified', () => {
    expect(restartOutcome(job, false, true)).toMatchObject({ state: 'completed', result: expect.stringMatching(/not re-verified/) });
  });
  it('anywhere else: failed, saying where the VM is', () => {
    expect(restartOutcome(job, true, false)).toMatchObject({ state: 'failed', detail: expect.stringMatching(/still runs on a/) });
    expect(restartOutcome(job, true, true)).toMatchObject({ state: 'failed', detail: expect.stringMatching(/runs on both a and b/) });
    expect(restartOutcome(job, false, false)).toMatchObject({
      state: 'failed',
      detail: expect.stringMatching(/not found running on a or b/),
    });
  });
});
