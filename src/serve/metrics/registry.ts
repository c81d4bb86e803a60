import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Runtime } from '../../console/runtime.js';
import { NO_BEACON_COUNTERS, type Inventory, type MigrationEvent, type MigrationJob } from '../../model/types.js';

/** What the metrics read: a running session (embedded or the service's), and what only the service knows. */
export interface MetricsSources {
  runtime: Pick<Runtime, 'engine' | 'scanner' | 'listener' | 'migrations' | 'alerts'>;
  /** operators attached to the service now (absent: 0) */
  attachedOperators?: () => number;
}

/** the beacon classes, as the listener counts them (received is their sum, so it is not a class) */
const BEACON_CLASSES = Object.keys(NO_BEACON_COUNTERS).filter((k) => k !== 'perSecond' && k !== 'received');
/** what a sink's counters become as `result` labels */
const ALERT_RESULTS = ['delivered', 'failed', 'retried', 'dropped', 'aggregated'] as const;

/**
 * A counter fed from a running total kept elsewhere: each scrape adds what the total grew by, so the series is a
 * true Prometheus counter (monotonic) without a second bookkeeping of every increment.
 */
function fromTotals(c: Counter<string>, totals: () => Iterable<[Record<string, string>, number]>, seen = new Map<string, number>()) {
  for (const [labels, total] of totals()) {
    const key = JSON.stringify(labels);
    const delta = total - (seen.get(key) ?? 0);
    if (delta > 0) c.inc(labels, delta);
    if (delta === 0 && !seen.has(key)) c.inc(labels, 0);
    seen.set(key, total);
  }
}

/** downtime of a completed job: what libvirt reported, else the stop-and-copy stage's length */
function downtimeSeconds(job: MigrationJob): number | undefined {
  const reported = job.lastStats?.totalDowntimeMs;
  if (reported !== undefined) return reported / 1000;
  const s = job.stages.find((x) => x.stage === 'stop-and-copy');
  return s?.leftAt !== undefined ? (s.leftAt - s.enteredAt) / 1000 : undefined;
}

type Registers = Registry[];
type Detach = () => void;

/** billboard_beacons_total{class}, billboard_findings_open{code,severity} */
function billboardSeries(src: MetricsSources, registers: Registers): void {
  const { engine, listener } = src.runtime;
  const beaconSeen = new Map<string, number>();
  const beacons: Counter<string> = new Counter({
    name: 'billboard_beacons_total',
    help: 'Beacons received, by how the listener classed them',
    labelNames: ['class'],
    registers,
    collect: () => {
      const c = listener.counters() as unknown as Record<string, number>;
      fromTotals(beacons, () => BEACON_CLASSES.map((k) => [{ class: k }, c[k] ?? 0]), beaconSeen);
    },
  });
  const findings: Gauge<string> = new Gauge({
    name: 'billboard_findings_open',
    help: 'Open (not acknowledged, not resolved) findings, by code and severity',
    labelNames: ['code', 'severity'],
    registers,
    collect: () => {
      findings.reset();
      for (const f of engine.findings(false)) if (f.state === 'open') findings.inc({ code: f.code, severity: f.severity });
    },
  });
}

/** billboard_hosts_up, billboard_host_up{host}, billboard_scan_duration_seconds{host} */
function hostSeries(src: MetricsSources, registers: Registers): Detach {
  const { scanner } = src.runtime;
  const hostsUp: Gauge = new Gauge({
    name: 'billboard_hosts_up',
    help: 'Lab hosts whose last scan succeeded',
    registers,
    collect: () => hostsUp.set(scanner.statuses().filter((h) => h.up).length),
  });
  const hostUp: Gauge<string> = new Gauge({
    name: 'billboard_host_up',
    help: '1 when the host answered its last scan, else 0',
    labelNames: ['host'],
    registers,
    collect: () => {
      hostUp.reset();
      for (const h of scanner.statuses()) hostUp.set({ host: h.name }, h.up ? 1 : 0);
    },
  });
  const scanSeconds = new Histogram({
    name: 'billboard_scan_duration_seconds',
    help: 'How long a successful scan of a host took',
    labelNames: ['host'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const onInventory = (inv: Inventory): void => scanSeconds.observe({ host: inv.host }, inv.durationMs / 1000);
  scanner.on('inventory', onInventory);
  return () => scanner.off('inventory', onInventory);
}

/** billboard_migrations_total{state}, billboard_migration_downtime_seconds */
function migrationSeries(src: MetricsSources, registers: Registers): Detach {
  const { migrations } = src.runtime;
  const total = new Counter({
    name: 'billboard_migrations_total',
    help: 'Migrations that ended, by terminal state',
    labelNames: ['state'],
    registers,
  });
  for (const state of ['completed', 'failed', 'aborted', 'denied']) total.inc({ state }, 0);
  const downtime = new Histogram({
    name: 'billboard_migration_downtime_seconds',
    help: 'Downtime (stop-and-copy) of completed migrations',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers,
  });
  const onMigration = (ev: MigrationEvent): void => {
    if (ev.type !== 'end') return;
    total.inc({ state: ev.state });
    if (ev.state !== 'completed') return;
    try {
      const s = downtimeSeconds(migrations.job(ev.job));
      if (s !== undefined) downtime.observe(s);
    } catch {
      // the job left the list: no downtime to record
    }
  };
  migrations.on('event', onMigration);
  return () => migrations.off('event', onMigration);
}

/** billboard_store_write_seconds, billboard_alerts_total{sink,result}, billboard_attached_operators */
function serviceSeries(src: MetricsSources, registers: Registers): Detach {
  const { alerts } = src.runtime;
  const storeWrite = new Histogram({
    name: 'billboard_store_write_seconds',
    help: 'Durable store writes (sealed, appended, fsynced)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const onWrite = (seconds: number): void => storeWrite.observe(seconds);
  const alertSeen = new Map<string, number>();
  const totals = (): [Record<string, string>, number][] =>
    alerts.counters().flatMap((s) => ALERT_RESULTS.map((r): [Record<string, string>, number] => [{ sink: s.name, result: r }, s[r]]));
  const alertsTotal: Counter<string> = new Counter({
    name: 'billboard_alerts_total',
    help: 'Alert messages per sink and result (aggregated counts events folded into one message)',
    labelNames: ['sink', 'result'],
    registers,
    collect: () => fromTotals(alertsTotal, totals, alertSeen),
  });
  const operators: Gauge = new Gauge({
    name: 'billboard_attached_operators',
    help: 'Operators attached to the service now',
    registers,
    collect: () => operators.set(src.attachedOperators?.() ?? 0),
  });
  alerts.storeWatch.on('write', onWrite);
  return () => alerts.storeWatch.off('write', onWrite);
}

/**
 * The registry behind /metrics: the series issue 16 lists, and the default process metrics. Labels are bounded by
 * the config (host, sink), the code list and the severities; no series is per VM. @returns the registry and a
 * function that unsubscribes it from the session.
 */
export function buildRegistry(src: MetricsSources): { registry: Registry; detach: () => void } {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  billboardSeries(src, registers);
  const detaches = [hostSeries(src, registers), migrationSeries(src, registers), serviceSeries(src, registers)];
  return { registry, detach: () => detaches.forEach((d) => d()) };
}
