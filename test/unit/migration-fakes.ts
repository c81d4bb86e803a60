// Fakes for the migration unit tests: a tiny lab of fake hosts (where each VM runs), a fake engine reading
// it, a fake host driver whose `migrate` plays a scripted libvirt job, and the shared in-memory store.
import { BillboardError } from '../../src/model/errors.js';
import type { HostConfig } from '../../src/model/config.js';
import type { HostDriver } from '../../src/model/host-driver.js';
import type { AuditEntry, DomainInfo, Finding, HostStatus, JobStats, MigrateOptions, NodeInfo, VmRow } from '../../src/model/types.js';
import { approved, FakeStore } from '../support/fake-store.js';
import type { MigrationEngineHooks, MigrationHosts } from '../../src/migration/hooks.js';

export const UUID = '11111111-2222-4333-8444-555555555555';
export const MiB = 1024 * 1024;

export class FakeWorld {
  /** host → uuids running there */
  running = new Map<string, Set<string>>();
  /** host → the addresses its scan reports for the VM's instance there */
  ips = new Map<string, string[]>();
  beacon?: VmRow['lastBeacon'];
  constructor(public hosts: string[]) {
    for (const h of hosts) this.running.set(h, new Set());
  }
  move(uuid: string, from: string, to: string) {
    this.running.get(from)!.delete(uuid);
    this.running.get(to)!.add(uuid);
  }
}

export function domain(uuid = UUID): DomainInfo {
  return {
    uuid,
    name: 'web',
    state: 'running',
    vcpus: 1,
    memoryKiB: 131072,
    macs: [],
    interfaces: [],
    ips: [],
    arch: 'x86_64',
    disks: [],
    definitionHash: 'h',
  };
}

const node: NodeInfo = { cpus: 2, arch: 'x86_64', memoryKiB: 8 << 20, freeMemoryKiB: 4 << 20 };

export interface Script {
  /** stats libvirt reports while the job runs, one per poll (the last one repeats) */
  samples: Partial<JobStats>[];
  /** ms the whole migration takes at least: it also waits until every sample has been polled once (a loaded
   *  machine may poll less often than the timer assumes) */
  durationMs: number;
  fail?: string;
  downtimeMs?: number;
}

export class FakeDriver implements HostDriver {
  readonly kind = 'ssh' as const;
  calls: string[] = [];
  private job?: { t0: number; abort: () => void; poll: number };
  script: Script = { samples: [], durationMs: 50 };
  completed?: JobStats;
  constructor(
    readonly name: string,
    private world: FakeWorld,
  ) {}
  async connect() {}
  async close() {}
  /** the fake is its own job control */
  readonly jobs = this;
  async scanAll() {
    return { domains: await this.inventory(), node };
  }
  async inventory() {
    return [...this.world.running.get(this.name)!].map((u) => domain(u));
  }
  async nodeInfo() {
    return node;
  }
  async domainXml() {
    return '<domain/>';
  }
  async stop() {}
  async suspend() {}
  async resume() {}
  async isolate() {}
  migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal): Promise<void> {
    this.calls.push(`migrate ${opts.transport} ${opts.bandwidthMiBs ?? '-'} ${opts.destUri}`);
    const dest = /\/\/(?:[^@]*@)?([^:/]+)/.exec(opts.destUri)![1];
    return new Promise((resolve, reject) => {
      let t: NodeJS.Timeout;
      const finish = (): void => {
        if (this.job && this.job.poll < this.script.samples.length) {
          t = setTimeout(finish, 10);
          return;
        }
        this.job = undefined;
        if (this.script.fail) return reject(new BillboardError('HOST_ERROR', `${this.name}: ${this.script.fail}`));
        this.world.move(uuid, this.name, dest);
        this.completed = {
          at: Date.now(),
          type: 'completed',
          totalDowntimeMs: this.script.downtimeMs ?? 42,
          iteration: 4,
          source: 'libvirt',
        };
        resolve();
      };
      t = setTimeout(finish, this.script.durationMs);
      const abort = () => {
        clearTimeout(t);
        this.job = undefined;
        reject(new BillboardError('HOST_ERROR', `${this.name}: operation aborted: migration out job: canceled by client`));
      };
      this.job = { t0: Date.now(), abort, poll: 0 };
      signal?.addEventListener('abort', abort, { once: true });
    });
  }
  async jobStats(): Promise<JobStats | null> {
    if (!this.job) return null;
    const s = this.script.samples[Math.min(this.job.poll++, this.script.samples.length - 1)] ?? {};
    return { at: Date.now(), type: 'unbounded', source: 'libvirt', ...s };
  }
  async completedJobStats(): Promise<JobStats | null> {
    return this.completed ?? null;
  }
  async abortJob() {
    this.calls.push('abortJob');
    if (!this.job) throw new BillboardError('HOST_ERROR', `${this.name}: no job is active`);
    this.job.abort();
  }
  async setMaxDowntime(_u: string, ms: number) {
    this.calls.push(`setMaxDowntime ${ms}`);
  }
  async setBandwidth(_u: string, mibs: number) {
    this.calls.push(`setBandwidth ${mibs}`);
  }
}

