import { EventEmitter } from 'node:events';
import type { HostConfig } from '../model/config.js';
import { BillboardError, errorLine } from '../model/errors.js';
import type { HostDriver } from '../model/host-driver.js';
import type { DomainInfo, HostStatus, Inventory, NodeInfo } from '../model/types.js';
import { asHostError, hostError, timeoutError } from './errors.js';
import { LibvirtDriver } from './libvirt/driver.js';
import type { Logger } from './logger.js';
import { SshDriver } from './ssh/driver.js';

// Active scans: every host on its own schedule (intervalMs after its last scan), at most `concurrency`
// at once, each bounded by timeoutMs. A failing host is marked down with the reason and retried with
// exponential backoff; it never delays the others. Emits 'inventory', 'status', 'host-down'.

export interface DriverOptions {
  commandTimeoutMs?: number;
  virshPath?: string;
}

export function createDriver(h: HostConfig, log?: Logger, opts: DriverOptions = {}): HostDriver {
  if (h.driver === 'ssh') return new SshDriver(h, { log, ...opts });
  return new LibvirtDriver(h, { log, ...opts });
}

export interface ScannerOptions {
  hosts: HostConfig[];
  timeoutMs: number;
  concurrency: number;
  intervalMs: number;
  log?: Logger;
  createDriver?: (h: HostConfig) => HostDriver;
  /** first retry delay after a failure (doubles per failure) */
  backoffBaseMs?: number;
  /** longest retry delay */
  backoffMaxMs?: number;
}

export interface ScanResult {
  host: string;
  ok: boolean;
  inventory?: Inventory;
  error?: string;
}

interface ScanCapable {
  scanAll(): Promise<{ domains: DomainInfo[]; node?: NodeInfo }>;
}

function canScanAll(d: HostDriver): d is HostDriver & ScanCapable {
  return typeof (d as Partial<ScanCapable>).scanAll === 'function';
}

interface HostState {
  cfg: HostConfig;
  driver: HostDriver;
  status: HostStatus;
  inflight?: Promise<ScanResult>;
  dueAt: number;
}

export class Scanner extends EventEmitter {
  private readonly hosts = new Map<string, HostState>();
  private readonly o: ScannerOptions;
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(opts: ScannerOptions) {
    super();
    this.o = opts;
    const make = opts.createDriver ?? ((h: HostConfig) => createDriver(h, opts.log, { commandTimeoutMs: opts.timeoutMs }));
    for (const h of opts.hosts) {
      this.hosts.set(h.name, {
        cfg: h,
        driver: make(h),
        dueAt: 0,
        status: {
          name: h.name,
          driver: h.driver,
          target: h.driver === 'ssh' ? `${h.address}:${h.port}` : h.uri,
          up: false,
          unknown: true,
          consecutiveFailures: 0,
          domains: 0,
          running: 0,
        },
      });
    }
  }

  /** Periodic scans; the first one now. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    for (const h of this.hosts.values()) h.dueAt = 0;
    this.tick();
  }

  /** Stop scanning and close every driver; leaves no timers. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const inflight = [...this.hosts.values()].map((h) => h.inflight).filter(Boolean);
    for (const h of this.hosts.values()) {
      await h.driver.close().catch((e) => this.o.log?.warn?.({ host: h.cfg.name, err: errorLine(e) }, 'close failed'));
    }
    await Promise.allSettled(inflight);
  }

  private tick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running) return;
    const now = Date.now();
    let next = Infinity;
    for (const h of this.hosts.values()) {
      if (h.inflight) continue;
      if (h.dueAt <= now) void this.scanHost(h);
      else next = Math.min(next, h.dueAt);
    }
    if (next !== Infinity) this.timer = setTimeout(() => this.tick(), Math.max(10, next - now));
  }

  /** Scan now (all hosts, or the named ones). Unknown names → NOT_FOUND before anything runs. */
  async scan(hosts?: string[]): Promise<ScanResult[]> {
    const targets = (hosts && hosts.length ? hosts : [...this.hosts.keys()]).map((n) => this.state(n));
    return Promise.all(targets.map((h) => this.scanHost(h)));
  }

