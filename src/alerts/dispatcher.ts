import type { AlertSinkConfig } from '../model/alerts-config.js';
import { sinkNames } from '../model/alerts-config.js';
import { BillboardError } from '../model/errors.js';
import type { Finding, HostStatus, MigrationJob } from '../model/types.js';
import { FindingDedup, HostDedup, OnceSet } from './dedup.js';
import {
  atLeast,
  enforcementEvent,
  findingEvent,
  hostEvent,
  migrationEvent,
  payloadOf,
  storeEvent,
  testEvent,
  type AlertEvent,
  type EnforcementOutcome,
} from './events.js';
import { ExecSink } from './exec.js';
import type { AlertLog, AlertMessage, DeliveryResult, Sink, SinkCounters } from './sink.js';
import { SyslogSink } from './syslog.js';
import { WebhookSink } from './webhook.js';
import { Window } from './window.js';

/** What the layers above tell the alerts: each call is cheap and synchronous, and never waits for a delivery. */
export interface AlertFeed {
  /** every finding raise / update / ack / resolve (the engine's 'finding' event) */
  finding(f: Finding): void;
  /** the scanner's host statuses, whenever one changes */
  hostStatuses(statuses: readonly HostStatus[]): void;
  /** a migration job reached a terminal state */
  migrationEnded(job: MigrationJob): void;
  /** policy acted on a finding (or tried to) */
  enforcement(o: EnforcementOutcome): void;
  /** a store write failed / succeeded again */
  storeFailed(error: string): void;
  storeRecovered(): void;
  /** `audit verify` found the chain broken (id: where, so one break is told once) */
  auditFailed(error: string, id: string): void;
}

export interface AlertDispatcherOptions {
  sinks: readonly AlertSinkConfig[];
  /** who is speaking: the `console` field of every payload (default: the host name) */
  console: string;
  log?: AlertLog;
  now?: () => number;
  env?: NodeJS.ProcessEnv;
  /** tests: the webhook's first retry delay */
  backoffBaseMs?: number;
}

interface Route {
  cfg: AlertSinkConfig;
  sink: Sink & { state: { events: number; aggregated: number } };
  window: Window;
}

export interface TestResult extends DeliveryResult {
  sink: string;
}

/**
 * Turns what happens into alerts and hands them to the sinks: dedup (one event per finding and severity, per job,
 * per host change), each sink's filter (minSeverity, codes), its window (at most one message per window, the rest
 * aggregated), then its own queue. Nothing here waits on a receiver: the engine calls in, and returns at once.
 */
export class AlertDispatcher implements AlertFeed {
  private readonly routes: Route[];
  private readonly findings = new FindingDedup();
  private readonly hosts = new HostDedup();
  private readonly once = new OnceSet();
  private readonly now: () => number;
  private storeDown = false;
  private closed = false;

  constructor(private readonly opts: AlertDispatcherOptions) {
    this.now = opts.now ?? Date.now;
    const names = sinkNames(opts.sinks);
    this.routes = opts.sinks.map((cfg, i) => {
      const sink = makeSink(names[i]!, cfg, opts);
      const window = new Window(cfg.windowS * 1000, (ev, n) => this.send(route, ev, n), this.now);
      const route: Route = { cfg, sink, window };
      return route;
    });
  }

  get size(): number {
    return this.routes.length;
  }

  /** findings that exist at start were news in an earlier run */
  seed(findings: readonly Finding[]): void {
    this.findings.seed(findings);
  }

  finding(f: Finding): void {
    if (!this.routes.length) return;
    const v = this.findings.judge(f);
    if (v) this.offer(findingEvent(f, this.now(), v.kind === 'escalation' ? v.from : undefined));
  }

  hostStatuses(statuses: readonly HostStatus[]): void {
    for (const s of this.hosts.judge(statuses)) this.offer(hostEvent(s.name, s.up, this.now(), s.lastError, s.domains));
  }

  migrationEnded(job: MigrationJob): void {
    if ((job.state === 'failed' || job.state === 'aborted') && this.once.first(`job:${job.id}`)) {
      this.offer(migrationEvent(job, this.now()));
    }
  }

  enforcement(o: EnforcementOutcome): void {
    this.offer(enforcementEvent(o, this.now()));
  }

  storeFailed(error: string): void {
    if (this.storeDown) return;
    this.storeDown = true;
    this.offer(storeEvent('store-failure', error, this.now()));
  }

  storeRecovered(): void {
    this.storeDown = false;
  }

  auditFailed(error: string, id: string): void {
    if (this.once.first(`audit:${id}`)) this.offer(storeEvent('audit-failure', error, this.now()));
  }

  /** an event, to every sink whose filter takes it */
  offer(ev: AlertEvent): void {
    if (this.closed) return;
    for (const r of this.routes) {
      if (!passes(r.cfg, ev)) continue;
      r.sink.state.events++;
      r.window.offer(ev);
    }
  }

  /** `alerts test [SINK]`: a test event to one sink or all, now, outside windows and queues */
  async test(name?: string): Promise<TestResult[]> {
    const routes = name === undefined ? this.routes : this.routes.filter((r) => r.sink.name === name);
    if (name !== undefined && !routes.length) {
      const known = this.routes.map((r) => r.sink.name).join(', ') || 'none configured';
      throw new BillboardError('NOT_FOUND', `no alert sink "${name}" (sinks: ${known})`);
    }
    return Promise.all(
      routes.map(async (r) => {
        const res = await r.sink.attempt(this.message(testEvent(this.now(), r.sink.name), 1));
        return { sink: r.sink.name, ...res };
      }),
    );
  }

  counters(): SinkCounters[] {
    return this.routes.map((r) => r.sink.counters());
  }

  /** send what windows hold, then stop the sinks (in-flight deliveries end within their timeouts) */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const r of this.routes) r.window.close();
    this.closed = true;
    await Promise.all(this.routes.map((r) => r.sink.close()));
  }

  private send(r: Route, ev: AlertEvent, events: number): void {
    if (events > 1) r.sink.state.aggregated += events;
    r.sink.deliver(this.message(ev, events));
  }

  private message(ev: AlertEvent, events: number): AlertMessage {
    return {
      event: ev,
      body: JSON.stringify(payloadOf(ev, this.opts.console)),
      events,
      queuedAt: ev.type === 'aggregate' ? this.now() : ev.at,
    };
  }
}

function passes(cfg: AlertSinkConfig, ev: AlertEvent): boolean {
  if (!atLeast(ev.severity, cfg.minSeverity)) return false;
  return !cfg.codes || !ev.code || cfg.codes.includes(ev.code);
}

function makeSink(name: string, cfg: AlertSinkConfig, opts: AlertDispatcherOptions): Route['sink'] {
  if (cfg.kind === 'webhook') return new WebhookSink(name, cfg, opts.log, opts.backoffBaseMs);
  if (cfg.kind === 'exec') return new ExecSink(name, cfg, opts.log);
  return new SyslogSink(name, cfg, opts.env);
}
