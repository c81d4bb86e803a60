// Health: a store write that fails makes `health` and /healthz say why (503), tells the alerts once, and clears on
// the next good write. The metrics server runs for real on loopback over a session's parts.
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionAlerts } from '../../src/console/session-alerts.js';
import { BillboardError } from '../../src/model/errors.js';
import { configSchema, type ResolvedConfig } from '../../src/model/config.js';
import { startMetrics, type MetricsSources } from '../../src/serve/metrics/index.js';
import type { StoreApi } from '../../src/store/api.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function session(): { alerts: SessionAlerts; store: StoreApi; fail: { next: boolean }; told: string[] } {
  const storePath = join(dir, 'store.db');
  writeFileSync(storePath, '');
  const config: ResolvedConfig = { ...configSchema.parse({}), storePath, logPath: '/dev/null' };
  const alerts = new SessionAlerts(config, false);
  const told: string[] = [];
  alerts.dispatcher.offer = (ev) => void told.push(ev.type);
  const fail = { next: false };
  const raw = {
    path: storePath,
    audit: async () => {
      if (fail.next) throw new BillboardError('STORE_WRITE', 'could not write the store: ENOSPC');
      return { seq: 1 };
    },
    registration: () => undefined,
  } as unknown as StoreApi;
  return { alerts, store: alerts.storeWatch.wrap(raw), fail, told };
}

describe('health', () => {
  it('a failed store write makes the session unhealthy, tells the alerts once, and a good write clears it', async () => {
    const { alerts, store, fail, told } = session();
    const writes: boolean[] = [];
    alerts.storeWatch.on('write', (_s: number, ok: boolean) => writes.push(ok));
    await store.audit('a', 'x', 't');
    expect(alerts.health().ok).toBe(true);
    fail.next = true;
    await expect(store.audit('a', 'x', 't')).rejects.toThrow(/ENOSPC/);
    await expect(store.audit('a', 'x', 't')).rejects.toThrow(/ENOSPC/);
    const h = alerts.health();
    expect(h.ok).toBe(false);
    expect(h.problems[0]).toMatch(/last store write failed: could not write the store: ENOSPC/);
    expect(told).toEqual(['store-failure']);
    fail.next = false;
    await store.audit('a', 'x', 't');
    expect(alerts.health().ok).toBe(true);
    expect(writes).toEqual([true, false, false, true]);
    expect(store.registration('x')).toBeUndefined();
    expect(store.path).toBe(join(dir, 'store.db'));
  });

  it('/healthz answers 503 with why, and 200 again once it is fixed', async () => {
    const { alerts, store, fail } = session();
    const emitter = (): EventEmitter => new EventEmitter();
    const runtime = {
      engine: { findings: () => [] },
      scanner: Object.assign(emitter(), { statuses: () => [] }),
      listener: { counters: () => ({ valid: 3 }) },
      migrations: Object.assign(emitter(), { job: () => undefined }),
      alerts,
    } as unknown as MetricsSources['runtime'];
    let beaconUp = true;
    alerts.sessionHealth.addListener('beacon', () => ({ up: beaconUp, detail: 'udp 127.0.0.1:7447' }));
    const m = await startMetrics('127.0.0.1:0', { runtime });
    try {
      const get = async (): Promise<[number, { ok: boolean; problems: string[] }]> => {
        const r = await fetch(`http://127.0.0.1:${m.port}/healthz`);
        return [r.status, (await r.json()) as { ok: boolean; problems: string[] }];
      };
      expect((await get())[0]).toBe(200);
      fail.next = true;
      await store.audit('a', 'x', 't').catch(() => undefined);
      beaconUp = false;
      const [status, body] = await get();
      expect(status).toBe(503);
      expect(body.ok).toBe(false);
      expect(body.problems).toEqual([expect.stringMatching(/store write failed/), 'beacon listener is down: udp 127.0.0.1:7447']);
      fail.next = false;
      beaconUp = true;
      await store.audit('a', 'x', 't');
      expect((await get())[0]).toBe(200);
      const text = await (await fetch(`http://127.0.0.1:${m.port}/metrics`)).text();
      expect(text).toMatch(/^billboard_beacons_total\{class="valid"\} 3$/m);
      expect(text).toMatch(/^billboard_store_write_seconds_count 2$/m);
    } finally {
      await m.close();
    }
  });
});
