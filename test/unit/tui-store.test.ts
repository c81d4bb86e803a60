import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/tui/filter.js';
import { bar, fit, sparkline } from '../../src/tui/format.js';
import { createFakeConsole } from '../support/fake-console.js';
import { TuiStore } from '../../src/tui/store.js';
import { columnWidths, formatted, VIEWS, visibleItems } from '../../src/tui/views.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TuiStore', () => {
  it('turns thousands of change notifications into at most one publish per interval', async () => {
    const api = await createFakeConsole({ vms: 500 });
    const store = new TuiStore(api, { intervalMs: 100, clockMs: 0 });
    let publishes = 0;
    store.subscribe(() => publishes++);
    const start = Date.now();
    // at least 450 ms and at least 40 rounds (2,000 notifications), however slowly a loaded machine loops
    for (let round = 0; Date.now() - start < 450 || round < 40; round++) {
      api.beaconUpdates(50); // 50 unthrottled notifications each
      await sleep(2);
    }
    await sleep(120);
    store.close();
    expect(publishes).toBeGreaterThanOrEqual(2);
    expect(publishes).toBeLessThanOrEqual(Math.ceil((Date.now() - start) / 100) + 1);
    expect(store.getState().snapshot.version).toBeGreaterThan(1000);
  });

  it('keeps a bounded stats history per job', async () => {
    const api = await createFakeConsole();
    const store = new TuiStore(api, { intervalMs: 0, clockMs: 0, historyLength: 5 });
    for (let i = 0; i < 12; i++) {
      api.tick(500);
      store.publishNow();
    }
    const h = store.getState().history.get('M-2')!;
    expect(h.length).toBe(5);
    expect(h[4]!.at).toBeGreaterThan(h[0]!.at);
    store.close();
  });
});

describe('views and formatting', () => {
  it('caches pre-formatted rows by row identity', async () => {
    const api = await createFakeConsole();
    const row = api.snapshot().rows[0]!;
    expect(formatted(VIEWS.billboard, row)).toBe(formatted(VIEWS.billboard, row));
    expect(formatted(VIEWS.billboard, { ...row })).not.toBe(formatted(VIEWS.billboard, row));
  });

  it('filters (regex, ! inverts) and sorts without touching the input', async () => {
    const rows = (await createFakeConsole()).snapshot().rows;
    const f = parseFilter('^web');
    const webs = visibleItems(VIEWS.billboard, rows, f, 0);
    expect(webs.map((r) => (r as { name: string }).name)).toEqual(['web-01', 'web-02']);
    const notVm = visibleItems(VIEWS.billboard, rows, parseFilter('!vm-'), 0);
    expect(notVm.length).toBe(9); // the lab's named VMs, new-02 (pending from a scan) among them
    expect(parseFilter('(').ok).toBe(false);
    expect(visibleItems(VIEWS.billboard, rows, undefined, 0)).not.toBe(rows);
  });

  it('column widths fill the width at 80 and 120 columns', () => {
    for (const w of [78, 118]) {
      const ws = columnWidths(VIEWS.billboard, w);
      expect(ws.reduce((a, b) => a + b, 0) + ws.length - 1).toBe(w);
    }
  });

  it('fit, bar and sparkline', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4)).toBe('ab  ');
    expect(bar(0.5, 4)).toBe('██░░');
    expect(sparkline([0, 10], 2, 10)).toBe('▁█');
  });
});

describe('jobs that change in place behind the api', () => {
  it('each publish hands the views new job objects, so the Migrations STATE column follows the job', () => {
    const job = {
      id: 'M-1',
      vm: 'u',
      vmName: 'web-01',
      source: 'lab-a',
      destination: 'lab-b',
      state: 'awaiting-authorization',
      stage: 'pre-migration',
      requestedAt: 1,
      requestedBy: 'a',
      checks: [],
    } as any;
    const jobs = [job];
    const listeners = new Set<() => void>();
    const snapshot = { version: 1, rows: [], findings: [], hosts: [], beacons: {} } as any;
    const api = {
      snapshot: () => snapshot,
      jobs: () => jobs, // the same objects, mutated, as the migration manager keeps them
      pending: () => [],
      auditLog: () => [],
      subscribe: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
    } as any;
    const store = new TuiStore(api, { intervalMs: 0, clockMs: 0 });
    const view = VIEWS.migrations as any;
    const state = () => formatted(view, visibleItems(view, store.getState().jobs, undefined, 0)[0]).cells.join(' ');
    expect(state()).toContain('awaiting-authorization');
    job.state = 'completed';
    job.stage = 'activation';
    store.publishNow();
    expect(state()).toContain('completed');
    store.close();
  });
});