  statuses(): HostStatus[] {
    return [...this.hosts.values()].map((h) => ({ ...h.status, node: h.status.node ? { ...h.status.node } : undefined }));
  }

  driver(host: string): HostDriver {
    return this.state(host).driver;
  }

  hostConfig(host: string): HostConfig {
    return this.state(host).cfg;
  }

  private state(host: string): HostState {
    const h = this.hosts.get(host);
    if (!h) throw new BillboardError('NOT_FOUND', `no host named "${host}" (known: ${[...this.hosts.keys()].join(', ') || 'none'})`);
    return h;
  }

  private async slot(): Promise<void> {
    if (this.active < Math.max(1, this.o.concurrency)) {
      this.active++;
      return;
    }
    await new Promise<void>((r) => this.queue.push(r)); // bounded: at most one entry per host
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.active--;
  }

  private scanHost(h: HostState): Promise<ScanResult> {
    if (h.inflight) return h.inflight;
    const p = this.runScan(h).finally(() => {
      h.inflight = undefined;
      this.tick();
    });
    h.inflight = p;
    return p;
  }

  private async runScan(h: HostState): Promise<ScanResult> {
    await this.slot();
    const name = h.cfg.name;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        if (canScanAll(h.driver)) return h.driver.scanAll();
        const domains = await h.driver.inventory();
        const node = await h.driver.nodeInfo().catch(() => undefined);
        return { domains, node };
      })();
      work.catch(() => undefined); // a late rejection after the timeout must not go unhandled
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(timeoutError(name, 'scan', this.o.timeoutMs)),
          this.o.timeoutMs,
        );
      });
      const { domains, node } = await Promise.race([work, timeout]);
      const at = Date.now();
      const inv: Inventory = { host: name, at, durationMs: at - started, domains };
      if (node) inv.node = node;
      const wasDown = !h.status.up && !h.status.unknown;
      h.status = {
        ...h.status,
        up: true,
        unknown: false,
        lastScanAt: at,
        lastScanMs: at - started,
        lastError: undefined,
        consecutiveFailures: 0,
        nextRetryAt: undefined,
        domains: domains.length,
        running: domains.filter((d) => d.state === 'running').length,
        node: node ?? h.status.node,
      };
      h.dueAt = at + this.o.intervalMs;
      if (wasDown) this.o.log?.info?.({ host: name }, 'host back up');
      if (!this.stopped) {
        this.emit('inventory', inv);
        this.emit('status', { ...h.status });
      }
      return { host: name, ok: true, inventory: inv };
    } catch (e) {
      const err = asHostError(name, e);
      const now = Date.now();
      const failures = h.status.consecutiveFailures + 1;
      const base = this.o.backoffBaseMs ?? 1000;
      const max = this.o.backoffMaxMs ?? Math.max(60_000, this.o.intervalMs);
      const delay = Math.min(max, base * 2 ** Math.min(failures - 1, 20));
      const wasUp = h.status.up || h.status.unknown;
      h.status = {
        ...h.status,
        up: false,
        unknown: false,
        lastScanAt: now,
        lastScanMs: now - started,
        lastError: err.message,
        consecutiveFailures: failures,
        nextRetryAt: now + delay,
      };
      h.dueAt = now + delay;
      // a dead or hung connection is dropped so the retry starts fresh
      if (err.code === 'HOST_DOWN' || err.code === 'TIMEOUT') await h.driver.close().catch(() => undefined);
      this.o.log?.warn?.({ host: name, err: err.message, failures, retryInMs: delay }, 'host scan failed');
      if (!this.stopped) {
        this.emit('status', { ...h.status });
        if (wasUp) this.emit('host-down', name, err.message);
      }
      return { host: name, ok: false, error: err.message };
    } finally {
      clearTimeout(timer);
      this.release();
    }
  }
}
