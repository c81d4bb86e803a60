// A fake ScannerService (src/console/services.ts): hosts that hold synthetic domains in memory. A scan reads them
// into an Inventory and hands it to `ingest` (the real Engine's ingestInventory); a down host fails its scan with
// its last error. The drivers' stop / suspend / resume / isolate change the synthetic domains, so the console's
// rescan after an action shows the result, as it would on a real host.
import type { ScannerService } from '../../src/console/services.js';
import type { HostConfig } from '../../src/model/config.js';
import { BillboardError } from '../../src/model/errors.js';
import type { HostDriver, HostScan, JobControl } from '../../src/model/host-driver.js';
import type { DomainInfo, DomainState, HostStatus, Inventory, NodeInfo } from '../../src/model/types.js';

export interface FakeHostSpec {
  config: HostConfig;
  up: boolean;
  node?: NodeInfo;
  /** why the host is down (shown in the Hosts view and in scan errors) */
  lastError?: string;
  consecutiveFailures?: number;
  /** how long a scan of this host takes, as reported (ms) */
  scanMs?: number;
}

interface FakeHost {
  spec: FakeHostSpec;
  status: HostStatus;
  /** uuid → domain, in the order the host lists them */
  domains: Map<string, DomainInfo>;
  driver: FakeDriver;
}

export interface FakeScannerOptions {
  now: () => number;
  /** where inventories go (the engine's ingestInventory) */
  ingest: (inv: Inventory) => void;
  /** a host's status changed (the engine's hostStatuses) */
  statusChanged: (statuses: HostStatus[]) => void;
}

export class FakeScanner implements ScannerService {
  private readonly hosts = new Map<string, FakeHost>();

  constructor(
    specs: FakeHostSpec[],
    private readonly o: FakeScannerOptions,
  ) {
    for (const spec of specs) {
      const c = spec.config;
      const status: HostStatus = {
        name: c.name,
        driver: c.driver,
        target: c.driver === 'ssh' ? `${c.address}:${c.port}` : c.uri,
        up: spec.up,
        consecutiveFailures: spec.consecutiveFailures ?? 0,
        domains: 0,
        running: 0,
        ...(spec.lastError ? { lastError: spec.lastError } : {}),
        ...(spec.up && spec.node ? { node: spec.node } : {}),
      };
      this.hosts.set(c.name, { spec, status, domains: new Map(), driver: new FakeDriver(c.name, this) });
    }
  }

  configs(): HostConfig[] {
    return [...this.hosts.values()].map((h) => h.spec.config);
  }

  /** the host's synthetic domains (the scenario fills them) */
  domains(host: string): Map<string, DomainInfo> {
    return this.host(host).domains;
  }

  /** a domain leaves `from` and runs on `to` (a migration's move) */
  move(uuid: string, from: string, to: string): void {
    const d = this.host(from).domains.get(uuid);
    if (!d) return;
    this.host(from).domains.delete(uuid);
    this.host(to).domains.set(uuid, { ...d, state: 'running' });
  }

  /** Scan now (all hosts, or the named ones), as the real scanner: unknown names are NOT_FOUND. */
  async scan(hosts?: string[]): Promise<{ host: string; ok: boolean; inventory?: Inventory; error?: string }[]> {
    const targets = (hosts?.length ? hosts : [...this.hosts.keys()]).map((n) => this.host(n));
    await Promise.resolve(); // a real scan never answers within the caller's turn
    return targets.map((h) => this.scanHost(h));
  }

  /** the same, within this turn (scenario set-up) */
  scanNow(hosts?: string[]): void {
    for (const n of hosts ?? [...this.hosts.keys()]) this.scanHost(this.host(n));
  }

  statuses(): HostStatus[] {
    return [...this.hosts.values()].map((h) => ({ ...h.status }));
  }

  driver(host: string): HostDriver {
    return this.host(host).driver;
  }

