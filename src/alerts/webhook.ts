import type { WebhookSinkConfig } from '../model/alerts-config.js';
import { errorLine } from '../model/errors.js';
import { safeText } from '../model/text.js';
import { SinkState, type AlertLog, type AlertMessage, type DeliveryResult, type Sink, type SinkCounters } from './sink.js';
import { backoffMs } from '../model/backoff.js';

/** first retry after this, doubling per attempt up to BACKOFF_MAX_MS, with jitter */
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The URL as `health` may show it: no user, no password, no query (tokens live there too). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid url)';
  }
}

/** fetch refuses a URL with credentials: `http://user:pass@host/` becomes the URL and a basic authorization header */
function splitCredentials(raw: string): { url: string; auth: Record<string, string> } {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: raw, auth: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), auth: { authorization: `Basic ${basic}` } };
}

/**
 * An HTTP POST of one JSON document per message. One message is in flight at a time, so the receiver sees them in
 * order; a failed attempt (a network error, a timeout, a 5xx, 408 or 429) is retried with a doubling backoff, a
 * 4xx is not (the receiver refused it; sending it again changes nothing). The queue is bounded: when the receiver
 * stays away, the oldest message is dropped and counted, so an absent receiver costs at most `queue` messages.
 */
export class WebhookSink implements Sink {
  readonly kind = 'webhook';
  readonly state: SinkState;
  private running = false;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly headers: Record<string, string>;
  /** the URL without its credentials (they travel as basic authentication) */
  private readonly url: string;

  constructor(
    readonly name: string,
    private readonly cfg: WebhookSinkConfig,
    private readonly log?: AlertLog,
    private readonly backoffBaseMs = BACKOFF_BASE_MS,
  ) {
    this.state = new SinkState(cfg.queue);
    const { url, auth } = splitCredentials(cfg.url);
    this.url = url;
    this.headers = { 'content-type': 'application/json', 'user-agent': 'billboard-alerts', ...auth, ...cfg.headers };
  }

  deliver(msg: AlertMessage): void {
    if (this.closed) return;
    const dropped = this.state.push(msg);
    if (dropped && (this.state.dropped === 1 || this.state.dropped % 100 === 0)) {
      this.log?.warn({ sink: this.name, dropped: this.state.dropped }, 'alert queue full: the oldest alert was dropped');
    }
    if (!this.running) void this.work();
  }

  async attempt(msg: AlertMessage): Promise<DeliveryResult> {
    const t0 = Date.now();
    try {
      const status = await this.post(msg.body);
      const ok = status >= 200 && status < 300;
      return { ok, ms: Date.now() - t0, detail: `HTTP ${status}` };
    } catch (e) {
      return { ok: false, ms: Date.now() - t0, detail: this.why(e) };
    }
  }

  counters(): SinkCounters {
    return this.state.counters(this.name, this.kind, redactUrl(this.cfg.url));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  private async work(): Promise<void> {
    this.running = true;
    try {
      for (let msg = this.state.queue.shift(); msg && !this.closed; msg = this.state.queue.shift()) await this.send(msg);
    } finally {
      this.running = false;
    }
  }

  /** deliver one message, retrying as configured */
  private async send(msg: AlertMessage): Promise<void> {
    this.state.inFlight = 1;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        let error: string;
        let retry = true;
        try {
          const status = await this.post(msg.body);
          if (status >= 200 && status < 300) return this.state.ok(msg, Date.now());
          error = `HTTP ${status}`;
          retry = status >= 500 || status === 408 || status === 429;
        } catch (e) {
          error = this.why(e);
        }
        if (!retry || attempt >= this.cfg.retries) {
          this.state.fail(error, Date.now());
          this.log?.warn({ sink: this.name, type: msg.event.type, attempts: attempt + 1, err: error }, 'alert not delivered');
          return;
        }
        this.state.retried++;
        this.state.lastError = error;
        await this.sleep(this.backoff(attempt));
      }
    } finally {
      this.state.inFlight = 0;
    }
  }

  private async post(body: string): Promise<number> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: this.headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.cfg.timeoutS * 1000),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status;
  }

  /** one line, without the URL's credentials (fetch errors may quote it) */
  private why(e: unknown): string {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const line =
      err?.name === 'TimeoutError'
        ? `no answer within ${this.cfg.timeoutS} s`
        : err?.cause?.code
          ? `${err.cause.code}: ${err.cause.message ?? ''}`
          : errorLine(e);
    return safeText(line.split(this.cfg.url).join(redactUrl(this.cfg.url)), 256);
  }

  private backoff(attempt: number): number {
    const base = backoffMs(this.backoffBaseMs, BACKOFF_MAX_MS, attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
