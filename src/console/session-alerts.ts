import { hostname } from 'node:os';
import { AlertDispatcher, type AlertLog, type EnforcementOutcome } from '../alerts/index.js';
import type { ResolvedConfig } from '../model/config.js';
import type { Finding, HostStatus, MigrationEvent, MigrationJob } from '../model/types.js';
import { SessionHealth, StoreWatch, type AlertService, type HealthReport } from './health.js';

/** What the session feeds the alerts from: the engine's findings, the scanner's statuses, the migrations' ends. */
export interface AlertSources {
  engine: { findings(all?: boolean): Finding[]; on(event: 'finding', fn: (f: Finding) => void): unknown };
  scanner: { statuses(): HostStatus[]; on(event: 'status', fn: () => void): unknown };
  migrations: { job(ref: string): MigrationJob; on(event: 'event', fn: (ev: MigrationEvent) => void): unknown };
}

/**
 * A session's alerts, store watch and health, built from the config. Only the store's writer alerts: a read-only
 * session beside a writer (or beside `serve`) would tell everything twice.
 */
export class SessionAlerts implements AlertService {
  readonly dispatcher: AlertDispatcher;
  readonly storeWatch: StoreWatch;
  readonly sessionHealth: SessionHealth;

  constructor(config: ResolvedConfig, readOnlyStore: boolean, log?: AlertLog) {
    this.dispatcher = new AlertDispatcher({ sinks: readOnlyStore ? [] : config.alerts, console: hostname(), log });
    this.storeWatch = new StoreWatch(readOnlyStore, this.dispatcher);
    this.sessionHealth = new SessionHealth(config.storePath, this.storeWatch, () => this.dispatcher.counters());
  }

  /** subscribe to what happens; findings that exist now were told in an earlier run */
  wire(s: AlertSources): void {
    const d = this.dispatcher;
    d.seed(s.engine.findings(false));
    s.engine.on('finding', (f) => d.finding(f));
    s.scanner.on('status', () => d.hostStatuses(s.scanner.statuses()));
    d.hostStatuses(s.scanner.statuses());
    s.migrations.on('event', (ev) => {
      if (ev.type !== 'end') return;
      try {
        d.migrationEnded(s.migrations.job(ev.job));
      } catch {
        // the job is gone from the list: nothing to tell about it
      }
    });
  }

  enforcement(o: EnforcementOutcome): void {
    this.dispatcher.enforcement(o);
  }

  test(sink?: string): ReturnType<AlertService['test']> {
    return this.dispatcher.test(sink);
  }

  counters(): ReturnType<AlertService['counters']> {
    return this.dispatcher.counters();
  }

  auditFailed(error: string, id: string): void {
    this.dispatcher.auditFailed(error, id);
  }

  health(): HealthReport {
    return this.sessionHealth.report();
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}
