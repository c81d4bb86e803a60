import { safeText } from '../model/text.js';
import { worse, type AlertEvent } from './events.js';

/** how many of a window's events an aggregated alert quotes */
const SAMPLES = 10;
/** how many distinct codes / types an aggregate counts by name (the rest fall under "other") */
const MAX_KEYS = 32;

/**
 * At most one message per sink per window. The first event after a quiet window goes out at once; whatever arrives
 * before the window has passed since that send is held and goes out when it ends — as itself when it is alone,
 * else as one aggregated alert that says how many, by type and code, quoting the first few. A flood costs a counter
 * per type and code and SAMPLES events, whatever its size.
 */
export class Window {
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private first: AlertEvent | undefined;
  private count = 0;
  private since = 0;
  private byType: Record<string, number> = {};
  private byCode: Record<string, number> = {};
  private samples: string[] = [];
  private severity: AlertEvent['severity'] = 'low';
  private closed = false;

  constructor(
    private readonly windowMs: number,
    private readonly send: (ev: AlertEvent, events: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** events held for the next message */
  get held(): number {
    return this.count;
  }

  offer(ev: AlertEvent): void {
    if (this.closed) return;
    const now = this.now();
    if (!this.timer && now - this.lastSentAt >= this.windowMs) {
      this.lastSentAt = now;
      this.send(ev, 1);
      return;
    }
    this.hold(ev, now);
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.lastSentAt + this.windowMs - now));
    this.timer.unref();
  }

  /** send what is held now (the window ended, or the dispatcher closes) */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.count === 0) return;
    const now = this.now();
    this.lastSentAt = now;
    const ev = this.count === 1 ? this.first! : this.aggregate(now);
    const n = this.count;
    this.reset();
    this.send(ev, n);
  }

  close(): void {
    this.flush();
    this.closed = true;
  }

  private hold(ev: AlertEvent, now: number): void {
    if (this.count === 0) {
      this.first = ev;
      this.since = now;
    }
    this.count++;
    bump(this.byType, ev.type, 1);
    if (ev.code) bump(this.byCode, ev.code, 1);
    if (this.samples.length < SAMPLES) this.samples.push(ev.summary);
    this.severity = worse(this.severity, ev.severity);
  }

  private aggregate(now: number): AlertEvent {
    const seconds = Math.max(1, Math.round((now - this.since) / 1000));
    const kinds = Object.entries(this.byCode).length ? this.byCode : this.byType;
    const top = Object.entries(kinds)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    const summary = safeText(`${this.count} alerts in ${seconds} s (${top}); the first: ${this.samples[0] ?? ''}`, 1024);
    return {
      type: 'aggregate',
      at: now,
      severity: this.severity,
      summary,
      count: this.count,
      byType: this.byType,
      byCode: this.byCode,
      samples: this.samples,
    };
  }

  private reset(): void {
    this.first = undefined;
    this.count = 0;
    this.byType = {};
    this.byCode = {};
    this.samples = [];
    this.severity = 'low';
  }
}

function bump(counts: Record<string, number>, key: string, n: number): void {
  const k = key in counts || Object.keys(counts).length < MAX_KEYS ? key : 'other';
  counts[k] = (counts[k] ?? 0) + n;
}
