// contrib/grafana-dashboard.json imports cleanly: a Grafana dashboard model with a Prometheus data source variable,
// every panel on it, unique ids, a grid that fits, and queries over the series billboard exports (and only those).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string; datasource: { uid: string } }[];
}

const ROOT = join(import.meta.dirname, '..', '..');
const dash = JSON.parse(readFileSync(join(ROOT, 'contrib', 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  id: null;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
};
const SERIES = [
  'billboard_beacons_total',
  'billboard_findings_open',
  'billboard_hosts_up',
  'billboard_host_up',
  'billboard_scan_duration_seconds_bucket',
  'billboard_migrations_total',
  'billboard_migration_downtime_seconds_bucket',
  'billboard_store_write_seconds_bucket',
  'billboard_alerts_total',
  'billboard_attached_operators',
];

describe('grafana dashboard', () => {
  it('is a dashboard model with a Prometheus data source variable that every panel uses', () => {
    expect(dash.id).toBeNull();
    expect(dash.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = dash.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
    for (const p of dash.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe('${datasource}');
    }
  });

  it('has unique panel ids and a grid that fits 24 columns without overlaps', () => {
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries every series billboard exports, and no other billboard series', () => {
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const used = new Set(exprs.flatMap((e) => e.match(/billboard_[a-z_]+/g) ?? []));
    expect([...used].sort()).toEqual([...SERIES].sort());
    for (const e of exprs) {
      for (const [open, close] of [
        ['(', ')'],
        ['{', '}'],
        ['[', ']'],
      ] as const) {
        expect(e.split(open).length, e).toBe(e.split(close).length);
      }
    }
  });
});
