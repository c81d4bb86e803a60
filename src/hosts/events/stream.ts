import { EventEmitter } from 'node:events';
import { errorLine } from '../../model/errors.js';
import type { EventChannel } from '../../model/host-driver.js';
import { EVENT_QUIET_MS, EVENT_RESTART_BASE_MS, EVENT_RESTART_MAX_MS, EVENT_SETTLE_MS } from '../defaults.js';
import type { Logger } from '../logger.js';
import { describeEvent, EventParser, type DomainEvent } from './parse.js';
import { backoffMs } from '../../model/backoff.js';

// One host's event stream, kept running: opened, parsed into events, and reopened with a backoff that doubles per
// failure when it ends. `virsh event` says nothing when it subscribed, so the stream counts as up once it has
// stayed open settleMs, or as soon as an event arrives. Emits 'event' (DomainEvent), 'up' (after each (re)connect:
// the owner resyncs), 'down' (why).

export interface EventStreamOptions {
  host: string;
  open: () => Promise<EventChannel>;
  log?: Logger;
  settleMs?: number;
  restartBaseMs?: number;
  restartMaxMs?: number;
  /** a block waiting for more fields is complete after this much quiet */
  quietMs?: number;
}

export interface EventStreamStats {
  up: boolean;
  received: number;
  lastEventAt?: number;
  lastEvent?: string;
  /** reopens after the stream ended */
  restarts: number;
  lastError?: string;
}

export class EventStream extends EventEmitter {
  readonly stats: EventStreamStats = { up: false, received: 0, restarts: 0 };
  private channel?: EventChannel;
  private running = false;
  private failures = 0;
  private opened = 0;
  private timer?: NodeJS.Timeout;
  private settle?: NodeJS.Timeout;
  private quiet?: NodeJS.Timeout;

  constructor(private readonly o: EventStreamOptions) {
    super();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.open();
  }

  stop(): void {
    this.running = false;
    for (const t of [this.timer, this.settle, this.quiet]) clearTimeout(t);
    const ch = this.channel;
    this.channel = undefined;
    this.stats.up = false;
    ch?.close();
  }

  private async open(): Promise<void> {
    this.timer = undefined;
    if (!this.running) return;
    if (this.opened++ > 0) this.stats.restarts++;
    let ch: EventChannel;
    try {
      ch = await this.o.open();
    } catch (e) {
      return this.ended(undefined, errorLine(e));
    }
    if (!this.running) return ch.close();
    this.channel = ch;
    const parser = new EventParser();
    ch.onData((t) => this.deliver(ch, parser, parser.push(t)));
    ch.onEnd((why) => {
      this.deliver(ch, parser, parser.flush());
      this.ended(ch, why);
    });
    this.settle = setTimeout(() => this.markUp(ch), this.o.settleMs ?? EVENT_SETTLE_MS);
  }

  private deliver(ch: EventChannel, parser: EventParser, events: DomainEvent[]): void {
    if (this.channel !== ch) return;
    clearTimeout(this.quiet);
    if (parser.waiting) this.quiet = setTimeout(() => this.deliver(ch, parser, parser.flush()), this.o.quietMs ?? EVENT_QUIET_MS);
    if (!events.length) return;
    this.markUp(ch);
    for (const e of events) {
      this.stats.received++;
      this.stats.lastEventAt = Date.now();
      this.stats.lastEvent = describeEvent(e);
      this.emit('event', e);
    }
  }

  private markUp(ch: EventChannel): void {
    clearTimeout(this.settle);
    if (this.channel !== ch || this.stats.up) return;
    this.stats.up = true;
    this.stats.lastError = undefined;
    this.failures = 0;
    this.o.log?.info?.({ host: this.o.host }, 'event stream up');
    this.emit('up');
  }

  private ended(ch: EventChannel | undefined, why: string): void {
    if (ch && this.channel !== ch) return;
    this.channel = undefined;
    clearTimeout(this.settle);
    clearTimeout(this.quiet);
    const wasUp = this.stats.up;
    this.stats.up = false;
    this.stats.lastError = why;
    if (!this.running) return;
    const base = this.o.restartBaseMs ?? EVENT_RESTART_BASE_MS;
    const delay = backoffMs(base, this.o.restartMaxMs ?? EVENT_RESTART_MAX_MS, this.failures++);
    this.o.log?.warn?.({ host: this.o.host, why, retryInMs: delay }, 'event stream ended');
    if (wasUp) this.emit('down', why);
    else this.emit('failed', why);
    this.timer = setTimeout(() => void this.open(), delay);
  }
}
