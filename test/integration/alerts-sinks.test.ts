// The sinks against real receivers: an HTTP server on loopback that fails, hangs and recovers (or never does), a
// real exec sink script, a real unix datagram socket standing in for /dev/log, and a flood through the dispatcher.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AlertDispatcher } from '../../src/alerts/dispatcher.js';
import { findingEvent, payloadOf } from '../../src/alerts/events.js';
import { ExecSink } from '../../src/alerts/exec.js';
import type { AlertMessage } from '../../src/alerts/sink.js';
import { SyslogSink } from '../../src/alerts/syslog.js';
import { WebhookSink } from '../../src/alerts/webhook.js';
import { alertSinkSchema, type ExecSinkConfig, type SyslogSinkConfig, type WebhookSinkConfig } from '../../src/model/alerts-config.js';
import type { Finding } from '../../src/model/types.js';
import { AlertReceiver } from '../support/alert-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'bb-sinks-'));
const receivers: AlertReceiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function receiver(): Promise<[AlertReceiver, string]> {
  const r = new AlertReceiver();
  receivers.push(r);
  return [r, await r.start()];
}

function finding(i: number, over: Partial<Finding> = {}): Finding {
  return {
    id: `F-${i}`,
    key: `UNREGISTERED:${i}`,
    code: 'UNREGISTERED',
    severity: 'high',
    vm: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    vmName: `junk-${i}`,
    hosts: ['lab-c'],
    evidence: 'beacons from 127.0.0.1',
    firstSeen: Date.now(),
    lastSeen: Date.now(),
    count: 1,
    state: 'open',
    ...over,
  };
}

function message(i: number, pad = 0): AlertMessage {
  const event = findingEvent(finding(i, pad ? { evidence: 'x'.repeat(pad) } : {}), Date.now());
  const doc = payloadOf(event, 'test-console');
  return { event, body: JSON.stringify(pad ? { ...doc, pad: 'y'.repeat(pad) } : doc), events: 1, queuedAt: Date.now() };
}

const webhook = (url: string, over: Record<string, unknown> = {}): WebhookSinkConfig =>
  alertSinkSchema.parse({ kind: 'webhook', url, ...over }) as WebhookSinkConfig;

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('webhook', () => {
  it('retries through a 500 and a timeout, and delivers when the receiver comes back', async () => {
    const [rec, url] = await receiver();
    rec.script = [500, 'hang'];
    const sink = new WebhookSink('hook', webhook(url, { timeoutS: 0.3, retries: 4 }), undefined, 20);
    sink.deliver(message(1));
    await until(() => sink.counters().delivered === 1);
    expect(rec.received.map((r) => r.answered)).toEqual([500, 'hang', 200]);
    expect(rec.received.every((r) => r.json.type === 'finding')).toBe(true);
    const c = sink.counters();
    expect(c).toMatchObject({ delivered: 1, retried: 2, failed: 0, dropped: 0, queued: 0 });
    await sink.close();
  });

  it('a receiver that never comes back costs a bounded queue, and every drop is counted', async () => {
    const [rec, url] = await receiver();
    rec.otherwise = 503;
    const sink = new WebhookSink('hook', webhook(url, { timeoutS: 0.3, retries: 20, queue: 5 }), undefined, 50);
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    // 400 messages of 256 KiB: 100 MiB if they were kept
    for (let i = 0; i < 400; i++) sink.deliver(message(i, 256 * 1024));
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    const c = sink.counters();
    expect(c.queued).toBe(5);
    expect(c.dropped).toBe(400 - 5 - 1);
    expect(c.inFlight).toBe(1);
    expect(grown).toBeLessThan(40 * 1024 * 1024);
    await until(() => sink.counters().retried >= 2);
    expect(sink.counters().delivered).toBe(0);
    await sink.close();
  });

  it('does not retry a 4xx, and keeps the URL credentials out of what it reports', async () => {
    const [rec, url] = await receiver();
    rec.otherwise = 403;
    const secretUrl = url.replace('http://', 'http://user:hunter2@') + '?token=abc';
    const sink = new WebhookSink('hook', webhook(secretUrl, { retries: 5 }), undefined, 10);
    sink.deliver(message(1));
    await until(() => sink.counters().failed === 1);
    expect(rec.received).toHaveLength(1);
    // the URL's user and password become basic authentication (fetch refuses credentials in a URL)
    expect(rec.received[0]!.headers.authorization).toBe(`Basic ${Buffer.from('user:hunter2').toString('base64')}`);
    expect(JSON.stringify(sink.counters())).not.toMatch(/hunter2|token=abc/);
    await sink.close();
  });
});

