import { afterEach, describe, expect, it, vi } from 'vitest';
import { FindingDedup, HostDedup } from '../../src/alerts/dedup.js';
import { findingEvent, payloadOf, type AlertEvent } from '../../src/alerts/events.js';
import { rfc5424 } from '../../src/alerts/syslog.js';
import { Window } from '../../src/alerts/window.js';
import { alertsSchema } from '../../src/model/alerts-config.js';
import { configSchema } from '../../src/model/config.js';
import type { Finding, HostStatus } from '../../src/model/types.js';

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'F-1',
    key: 'DUPLICATE_UUID:u',
    code: 'DUPLICATE_UUID',
    severity: 'critical',
    vm: '0f3c2a10-0000-4000-8000-000000000001',
    vmName: 'web-01',
    hosts: ['lab-a', 'lab-b'],
    evidence: 'running on lab-a and lab-b',
    firstSeen: 1_700_000_000_000,
    lastSeen: 1_700_000_000_000,
    count: 1,
    state: 'open',
    ...over,
  };
}

function status(name: string, up: boolean, unknown = false): HostStatus {
  return { name, driver: 'libvirt', target: 'test:///x', up, unknown, consecutiveFailures: 0, domains: 0, running: 0 };
}

describe('finding dedup', () => {
  it('tells a finding once, and again only when its severity rises', () => {
    const d = new FindingDedup();
    expect(d.judge(finding({ severity: 'high' }))).toEqual({ kind: 'new' });
    expect(d.judge(finding({ severity: 'high', evidence: 'second scan', count: 2 }))).toBeUndefined();
    expect(d.judge(finding({ severity: 'critical' }))).toEqual({ kind: 'escalation', from: 'high' });
    expect(d.judge(finding({ severity: 'critical', state: 'acked' }))).toBeUndefined();
    expect(d.judge(finding({ state: 'resolved' }))).toBeUndefined();
    // resolved and forgotten: the id is news again (the ledger gives a returning finding a new id anyway)
    expect(d.judge(finding({ id: 'F-2' }))).toEqual({ kind: 'new' });
  });

  it('does not tell findings that existed before it started', () => {
    const d = new FindingDedup();
    d.seed([finding()]);
    expect(d.judge(finding({ evidence: 'updated' }))).toBeUndefined();
  });

  it('remembers a bounded number of findings', () => {
    const d = new FindingDedup(100);
    for (let i = 0; i < 10_000; i++) d.judge(finding({ id: `F-${i}` }));
    expect((d as unknown as { seen: Map<string, unknown> }).seen.size).toBe(100);
  });
});

describe('host dedup', () => {
  it('tells a host going down and coming back once each; first-seen up is not news, first-seen down is', () => {
    const d = new HostDedup();
    expect(d.judge([status('a', false, true), status('b', true)])).toEqual([]);
    expect(d.judge([status('a', false), status('b', true)]).map((s) => s.name)).toEqual(['a']);
    expect(d.judge([status('a', false), status('b', false)]).map((s) => s.name)).toEqual(['b']);
    expect(d.judge([status('a', false), status('b', false)])).toEqual([]);
    expect(d.judge([status('a', true), status('b', false)]).map((s) => `${s.name}:${s.up}`)).toEqual(['a:true']);
  });
});

describe('payload', () => {
  it('names the VM, its hosts and the evidence in one escaped sentence', () => {
    const ev = findingEvent(finding({ vmName: 'web\x1b]52;c;AAAA\x07-01', evidence: 'seen\non lab-b' }), 1_700_000_000_000);
    const p = payloadOf(ev, 'console-1');
    expect(Object.keys(p)).toEqual(expect.arrayContaining(['type', 'at', 'console', 'finding', 'summary']));
    expect(p.type).toBe('finding');
    expect(p.at).toBe('2023-11-14T22:13:20.000Z');
    expect(p.summary).toContain('lab-a and lab-b');
    expect(p.summary).toContain('0f3c2a10-0000-4000-8000-000000000001');
    expect(p.summary).toContain('\\x1b');
    expect(JSON.stringify(p)).not.toMatch(/[\x00-\x1f]/);
    expect(p).not.toHaveProperty('code');
  });

  it('becomes one RFC 5424 line with structured data', () => {
    const line = rfc5424(findingEvent(finding(), 1_700_000_000_000), 'daemon', 'console-1', 42);
    // daemon (3) * 8 + crit (2)
    expect(line).toMatch(/^<26>1 2023-11-14T22:13:20\.000Z console-1 billboard 42 finding \[billboard@32473 type="finding" /);
    expect(line).toContain('finding="F-1" code="DUPLICATE_UUID"');
    expect(line).not.toContain('\n');
  });
});

describe('window', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends the first event at once and folds a flood into one aggregated alert per window', () => {
    vi.useFakeTimers();
    const sent: { ev: AlertEvent; n: number }[] = [];
    const w = new Window(30_000, (ev, n) => sent.push({ ev, n }), Date.now);
    const base = findingEvent(finding(), Date.now());
    w.offer(base);
    expect(sent).toHaveLength(1);
    for (let i = 0; i < 3000; i++) w.offer({ ...base, summary: `junk ${i}`, code: 'FORGED_BEACON' });
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(29_999);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toHaveLength(2);
    const agg = sent[1]!;
    expect(agg.n).toBe(3000);
    expect(agg.ev.type).toBe('aggregate');
    expect(agg.ev.count).toBe(3000);
    expect(agg.ev.summary).toMatch(/^3000 alerts in 30 s \(3000 FORGED_BEACON\)/);
    expect(agg.ev.samples).toHaveLength(10);
    // a single held event goes out as itself
    w.offer({ ...base, summary: 'alone' });
    vi.advanceTimersByTime(30_000);
    expect(sent.map((s) => s.ev.summary)[2]).toBe('alone');
  });
});

describe('config', () => {
  it('defaults minSeverity to high, names sinks and refuses what it does not know', () => {
    const cfg = configSchema.parse({
      alerts: [
        { kind: 'webhook', url: 'http://127.0.0.1:9/x' },
        { kind: 'exec', command: ['/bin/true'] },
      ],
    });
    expect(cfg.alerts[0]).toMatchObject({ minSeverity: 'high', retries: 5, queue: 100, headers: {} });
    expect(() => alertsSchema.parse([{ kind: 'webhook', url: 'file:///etc/passwd' }])).toThrow(/http/);
    expect(() => alertsSchema.parse([{ kind: 'exec', command: 'page-me --lab a' }])).toThrow();
    expect(() => alertsSchema.parse([{ kind: 'syslog', bogus: 1 }])).toThrow(/bogus/);
    expect(() => alertsSchema.parse([{ kind: 'webhook', url: 'http://x/', headers: { 'X-A': 'a\r\nInjected: 1' } }])).toThrow();
    expect(() =>
      alertsSchema.parse([
        { kind: 'syslog', name: 'log' },
        { kind: 'exec', name: 'log', command: ['/bin/true'] },
      ]),
    ).toThrow(/duplicate/);
  });
});