export class FakeEngine implements MigrationEngineHooks {
  findings: Finding[] = [];
  registration: VmRow['registration'] = 'approved';
  calls: string[] = [];
  scans = 0;
  constructor(private world: FakeWorld) {}
  row(): VmRow {
    const instances = this.world.hosts
      .filter((h) => this.world.running.get(h)!.has(UUID))
      .map((host) => ({
        host,
        state: 'running' as const,
        name: 'web',
        macs: [],
        ips: this.world.ips.get(host) ?? [],
        definitionHash: 'h',
        memoryKiB: 131072,
        vcpus: 1,
      }));
    return {
      uuid: UUID,
      name: 'web',
      instances,
      ips: [],
      openFindings: 0,
      status: 'ok',
      registration: this.registration,
      lastBeacon: this.world.beacon,
    };
  }
  resolveVm(ref: string): VmRow {
    if (ref === 'web' || ref === UUID || UUID.startsWith(ref)) return this.row();
    throw new BillboardError('NOT_FOUND', `no VM "${ref}"`);
  }
  openCriticalFindings(): Finding[] {
    return this.findings;
  }
  beginMigration(w: { job: string }) {
    this.calls.push(`begin ${w.job}`);
  }
  commitMigration(job: string) {
    this.calls.push(`commit ${job}`);
  }
  endMigration(job: string, outcome: string) {
    this.calls.push(`end ${job} ${outcome}`);
  }
  lastBeacon() {
    return this.world.beacon;
  }
  async waitFor(pred: (r: VmRow | undefined) => boolean, _uuid: string, timeoutMs: number) {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (pred(this.row())) return true;
      await new Promise((r) => setTimeout(r, 5));
    }
    return pred(this.row());
  }
  async requestScan() {
    this.scans++;
  }
}

export function fakeHosts(world: FakeWorld, drivers: Map<string, FakeDriver>, configs?: HostConfig[]): MigrationHosts {
  const cfgs: HostConfig[] =
    configs ??
    world.hosts.map(
      (name) =>
        ({ name, driver: 'ssh', address: name, port: 22, user: 'root', knownHostsFile: '/k', libvirtUri: 'qemu:///system' }) as HostConfig,
    );
  return {
    configs: () => cfgs,
    status: (h): HostStatus | undefined =>
      cfgs.some((c) => c.name === h)
        ? { name: h, driver: 'ssh', target: h, up: true, consecutiveFailures: 0, domains: 1, running: 1, node }
        : undefined,
    driver: (h) => {
      const d = drivers.get(h);
      if (!d) throw new BillboardError('NOT_FOUND', `no host ${h}`);
      return d;
    },
  };
}

/** The tests' one in-memory store (test/support/fake-store.ts); `log` is its audit trail, as these tests call it. */
export class MemStore extends FakeStore {
  get log(): AuditEntry[] {
    return this.entries;
  }
}

/** a world with `web` running on host a, and the manager's collaborators */
export function setup(hosts = ['a', 'b', 'c']) {
  const world = new FakeWorld(hosts);
  world.running.get('a')!.add(UUID);
  const drivers = new Map(hosts.map((h) => [h, new FakeDriver(h, world)]));
  const engine = new FakeEngine(world);
  const store = new MemStore();
  store.regs.set(UUID, approved({ uuid: UUID, name: 'web' }));
  return { world, drivers, engine, store, hosts: fakeHosts(world, drivers) };
}