describe('exec', () => {
  const script = join(dir, 'sink.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'out="$1"; mode="$2"',
      'body=$(cat)',
      'echo "start $(date +%s%N)" >> "$out"',
      'case "$mode" in',
      '  slow) sleep 0.4 ;;',
      '  hang) sleep 30 ;;',
      '  fail) echo "pager down" >&2; exit 3 ;;',
      'esac',
      'echo "end $(date +%s%N) $body" >> "$out"',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const cfg = (mode: string, out: string, over: Record<string, unknown> = {}): ExecSinkConfig =>
    alertSinkSchema.parse({ kind: 'exec', command: [script, out, mode], ...over }) as ExecSinkConfig;

  it('runs argv with the event on stdin, at most `concurrency` at once', async () => {
    const out = join(dir, 'slow.log');
    const sink = new ExecSink('pager', cfg('slow', out, { concurrency: 2 }));
    for (let i = 0; i < 6; i++) sink.deliver(message(i));
    expect(sink.counters().inFlight).toBe(2);
    await until(() => sink.counters().delivered === 6);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    let running = 0;
    let most = 0;
    for (const l of lines) {
      running += l.startsWith('start') ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBeLessThanOrEqual(2);
    const bodies = lines.filter((l) => l.startsWith('end')).map((l) => JSON.parse(l.split(' ').slice(2).join(' ')) as { type: string });
    expect(bodies).toHaveLength(6);
    expect(bodies.every((b) => b.type === 'finding')).toBe(true);
    await sink.close();
  });

  it('a non-zero exit and a timeout fail with the status, and a shell word is not a shell', async () => {
    const logged: object[] = [];
    const log = { info: () => undefined, warn: (o: object) => logged.push(o) };
    const fail = new ExecSink('pager', cfg('fail', join(dir, 'fail.log')), log);
    fail.deliver(message(1));
    await until(() => fail.counters().failed === 1);
    expect(fail.counters().lastError).toMatch(/^exit 3; output: pager down/);
    expect(logged[0]).toMatchObject({ sink: 'pager', result: expect.stringMatching(/exit 3/) });

    const hang = new ExecSink('pager', cfg('hang', join(dir, 'hang.log'), { timeoutS: 0.3 }));
    const t0 = Date.now();
    hang.deliver(message(2));
    await until(() => hang.counters().failed === 1);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(hang.counters().lastError).toMatch(/timed out after 0.3 s/);

    const shell = new ExecSink(
      'pager',
      alertSinkSchema.parse({ kind: 'exec', command: ['echo hi; touch /tmp/bb-pwned'] }) as ExecSinkConfig,
    );
    const r = await shell.attempt(message(3));
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/could not run/);
  });
});

describe('syslog', () => {
  interface Dgram {
    createSocket(t: 'unix_dgram', fn: (buf: Buffer) => void): { bind(p: string): void; close(): void };
  }
  const unix = createRequire(import.meta.url)('unix-dgram') as Dgram;

  it('sends one RFC 5424 datagram per event to the socket', async () => {
    const path = join(dir, 'log.sock');
    const got: string[] = [];
    const server = unix.createSocket('unix_dgram', (buf) => got.push(buf.toString('utf8')));
    server.bind(path);
    const sink = new SyslogSink(
      'syslog',
      alertSinkSchema.parse({ kind: 'syslog', socket: path, facility: 'local3' }) as SyslogSinkConfig,
      {},
    );
    sink.deliver(message(7));
    await until(() => got.length === 1 && sink.counters().delivered === 1);
    // local3 (19) * 8 + err (3) = 155
    expect(got[0]).toMatch(/^<155>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ billboard \d+ finding \[billboard@32473 type="finding" /);
    expect(got[0]).toContain('New high finding F-7 UNREGISTERED');
    server.close();
    const gone = await sink.attempt(message(8));
    expect(gone).toMatchObject({ ok: false });
    expect(gone.detail).toMatch(/ECONNREFUSED|ENOENT/);
    await sink.close();
  });

  it('writes to stdout under systemd', async () => {
    const lines: string[] = [];
    const cfg = alertSinkSchema.parse({ kind: 'syslog' }) as SyslogSinkConfig;
    const sink = new SyslogSink('syslog', cfg, { JOURNAL_STREAM: '8:12345' }, (l) => lines.push(l));
    expect((await sink.attempt(message(1))).ok).toBe(true);
    expect(lines[0]).toMatch(/^<27>1 .* billboard \d+ finding \[/);
    expect(sink.counters().target).toBe('stdout');
  });
});

describe('flood', () => {
  it('3,000 findings in 2 s give at most one alert per sink per window, saying how many', async () => {
    const [rec, url] = await receiver();
    const out = join(dir, 'flood.log');
    const script = join(dir, 'flood.sh');
    writeFileSync(script, '#!/bin/sh\ncat >> "$1"\n');
    chmodSync(script, 0o755);
    const windowS = 1;
    const d = new AlertDispatcher({
      console: 'flood-test',
      sinks: [
        alertSinkSchema.parse({ kind: 'webhook', url, windowS }),
        alertSinkSchema.parse({ kind: 'exec', command: [script, out], windowS }),
      ],
    });
    const t0 = Date.now();
    for (let i = 0; i < 3000; i++) {
      d.finding(finding(i));
      if (i % 150 === 149) await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - t0).toBeLessThan(2500);
    await rec.waitFor((r) => r.reduce((n, x) => n + ((x.json.count as number | undefined) ?? 1), 0) === 3000, 5000);
    await d.close();
    const times = rec.received.map((r) => r.at);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(windowS * 1000 - 50);
    expect(rec.received.length).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 1000 / windowS) + 1);
    const agg = rec.received.find((r) => r.json.type === 'aggregate')!.json as { summary: string; count: number };
    expect(agg.summary).toMatch(new RegExp(`^${agg.count} alerts in \\d+ s \\(${agg.count} UNREGISTERED\\)`));
    const execDocs = readFileSync(out, 'utf8').trim().split('\n');
    expect(execDocs.length).toBe(rec.received.length);
    const c = d.counters();
    expect(c.map((s) => s.events)).toEqual([3000, 3000]);
  });
});
