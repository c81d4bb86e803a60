import { EventEmitter } from 'node:events';
import type { EventChannel } from '../../model/host-driver.js';
import { EVENT_RESCAN_DEBOUNCE_MS, EVENT_RESCAN_MAX_DELAY_MS, EVENT_TARGETED_MAX } from '../defaults.js';
import type { Logger } from '../logger.js';
import { DomainNames } from './names.js';
import { triggersRescan, type DomainEvent } from './parse.js';
import { EventStream, type EventStreamOptions } from './stream.js';

// What one host's events do: every lifecycle event asks for a rescan of its domain, and the asks are gathered
// (debounceMs after the last, at most maxDelayMs after the first) into one rescan: an event storm costs one scan.
// A name the map does not know, more than targetedMax domains, or a (re)connect of the stream asks for the whole
// host. Rescans never overlap: asks made while one runs wait for it, then run together.

/** What to rescan: the whole host, or these domains (UUID → the name the events gave it). */
export interface RescanRequest {
  full: boolean;
  targets: Map<string, string>;
  /** why, for logs */
  reason: string;
}

/** one event as the console sees it: with the UUID its name resolved to on that host, when it did */
export interface HostDomainEvent {
  host: string;
  uuid?: string;
  event: DomainEvent;
}

export interface HostEventsOptions {
  host: string;
  open: () => Promise<EventChannel>;
  rescan: (r: RescanRequest) => Promise<void>;
  log?: Logger;
  stream?: Partial<EventStreamOptions>;
  debounceMs?: number;
  maxDelayMs?: number;
  targetedMax?: number;
}

export class HostEvents extends EventEmitter {
  readonly names = new DomainNames();
  readonly stream: EventStream;
  /** rescans the events asked for, by kind (tests and status) */
  readonly rescans = { full: 0, targeted: 0 };
  private full = false;
  private reason = '';
  private readonly targets = new Map<string, string>();
  private firstAt?: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly o: HostEventsOptions) {
    super();
    this.stream = new EventStream({ host: o.host, open: o.open, log: o.log, ...o.stream });
    this.stream.on('event', (e: DomainEvent) => this.onEvent(e));
    this.stream.on('up', () => {
      this.request(undefined, undefined, 'event stream (re)connected');
      this.emit('change');
    });
    this.stream.on('down', () => this.emit('change'));
    this.stream.on('failed', () => this.emit('change'));
  }

  start(): void {
    this.stopped = false;
    this.stream.start();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stream.stop();
  }

  private onEvent(e: DomainEvent): void {
    const uuid = this.names.follow(e);
    const ev: HostDomainEvent = { host: this.o.host, event: e };
    if (uuid) ev.uuid = uuid;
    // the rescan is asked for first: what listeners do with the event cannot cost it
    if (triggersRescan(e)) {
      if (uuid && e.kind === 'lifecycle' && e.event === 'Undefined' && e.detail === 'Removed') this.names.set(uuid, undefined);
      this.request(uuid, e.domain, `${e.kind} event`);
    }
    this.emit('domain-event', ev);
    this.emit('change');
  }

  /** Ask for a rescan of one domain (its UUID and the name the event gave), or of the whole host (no UUID). */
  request(uuid: string | undefined, name: string | undefined, reason: string): void {
    if (this.stopped) return;
    if (uuid === undefined || name === undefined) this.full = true;
    else this.targets.set(uuid, name);
    this.reason ||= reason;
    this.firstAt ??= Date.now();
    this.schedule();
  }

  private schedule(): void {
    if (this.running || this.stopped || this.firstAt === undefined) return;
    clearTimeout(this.timer);
    const debounce = this.o.debounceMs ?? EVENT_RESCAN_DEBOUNCE_MS;
    const latest = this.firstAt + (this.o.maxDelayMs ?? EVENT_RESCAN_MAX_DELAY_MS);
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.min(debounce, latest - Date.now())));
  }

  private fire(): void {
    this.timer = undefined;
    const full = this.full || this.targets.size > (this.o.targetedMax ?? EVENT_TARGETED_MAX);
    const req: RescanRequest = { full, targets: full ? new Map() : new Map(this.targets), reason: this.reason };
    this.full = false;
    this.targets.clear();
    this.reason = '';
    this.firstAt = undefined;
    this.rescans[full ? 'full' : 'targeted']++;
    this.running = this.o
      .rescan(req)
      .catch((e) => this.o.log?.warn?.({ host: this.o.host, err: (e as Error).message }, 'event rescan failed'))
      .finally(() => {
        this.running = undefined;
        this.schedule(); // asks made while it ran
      });
  }
}
