// Issue 16's acceptance in an embedded session: the demo's libvirt test-driver hosts, a real runtime, a real HTTP
// receiver on loopback and a real exec sink script. A clone of db-01 started on lab-b must reach both with the right
// VM and hosts, once; /metrics must parse with a real parser and carry the listed series without a per-VM label.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/cli/config-load.js';
import { runLine } from '../../src/console/dispatch.js';
import { startRuntime, type Runtime } from '../../src/console/runtime.js';
import { DEMO_VMS } from '../../src/demo/cast.js';
import { DemoLab } from '../../src/demo/lab.js';
import { configSchema } from '../../src/model/config.js';
import { startMetrics, type MetricsServer } from '../../src/serve/metrics/index.js';
import { AlertReceiver, type Received } from '../support/alert-receiver.js';

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}
const parseProm = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const dir = mkdtempSync(join(tmpdir(), 'bb-alerts-'));
const execOut = join(dir, 'exec-out');
const receiver = new AlertReceiver();
let rt: Runtime;
let metrics: MetricsServer;

/**
 * the exec sink: a real script that keeps each event it is handed on stdin, and its environment's names; the event's
 * .json appears whole (renamed into place) and last, so a test that sees it can read both
 */
function sinkScript(): string {
  const script = join(dir, 'page-me.sh');
  writeFileSync(
    script,
    '#!/bin/sh\nf="$1/alert-$(date +%s%N)-$$"\ncat > "$f.part"\nenv | cut -d= -f1 > "$f.env"\nmv "$f.part" "$f.json"\n',
  );
  chmodSync(script, 0o755);
  return script;
}

function execEvents(): Record<string, unknown>[] {
  return readdirSync(execOut)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(execOut, f), 'utf8')) as Record<string, unknown>);
}

const db = DEMO_VMS.find((v) => v.name === 'db-01')!;
const isClone = (p: Record<string, unknown>): boolean => (p.finding as { code?: string } | undefined)?.code === 'DUPLICATE_UUID';

beforeAll(async () => {
  mkdirSync(execOut);
  const url = await receiver.start();
  const lab = new DemoLab(dir, DEMO_VMS);
  const config = resolveConfig(
    configSchema.parse({
      store: { path: join(dir, 'store.db') },
      log: { path: join(dir, 'billboard.log'), level: 'info' },
      beacon: { listen: '127.0.0.1:0', intervalS: 600 },
      scan: { intervalS: 3600, timeoutS: 10, concurrency: 3 },
      hosts: lab.hostConfigs(),
      alerts: [
        { kind: 'webhook', url, headers: { authorization: 'Bearer s3cret' }, windowS: 0.3 },
        { kind: 'exec', command: ['/bin/sh', sinkScript(), execOut], windowS: 0.3 },
      ],
    }),
    undefined,
  );
  rt = await startRuntime({
    config,
    actor: 'alerts-test',
    readOnly: false,
    mode: 'script',
    log: pino({ level: 'silent' }),
    env: { ...process.env, BILLBOARD_PASSPHRASE: 'alerts test passphrase' },
    awaitFirstScan: true,
    createDriver: lab.createDriver,
  });
  for (const v of DEMO_VMS.filter((x) => x.approved)) {
    const macs = v.macs.map((m) => `--mac ${m}`).join(' ');
    for (const line of [`register ${v.name} --uuid ${v.uuid} ${macs} --host ${v.host}`, `approve ${v.name}`]) {
      const r = await runLine(line, rt.ctx);
      if (!r.ok) throw new Error(`${line}: ${r.error.message}`);
    }
  }
  await rt.scanner.scan();
  metrics = await startMetrics('127.0.0.1:0', { runtime: rt, attachedOperators: () => 2 });
  // the baseline's own alerts (unregistered build-01, …) have gone out; the clone starts a quiet window
  await new Promise((r) => setTimeout(r, 700));
  receiver.received.length = 0;
  for (const f of readdirSync(execOut)) rmSync(join(execOut, f));
  await lab.start('lab-b', db);
  await rt.scanner.scan(['lab-b']);
}, 60_000);