  /** a host goes down (its scans fail with `error`) or comes back */
  setUp(host: string, up: boolean, error = 'connection lost'): void {
    const h = this.host(host);
    h.status = up
      ? { ...h.status, up: true, lastError: undefined, consecutiveFailures: 0, nextRetryAt: undefined, node: h.spec.node }
      : { ...h.status, up: false, lastError: error, consecutiveFailures: h.status.consecutiveFailures + 1 };
    this.o.statusChanged(this.statuses());
  }

  private scanHost(h: FakeHost): { host: string; ok: boolean; inventory?: Inventory; error?: string } {
    const name = h.spec.config.name;
    if (!h.status.up) return { host: name, ok: false, error: h.status.lastError ?? 'host down' };
    const at = this.o.now();
    const domains = [...h.domains.values()];
    const inventory: Inventory = {
      host: name,
      at,
      durationMs: h.spec.scanMs ?? 40,
      domains,
      ...(h.spec.node ? { node: h.spec.node } : {}),
    };
    h.status = {
      ...h.status,
      lastScanAt: at,
      lastScanMs: inventory.durationMs,
      domains: domains.length,
      running: domains.filter((d) => d.state === 'running').length,
    };
    this.o.ingest(inventory);
    this.o.statusChanged(this.statuses());
    return { host: name, ok: true, inventory };
  }

  private host(name: string): FakeHost {
    const h = this.hosts.get(name);
    if (!h) throw new BillboardError('NOT_FOUND', `no host named "${name}" (known: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }
}

/** One fake host's hands: lifecycle actions edit its synthetic domains; it cannot migrate. */
class FakeDriver implements HostDriver {
  readonly kind: 'ssh' | 'libvirt';

  constructor(
    readonly name: string,
    private readonly scanner: FakeScanner,
  ) {
    this.kind = scanner.configs().find((c) => c.name === name)?.driver ?? 'ssh';
  }

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  async scanAll(): Promise<HostScan> {
    return { domains: await this.inventory() };
  }

  async inventory(): Promise<DomainInfo[]> {
    return [...this.scanner.domains(this.name).values()];
  }

  async nodeInfo(): Promise<NodeInfo> {
    const node = this.scanner.statuses().find((s) => s.name === this.name)?.node;
    if (!node) throw new BillboardError('HOST_DOWN', `${this.name}: node info unavailable`);
    return node;
  }

  async domainXml(uuid: string): Promise<string> {
    const d = this.domain(uuid);
    return `<domain type='kvm'><name>${d.name}</name><uuid>${d.uuid}</uuid></domain>`;
  }

  async stop(uuid: string): Promise<void> {
    this.setState(uuid, 'shutoff');
  }

  async suspend(uuid: string): Promise<void> {
    this.setState(uuid, 'paused');
  }

  async resume(uuid: string): Promise<void> {
    this.setState(uuid, 'running');
  }

  async isolate(uuid: string): Promise<void> {
    const d = this.domain(uuid);
    this.scanner.domains(this.name).set(uuid, { ...d, interfaces: d.interfaces.map((i) => ({ ...i, link: 'down' })) });
  }

  readonly jobs: JobControl = {
    migrate: () => this.unsupported(),
    jobStats: () => this.unsupported(),
    completedJobStats: () => this.unsupported(),
    abortJob: () => this.unsupported(),
    setMaxDowntime: () => this.unsupported(),
    setBandwidth: () => this.unsupported(),
  };

  private setState(uuid: string, state: DomainState): void {
    this.scanner.domains(this.name).set(uuid, { ...this.domain(uuid), state });
  }

  private domain(uuid: string): DomainInfo {
    const d = this.scanner.domains(this.name).get(uuid);
    if (!d) throw new BillboardError('NOT_FOUND', `${this.name}: no domain with UUID ${uuid}`);
    return d;
  }

  private unsupported(): Promise<never> {
    return Promise.reject(new BillboardError('UNSUPPORTED', `${this.name}: the fake lab has no hypervisor to migrate with`));
  }
}
