import { EventEmitter } from 'node:events';
import type { HostConfig } from '../model/config.js';
import { BillboardError, errorLine } from '../model/errors.js';
import type { HostDriver, HostScan } from '../model/host-driver.js';
import type { HostStatus, Inventory } from '../model/types.js';
import { EVENTS_POLL_INTERVAL_MS, SCAN_BACKOFF_BASE_MS, SCAN_BACKOFF_MAX_MS } from './defaults.js';
import { asHostError, timeoutError } from './errors.js';
import { eventStatus, keepSavedDefinitions, mergeTargeted, type TargetedFound } from './events/targeted.js';
import { HostEvents, type HostDomainEvent, type HostEventsOptions, type RescanRequest } from './events/host-events.js';
import { hostChanges, type HostChanges } from './host-changes.js';
import { createDriver } from './factory.js';
import type { Logger } from './logger.js';
import { backoffMs } from '../model/backoff.js';

// Active scans: every host on its own schedule (intervalMs after its last scan), at most `concurrency`
// at once, each bounded by timeoutMs. A failing host is marked down with the reason and retried with
// exponential backoff; it never delays the others. Emits 'inventory', 'status', 'host-down'.
// Hosts whose driver streams domain events (events/) are also rescanned as soon as a lifecycle event names one of
// their domains (that domain alone when the driver can), fully after every (re)connect of the stream, and polled
// at eventsIntervalMs while the stream flows. Emits 'domain-event' (HostDomainEvent) for every event.

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
  /** follow hosts' domain event streams (default true) */
  events?: boolean;
  /** the poll interval while a host's events flow (default EVENTS_POLL_INTERVAL_MS, never below intervalMs) */
  eventsIntervalMs?: number;
  /** the event streams' timings (tests) */
  eventOptions?: Partial<Pick<HostEventsOptions, 'debounceMs' | 'maxDelayMs' | 'targetedMax' | 'stream'>>;
}

export interface ScanResult {
  host: string;
  ok: boolean;
  inventory?: Inventory;
  error?: string;
}

interface HostState {
  cfg: HostConfig;
  driver: HostDriver;
  status: HostStatus;
  inflight?: Promise<ScanResult>;
  dueAt: number;
  events?: HostEvents;
  /** the last inventory reported (a targeted rescan updates it) */
  last?: Inventory;
  statusTimer?: NodeJS.Timeout;
}

export class Scanner extends EventEmitter {
  private readonly hosts = new Map<string, HostState>();
  private readonly opts: ScannerOptions;
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(opts: ScannerOptions) {
    super();
    this.setMaxListeners(100); // each running migration listens for its VM's events (onDomainEvent)
    this.opts = opts;
    for (const h of opts.hosts) this.hosts.set(h.name, this.newState(h));
  }

  /** every host's domain events, as 'domain-event' emits them, until the returned function is called */
  onDomainEvent(listener: (e: HostDomainEvent) => void): () => void {
    // a listener that throws must not cost the stream its rescans or the rest of its chunk, nor reach ssh2's handler
    const safe = (e: HostDomainEvent): void => {
      try {
        listener(e);
      } catch (err) {
        this.opts.log?.warn?.({ host: e.host, err: (err as Error).message }, 'a domain event listener threw');
      }
    };
    this.on('domain-event', safe);
    return () => void this.off('domain-event', safe);
  }

  private newState(h: HostConfig): HostState {
    const make = this.opts.createDriver ?? ((c: HostConfig) => createDriver(c, this.opts.log, { commandTimeoutMs: this.opts.timeoutMs }));
    const driver = make(h);
    const state: HostState = {
      cfg: h,
      driver,
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
    };
    const open = driver.openEvents?.bind(driver);
    if (open && !driver.eventsUnavailable && this.opts.events !== false) state.events = this.hostEvents(state, open);
    return state;
  }

  private hostEvents(h: HostState, open: NonNullable<HostDriver['openEvents']>): HostEvents {
    const ev = new HostEvents({
      host: h.cfg.name,
      open,
      rescan: (r) => this.eventRescan(h, r),
      log: this.opts.log,
      ...this.opts.eventOptions,
    });
    ev.on('domain-event', (e) => this.emit('domain-event', e));
    ev.on('change', () => this.eventsChanged(h));
    return ev;
  }