afterAll(async () => {
  await metrics?.close();
  await rt?.close();
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('alerts in an embedded session', () => {
  it('a clone on a second host reaches the webhook with the right VM and hosts, without the sink settings', async () => {
    await receiver.waitFor((r) => r.some((x) => isClone(x.json)));
    const hit = receiver.received.find((x) => isClone(x.json))!;
    const p = hit.json as { type: string; at: string; console: string; summary: string; finding: { vm: string; hosts: string[] } };
    expect(p.type).toBe('finding');
    expect(p.finding.vm).toBe(db.uuid);
    expect([...p.finding.hosts].sort()).toEqual(['lab-a', 'lab-b']);
    expect(p.summary).toMatch(/db-01/);
    expect(p.summary).toMatch(/lab-a and lab-b|lab-b and lab-a/);
    expect(typeof p.console).toBe('string');
    expect(Date.parse(p.at)).toBeGreaterThan(0);
    expect(hit.headers.authorization).toBe('Bearer s3cret');
    expect(hit.body).not.toContain('s3cret');
  });

  it('the exec sink gets the same event on stdin, without the console variables in its environment', async () => {
    const until = Date.now() + 10_000;
    while (!execEvents().some(isClone) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const p = execEvents().find(isClone) as { finding: { vm: string; hosts: string[] } };
    expect(p.finding.vm).toBe(db.uuid);
    expect([...p.finding.hosts].sort()).toEqual(['lab-a', 'lab-b']);
    const envs = readdirSync(execOut).filter((f) => f.endsWith('.env'));
    expect(envs.length).toBeGreaterThan(0);
    for (const f of envs) expect(readFileSync(join(execOut, f), 'utf8')).not.toMatch(/^BILLBOARD_/m);
  });

  it('a second scan does not send it again', async () => {
    const id = (receiver.received.find((x) => isClone(x.json))!.json.finding as { id: string }).id;
    await rt.scanner.scan();
    await rt.scanner.scan(['lab-b']);
    await new Promise((r) => setTimeout(r, 1000));
    const mentions = (r: Received): boolean => (r.json.finding as { id?: string } | undefined)?.id === id;
    expect(receiver.received.filter(mentions)).toHaveLength(1);
    expect(execEvents().filter((p) => (p.finding as { id?: string } | undefined)?.id === id)).toHaveLength(1);
  });

  it('`health --json` shows every sink counting, and `alerts test` reaches both', async () => {
    const test = await runLine('alerts test', rt.ctx);
    expect(test.ok, JSON.stringify(test)).toBe(true);
    await receiver.waitFor((r) => r.some((x) => x.json.type === 'test'));
    const h = await runLine('health', rt.ctx);
    expect(h.ok).toBe(true);
    const data = (h as { data: { ok: boolean; sinks: { name: string; delivered: number; target: string }[] } }).data;
    expect(data.ok).toBe(true);
    expect(data.sinks.map((s) => s.name)).toEqual(['webhook', 'exec']);
    for (const s of data.sinks) expect(s.delivered).toBeGreaterThan(0);
    expect(JSON.stringify(data)).not.toContain('s3cret');
    const missing = await runLine('alerts test pager', rt.ctx);
    expect(missing.ok).toBe(false);
  });

  it('/metrics parses with a real parser, carries the series, and no label names a VM', async () => {
    const res = await fetch(`http://127.0.0.1:${metrics.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const families = parseProm(text);
    const byName = new Map(families.map((f) => [f.name, f]));
    const want: [string, string][] = [
      ['billboard_beacons_total', 'COUNTER'],
      ['billboard_findings_open', 'GAUGE'],
      ['billboard_hosts_up', 'GAUGE'],
      ['billboard_host_up', 'GAUGE'],
      ['billboard_scan_duration_seconds', 'HISTOGRAM'],
      ['billboard_migrations_total', 'COUNTER'],
      ['billboard_migration_downtime_seconds', 'HISTOGRAM'],
      ['billboard_store_write_seconds', 'HISTOGRAM'],
      ['billboard_alerts_total', 'COUNTER'],
      ['billboard_attached_operators', 'GAUGE'],
      ['process_cpu_seconds_total', 'COUNTER'],
      ['process_resident_memory_bytes', 'GAUGE'],
    ];
    for (const [name, type] of want) expect(byName.get(name)?.type, name).toBe(type);
    expect(byName.get('billboard_hosts_up')!.metrics[0]!.value).toBe('3');
    expect(byName.get('billboard_attached_operators')!.metrics[0]!.value).toBe('2');
    const open = byName.get('billboard_findings_open')!.metrics;
    expect(open.some((m) => m.labels?.code === 'DUPLICATE_UUID' && m.labels.severity === 'critical')).toBe(true);
    // (the parser keeps a histogram's buckets but not its labels: the per-host series are read from the text)
    const scans = [...text.matchAll(/^billboard_scan_duration_seconds_count\{host="([^"]+)"\} [1-9]/gm)].map((m) => m[1]);
    expect(new Set(scans)).toEqual(new Set(['lab-a', 'lab-b', 'lab-c']));
    expect(Number(byName.get('billboard_store_write_seconds')!.metrics[0]!.buckets!['+Inf'])).toBeGreaterThan(0);
    const delivered = byName
      .get('billboard_alerts_total')!
      .metrics.find((m) => m.labels?.sink === 'webhook' && m.labels.result === 'delivered');
    expect(Number(delivered?.value)).toBeGreaterThan(0);
    const labelNames = new Set(families.flatMap((f) => f.metrics.flatMap((m) => Object.keys(m.labels ?? {}))));
    for (const l of labelNames)
      expect([
        'class',
        'code',
        'severity',
        'host',
        'state',
        'sink',
        'result',
        'le',
        'version',
        'major',
        'minor',
        'patch',
        'space',
        'kind',
        'type',
      ]).toContain(l);
    for (const v of DEMO_VMS) {
      expect(text).not.toContain(v.uuid);
      expect(text).not.toContain(`"${v.name}"`);
    }
  });

  it('/healthz says 200 while the store is writable and the listeners are up', async () => {
    const res = await fetch(`http://127.0.0.1:${metrics.port}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; listeners: { name: string; up: boolean }[] };
    expect(body.ok).toBe(true);
    expect(body.listeners.map((l) => l.name).sort()).toEqual(['beacon', 'metrics']);
    expect((await fetch(`http://127.0.0.1:${metrics.port}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metrics.port}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
  });
});
