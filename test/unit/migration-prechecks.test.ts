import { describe, expect, it } from 'vitest';
import { isEncrypted, runPrechecks, type PrecheckFacts } from '../../src/migration/prechecks.js';
import type { Finding } from '../../src/model/types.js';
import { domain, UUID } from './migration-fakes.js';

function facts(p: Partial<PrecheckFacts> = {}): PrecheckFacts {
  return {
    row: { uuid: UUID, name: 'web', instances: [], ips: [], openFindings: 0, status: 'ok', registration: 'approved' },
    criticalFindings: [],
    runningOn: ['a'],
    destination: 'b',
    destinationConfigured: true,
    destinationStatus: { name: 'b', driver: 'ssh', target: 'b', up: true, consecutiveFailures: 0, domains: 0, running: 0 },
    sourceNode: { cpus: 2, arch: 'x86_64', memoryKiB: 1 << 22, freeMemoryKiB: 1 << 21 },
    destinationNode: { cpus: 2, arch: 'x86_64', memoryKiB: 1 << 22, freeMemoryKiB: 1 << 21 },
    domain: domain(),
    transport: 'tunnelled',
    destUri: 'qemu+ssh://root@b:22/system',
    ...p,
  };
}
const failed = (f: PrecheckFacts) =>
  runPrechecks(f)
    .filter((c) => !c.ok)
    .map((c) => c.name);

describe('pre-migration checks', () => {
  it('all pass for an approved VM on one host going to a healthy peer over ssh', () => {
    const checks = runPrechecks(facts());
    expect(checks.map((c) => c.name)).toEqual([
      'vm-approved',
      'no-critical-findings',
      'source',
      'destination',
      'memory',
      'cpu-arch',
      'local-devices',
      'transport',
    ]);
    expect(checks.every((c) => c.ok)).toBe(true);
  });

  it('refuse with a reason for each failing condition', () => {
    expect(failed(facts({ row: { ...facts().row, registration: 'pending' } }))).toEqual(['vm-approved']);
    const crit = { id: 'F-1', code: 'DUPLICATE_UUID' } as Finding;
    expect(failed(facts({ criticalFindings: [crit] }))).toEqual(['no-critical-findings']);
    expect(failed(facts({ runningOn: ['a', 'c'] }))).toContain('source');
    expect(failed(facts({ destination: 'a' }))).toEqual(['destination']);
    expect(failed(facts({ destinationConfigured: false }))).toContain('destination');
    expect(failed(facts({ destinationStatus: { ...facts().destinationStatus!, up: false, lastError: 'connection refused' } }))).toEqual([
      'destination',
    ]);
    expect(failed(facts({ destinationNode: { cpus: 2, arch: 'x86_64', memoryKiB: 1 << 20, freeMemoryKiB: 1000 } }))).toEqual(['memory']);
    expect(failed(facts({ destinationNode: { cpus: 2, arch: 'aarch64', memoryKiB: 1 << 22, freeMemoryKiB: 1 << 21 } }))).toEqual([
      'cpu-arch',
    ]);
    expect(failed(facts({ domain: { ...domain(), localOnlyDevices: ['hostdev 0000:01:00.0'] } }))).toEqual(['local-devices']);
    const plain = runPrechecks(facts({ destUri: 'qemu+tcp://b/system' })).find((c) => c.name === 'transport')!;
    expect(plain.ok).toBe(false);
    expect(plain.detail).toMatch(/plaintext.*direct/);
  });

  it('allows a plaintext stream only when the config says direct', () => {
    expect(isEncrypted('direct', 'qemu+ssh://b/system')).toBe(false);
    expect(isEncrypted('tls', 'qemu+tcp://b/system')).toBe(true);
    expect(isEncrypted('tunnelled', 'qemu+tls://b/system')).toBe(true);
    expect(failed(facts({ transport: 'direct', destUri: 'qemu+tcp://b/system' }))).toEqual([]);
  });
});

describe('pre-migration checks: what evidence may block a migration (issue 13.1)', () => {
  it('a critical finding from unauthenticated evidence does not block; authenticated or scan evidence does', () => {
    const f = (id: string, evidenceSource?: Finding['evidenceSource']) =>
      ({ id, code: 'FORGED_BEACON', severity: 'critical', state: 'open', ...(evidenceSource ? { evidenceSource } : {}) }) as Finding;
    expect(failed(facts({ criticalFindings: [f('F-1', 'unauthenticated')] }))).toEqual([]);
    for (const src of ['authenticated', 'scan', undefined] as const) {
      const checks = runPrechecks(facts({ criticalFindings: [f('F-1', 'unauthenticated'), f('F-2', src)] }));
      const c = checks.find((x) => x.name === 'no-critical-findings')!;
      expect(c.ok, String(src)).toBe(false);
      expect(c.detail).toBe('open critical finding(s): F-2 FORGED_BEACON');
    }
  });
});