  /** the stream's state moved: a dropped stream brings the poll back to intervalMs; status at most every 250 ms */
  private eventsChanged(h: HostState): void {
    if (!h.events?.stream.stats.up && h.status.lastScanAt !== undefined && h.status.consecutiveFailures === 0) {
      const due = h.status.lastScanAt + this.opts.intervalMs;
      if (due < h.dueAt) {
        h.dueAt = due;
        this.tick();
      }
    }
    h.statusTimer ??= setTimeout(() => {
      h.statusTimer = undefined;
      if (!this.stopped && this.hosts.get(h.cfg.name) === h) this.emit('status', this.status(h));
    }, 250);
  }

  /** the poll interval for a host now */
  private pollInterval(h: HostState): number {
    if (!h.events?.stream.stats.up) return this.opts.intervalMs;
    return Math.max(this.opts.intervalMs, this.opts.eventsIntervalMs ?? EVENTS_POLL_INTERVAL_MS);
  }

  private status(h: HostState): HostStatus {
    return { ...h.status, ...eventStatus(h.driver, h.events?.stream.stats, this.pollInterval(h)) };
  }

  /**
   * Replace the host list (the service's config reload): new hosts are scanned at once, removed ones have their
   * driver closed, a host whose config changed gets a fresh driver. Hosts left as they were keep their state.
   */
  async setHosts(configs: HostConfig[]): Promise<HostChanges> {
    const { added, removed, changed } = hostChanges(
      [...this.hosts.values()].map((h) => h.cfg),
      configs,
    );
    const closing: HostState[] = [];
    for (const name of [...removed, ...changed]) {
      closing.push(this.hosts.get(name)!);
      this.hosts.delete(name);
    }
    for (const cfg of configs) {
      if (this.hosts.has(cfg.name)) continue;
      const h = this.newState(cfg);
      this.hosts.set(cfg.name, h);
      if (this.running) h.events?.start();
    }
    for (const h of closing) {
      this.stopEvents(h);
      await h.driver.close().catch(() => undefined);
    }
    if (added.length || removed.length || changed.length) {
      this.emit('status');
      this.tick();
    }
    return { added, removed, changed };
  }

  /** Periodic scans; the first one now. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    for (const h of this.hosts.values()) {
      h.dueAt = 0;
      h.events?.start();
    }
    this.tick();
  }

  private stopEvents(h: HostState): void {
    h.events?.stop();
    clearTimeout(h.statusTimer);
    h.statusTimer = undefined;
  }

  /** Stop scanning and close every driver; leaves no timers. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const inflight = [...this.hosts.values()].map((h) => h.inflight).filter(Boolean);
    for (const h of this.hosts.values()) this.stopEvents(h);
    for (const h of this.hosts.values()) {
      await h.driver.close().catch((e) => this.opts.log?.warn?.({ host: h.cfg.name, err: errorLine(e) }, 'close failed'));
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
    return [...this.hosts.values()].map((h) => ({ ...this.status(h), node: h.status.node ? { ...h.status.node } : undefined }));
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
    if (this.active < Math.max(1, this.opts.concurrency)) {
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

  /**
   * The rescan a host's events asked for, after any scan in flight (which may have started before the events). The
   * named domains alone when the driver can scan one and the host has a last inventory to merge them into; the
   * whole host otherwise, and when a domain no longer has the name its event gave (another domain took it).
   */
  private async eventRescan(h: HostState, r: RescanRequest): Promise<void> {
    while (h.inflight) await h.inflight;
    if (!this.running || this.hosts.get(h.cfg.name) !== h) return;
    this.opts.log?.debug?.({ host: h.cfg.name, reason: r.reason, full: r.full, domains: r.targets.size }, 'event rescan');
    if (r.full || !h.last || !h.status.up || !h.driver.scanDomain) {
      await this.scanHost(h);
      return;
    }
    const p = this.runTargeted(h, r.targets)
      .then((res) => res ?? this.runScan(h))
      .finally(() => {
        h.inflight = undefined;
        this.tick();
      });
    h.inflight = p;
    await p;
  }

