import type { AlertEvent } from './events.js';

/** One message on its way to a sink: the event (or aggregate) and its JSON document. */
export interface AlertMessage {
  event: AlertEvent;
  /** the document, serialized once */
  body: string;
  /** how many events it carries (an aggregate carries several) */
  events: number;
  /** when it was handed to the sink (ms), for delivery latency */
  queuedAt: number;
}

export interface DeliveryResult {
  ok: boolean;
  ms: number;
  /** one line: what the receiver answered, the exit status, or why not */
  detail: string;
}

/** What `health --json` shows of a sink, and what the metrics count. Holds no header, no URL credentials. */
export interface SinkCounters {
  name: string;
  kind: 'webhook' | 'exec' | 'syslog';
  /** where it delivers, credentials removed */
  target: string;
  /** events the sink accepted (after its filters) */
  events: number;
  /** events folded into an aggregated alert */
  aggregated: number;
  /** messages delivered */
  delivered: number;
  /** delivery attempts that failed and were tried again */
  retried: number;
  /** messages given up on (retries exhausted, a non-zero exit, a refused send) */
  failed: number;
  /** messages dropped because the queue was full (the oldest goes) */
  dropped: number;
  /** messages waiting now */
  queued: number;
  inFlight: number;
  lastDeliveredAt?: number;
  lastFailedAt?: number;
  lastError?: string;
}

export interface AlertLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

/** A place alerts go. deliver() never blocks or throws: it queues, and the sink works the queue on its own. */
export interface Sink {
  readonly name: string;
  readonly kind: SinkCounters['kind'];
  deliver(msg: AlertMessage): void;
  /** one attempt now, outside the queue: `alerts test` */
  attempt(msg: AlertMessage): Promise<DeliveryResult>;
  counters(): SinkCounters;
  /** stop working the queue; what is in flight may finish within its timeout */
  close(): Promise<void>;
}

/** The counters every sink keeps, and the bounded queue (drop the oldest) every queued sink uses. */
export class SinkState {
  readonly queue: AlertMessage[] = [];
  events = 0;
  aggregated = 0;
  delivered = 0;
  retried = 0;
  failed = 0;
  dropped = 0;
  inFlight = 0;
  lastDeliveredAt?: number;
  lastFailedAt?: number;
  lastError?: string;
  /** delivery latencies (ms) of recent messages, for the bench and `health` */
  readonly latencies: number[] = [];

  constructor(private readonly max: number) {}

  /** @returns the message dropped to make room, if any */
  push(msg: AlertMessage): AlertMessage | undefined {
    this.queue.push(msg);
    if (this.queue.length <= this.max) return undefined;
    this.dropped++;
    return this.queue.shift();
  }

  ok(msg: AlertMessage, at: number): void {
    this.delivered++;
    this.lastDeliveredAt = at;
    this.latencies.push(at - msg.queuedAt);
    if (this.latencies.length > 1000) this.latencies.splice(0, this.latencies.length - 1000);
  }

  fail(error: string, at: number): void {
    this.failed++;
    this.lastFailedAt = at;
    this.lastError = error;
  }

  counters(name: string, kind: SinkCounters['kind'], target: string): SinkCounters {
    return {
      name,
      kind,
      target,
      events: this.events,
      aggregated: this.aggregated,
      delivered: this.delivered,
      retried: this.retried,
      failed: this.failed,
      dropped: this.dropped,
      queued: this.queue.length,
      inFlight: this.inFlight,
      ...(this.lastDeliveredAt !== undefined ? { lastDeliveredAt: this.lastDeliveredAt } : {}),
      ...(this.lastFailedAt !== undefined ? { lastFailedAt: this.lastFailedAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }
}
