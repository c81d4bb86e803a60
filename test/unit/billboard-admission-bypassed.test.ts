import { afterEach, describe, expect, it } from 'vitest';
import { admissionBypassed } from '../../src/billboard/detectors/index.js';
import { Engine, type EngineOptions } from '../../src/billboard/engine.js';
import { acceptedAdmissionHooks, SHIPPED_HOOK } from '../../src/console/admission-hooks.js';
import { configSchema } from '../../src/model/config.js';
import type { AdmissionHookSeen, Inventory } from '../../src/model/types.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FakeStore } from '../helpers/fake-store.js';

const T = 1_700_000_000_000;
const GOOD = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

function make(opts: Partial<EngineOptions> = {}) {
  const store = new FakeStore({}, () => T);
  const engine = new Engine({ store, beaconIntervalS: 5, missedBeforeSilent: 3, enforcement: 'ask', now: () => T, ...opts });
  engines.push(engine);
  return { engine, store };
}

const inv = (host: string, admissionHook?: AdmissionHookSeen): Inventory => ({
  host,
  at: T,
  durationMs: 1,
  domains: [],
  ...(admissionHook ? { admissionHook } : {}),
});
const open = (e: Engine) => e.findings().filter((f) => f.code === 'ADMISSION_BYPASSED');

describe('ADMISSION_BYPASSED', () => {
  it('the detector: missing, not executable or changed is high; accepted is nothing; unknown says nothing', () => {
    expect(admissionBypassed('lab-a', { state: 'missing' }, [GOOD])).toMatchObject({
      code: 'ADMISSION_BYPASSED',
      severity: 'high',
      key: 'ADMISSION_BYPASSED:lab-a',
      hosts: ['lab-a'],
      evidence: expect.stringContaining('is missing'),
    });
    expect(admissionBypassed('lab-a', { state: 'not-executable' }, [GOOD])).toMatchObject({
      evidence: expect.stringContaining('not executable'),
    });
    expect(admissionBypassed('lab-a', { state: 'present', sha256: OTHER }, [GOOD])).toMatchObject({
      evidence: expect.stringContaining('was changed (sha256 bbbbbbbbbbbbbbbb…'),
    });
    expect(admissionBypassed('lab-a', { state: 'present', sha256: GOOD }, [GOOD])).toBeUndefined();
    expect(admissionBypassed('lab-a', { state: 'unknown' }, [GOOD])).toBe('unknown');
    expect(admissionBypassed('lab-a', undefined, [GOOD])).toBe('unknown');
  });

  it('the engine raises it per host on scan, resolves it when the accepted hook is back, and keeps it through unknown', () => {
    const { engine } = make({ admissionHooks: [GOOD] });
    engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    engine.ingestInventory(inv('lab-b', { state: 'present', sha256: GOOD }));
    expect(open(engine).map((f) => f.hosts)).toEqual([['lab-a']]);
    engine.ingestInventory(inv('lab-a', { state: 'present', sha256: OTHER }));
    expect(open(engine)).toHaveLength(1);
    expect(open(engine)[0]!.evidence).toContain('was changed');
    engine.ingestInventory(inv('lab-a', { state: 'unknown', detail: 'unreadable' }));
    expect(open(engine)).toHaveLength(1);
    engine.ingestInventory(inv('lab-a', { state: 'present', sha256: GOOD }));
    expect(open(engine)).toHaveLength(0);
    expect(engine.findings(true).find((f) => f.code === 'ADMISSION_BYPASSED')?.state).toBe('resolved');
  });

  it('raises nothing with admission off, or for hosts whose driver cannot tell', () => {
    const off = make();
    off.engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    expect(open(off.engine)).toHaveLength(0);
    const on = make({ admissionHooks: [GOOD] });
    on.engine.ingestInventory(inv('lab-a'));
    on.engine.ingestInventory(inv('lab-b', { state: 'unknown' }));
    expect(open(on.engine)).toHaveLength(0);
  });

  it('a finding reloaded from the store is resolved by the next good scan of its host', async () => {
    const first = make({ admissionHooks: [GOOD] });
    first.engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    await new Promise((r) => setTimeout(r, 5));
    const saved = first.engine.findings(true);
    expect(saved).toHaveLength(1);
    const store = new FakeStore({ findings: saved }, () => T);
    const engine = new Engine({
      store,
      beaconIntervalS: 5,
      missedBeforeSilent: 3,
      enforcement: 'ask',
      now: () => T,
      admissionHooks: [GOOD],
    });
    engines.push(engine);
    expect(open(engine)).toHaveLength(1);
    engine.ingestInventory(inv('lab-a', { state: 'present', sha256: GOOD }));
    expect(open(engine)).toHaveLength(0);
  });

  it('asks a function at each scan: admission turned off (a reload) resolves the finding, on again raises it', () => {
    let accepted: readonly string[] | undefined = [GOOD];
    const { engine } = make({ admissionHooks: () => accepted });
    engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    expect(open(engine)).toHaveLength(1);
    accepted = undefined;
    engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    expect(open(engine)).toHaveLength(0);
    expect(engine.findings(true).find((f) => f.code === 'ADMISSION_BYPASSED')?.state).toBe('resolved');
    accepted = [OTHER];
    engine.ingestInventory(inv('lab-a', { state: 'present', sha256: GOOD }));
    expect(open(engine).map((f) => f.evidence)).toEqual([expect.stringContaining('was changed')]);
  });

  it('a finding reloaded from the store is resolved by the next scan when admission is now off', async () => {
    const first = make({ admissionHooks: [GOOD] });
    first.engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    await new Promise((r) => setTimeout(r, 5));
    const store = new FakeStore({ findings: first.engine.findings(true) }, () => T);
    const engine = new Engine({ store, beaconIntervalS: 5, missedBeforeSilent: 3, enforcement: 'ask', now: () => T });
    engines.push(engine);
    expect(open(engine)).toHaveLength(1);
    engine.ingestInventory(inv('lab-a', { state: 'missing' }));
    expect(open(engine)).toHaveLength(0);
  });

  it('accepts the shipped contrib/billboard-admit and the config hashes, only when admission is on', () => {
    const shipped = createHash('sha256').update(readFileSync(SHIPPED_HOOK)).digest('hex');
    const cfg = configSchema.parse({ policy: { admission: 'enforce' }, admission: { hookSha256: [OTHER] } });
    expect(acceptedAdmissionHooks(cfg, () => {})).toEqual([OTHER, shipped]);
    expect(acceptedAdmissionHooks(configSchema.parse({}), () => {})).toBeUndefined();
  });
});