  /** Scan the targets alone and report the last inventory with them updated; undefined: scan the whole host. */
  private async runTargeted(h: HostState, targets: Map<string, string>): Promise<ScanResult | undefined> {
    await this.slot();
    const started = Date.now();
    let found: TargetedFound[];
    try {
      found = await this.bounded(h, () =>
        Promise.all([...targets].map(async ([uuid, name]) => ({ uuid, name, info: await h.driver.scanDomain!(uuid) }))),
      );
    } catch {
      return undefined; // the whole scan says what is wrong with the host
    } finally {
      this.release();
    }
    const inv = mergeTargeted(h.last!, found, started);
    if (!inv) return undefined;
    for (const f of found) h.events?.names.set(f.uuid, f.info?.name);
    h.last = inv;
    const running = inv.domains.filter((d) => d.state === 'running').length;
    h.status = { ...h.status, lastScanAt: inv.at, lastScanMs: inv.durationMs, domains: inv.domains.length, running };
    if (!this.stopped && this.hosts.get(h.cfg.name) === h) {
      this.emit('inventory', inv);
      this.emit('status', this.status(h));
    }
    return { host: h.cfg.name, ok: true, inventory: inv };
  }

  private async runScan(h: HostState): Promise<ScanResult> {
    await this.slot();
    const started = Date.now();
    try {
      // a host whose events are followed keeps its saved definitions current: its whole scans are the rare ones
      const o = { savedDefinitions: h.events !== undefined };
      return this.scanned(h, started, await this.bounded(h, () => h.driver.scanAll(o)));
    } catch (e) {
      return await this.failed(h, started, asHostError(h.cfg.name, e));
    } finally {
      this.release();
    }
  }

  /** `work` within the scan timeout, or a TIMEOUT host error; a late rejection after the timeout is not left unhandled */
  private async bounded<T>(h: HostState, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const p = work();
    p.catch(() => undefined);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeoutError(h.cfg.name, 'scan', this.opts.timeoutMs)), this.opts.timeoutMs);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The host answered: it is up, and scanned again intervalMs from now. */
  private scanned(h: HostState, started: number, { domains, node, admissionHook, savedRead }: HostScan): ScanResult {
    const name = h.cfg.name;
    const at = Date.now();
    const carried = keepSavedDefinitions(h.last, domains, !savedRead);
    const inv: Inventory = { host: name, at, durationMs: at - started, domains: carried };
    if (node) inv.node = node;
    if (admissionHook) inv.admissionHook = admissionHook;
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
      admissionHook,
    };
    h.dueAt = at + this.pollInterval(h);
    h.last = inv;
    h.events?.names.replace(domains);
    // a saved definition a whole scan could only carry over is read again: a revert whose event was missed (or
    // folded into this whole scan) must not keep its finding until the VM stops
    for (const d of carried) {
      if (d.savedDefinitionHash && (!savedRead || d.savedDefinitionUnread)) h.events?.request(d.uuid, d.name, 'saved definition recheck');
    }
    if (wasDown) this.opts.log?.info?.({ host: name }, 'host back up');
    // a host removed (or replaced) by setHosts while its scan ran reports nothing
    if (!this.stopped && this.hosts.get(name) === h) {
      this.emit('inventory', inv);
      this.emit('status', this.status(h));
    }
    return { host: name, ok: true, inventory: inv };
  }

  /** The scan failed: the host is down with the reason, and retried after a backoff that doubles per failure. */
  private async failed(h: HostState, started: number, err: BillboardError): Promise<ScanResult> {
    const name = h.cfg.name;
    const now = Date.now();
    const failures = h.status.consecutiveFailures + 1;
    const base = this.opts.backoffBaseMs ?? SCAN_BACKOFF_BASE_MS;
    const max = this.opts.backoffMaxMs ?? Math.max(SCAN_BACKOFF_MAX_MS, this.opts.intervalMs);
    const delay = backoffMs(base, max, failures - 1);
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
    this.opts.log?.warn?.({ host: name, err: err.message, failures, retryInMs: delay }, 'host scan failed');
    if (!this.stopped && this.hosts.get(name) === h) {
      this.emit('status', this.status(h));
      if (wasUp) this.emit('host-down', name, err.message);
    }
    return { host: name, ok: false, error: err.message };
  }
}
