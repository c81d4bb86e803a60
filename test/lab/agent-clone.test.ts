// Lab tier, issue 17: a real clone. A second domain with the guest's UUID, booted from the same agent disk (so the
// same key) on the other host, is caught three ways: DUPLICATE_UUID by the scan its libvirt events ask for, beacons
// from two boot ids interleaving (clone-suspect) under the registered key, and, under `policy.enforcement: stop`,
// stopped on the host that is not its home, while the registered original keeps running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labPrerequisites, LabUnavailable, lastTick, virshOn } from './harness.js';
import { startAgentConsole, type AgentConsole } from './agent-console.mjs';

let c: AgentConsole;
const host = (name: string) => c.lab.hosts.find((h) => h.name === name)!;
const duplicate = () => c.findings().find((f) => f.code === 'DUPLICATE_UUID');
const state = async (h: string) => (await virshOn(host(h), ['domstate', 'tiny'], 10_000)).trim();

beforeAll(async () => {
  const why = labPrerequisites();
  if (why.length) throw new LabUnavailable(why.join('; '));
  c = await startAgentConsole({ enforcement: 'ask' });
  await c.approveGuest();
}, 300_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

describe('lab: a real clone of the guest (issue 17)', () => {
  it('is DUPLICATE_UUID by scan, and clone-suspect by its beacons under the same key', { timeout: 180_000 }, async () => {
    expect(c.rt.ctx.store.registration(c.lab.uuid)).toMatchObject({ state: 'approved', homeHost: 'lab-a' });
    const cloneLog = await c.defineClone(host('lab-b'));
    await virshOn(host('lab-b'), ['start', 'tiny']);
    const started = Date.now();
    const f = await c.until(duplicate, 30_000, 'DUPLICATE_UUID after the clone started');
    process.stderr.write(`[lab] clone start → DUPLICATE_UUID in ${Date.now() - started} ms\n`);
    expect(f).toMatchObject({ severity: 'critical', evidenceSource: 'scan', hosts: ['lab-a', 'lab-b'] });
    expect(f.evidence).toMatch(/running on 2 hosts: lab-a, lab-b/);
    // the clone's agent boots and beacons under the registered key with its own boot id
    const suspect = await c.until(() => c.beacons.find((b) => b.verdict === 'clone-suspect'), 90_000, 'a clone-suspect beacon');
    expect(new Set(c.beacons.filter((b) => b.at >= started).map((b) => b.bootId)).size).toBe(2);
    expect(suspect.bootId).toBeTruthy();
    await c.until(() => /two boot ids interleaving/.test(duplicate()?.evidence ?? ''), 30_000, 'the interleaving in the evidence');
    expect(lastTick(cloneLog)).toBeGreaterThan(0);
    // 'ask': nothing automatic; both still run
    expect([await state('lab-a'), await state('lab-b')]).toEqual(['running', 'running']);
    await virshOn(host('lab-b'), ['destroy', 'tiny']);
  });

  it("under 'stop', the clone is stopped on lab-b and the registered original keeps running on lab-a", { timeout: 180_000 }, async () => {
    await c.restart('stop');
    await c.until(() => !/running on 2 hosts/.test(duplicate()?.evidence ?? ''), 30_000, 'no scan-seen duplicate before the clone');
    await virshOn(host('lab-b'), ['start', 'tiny']);
    const started = Date.now();
    await c.until(
      () => c.rt.ctx.store.auditLog().find((e) => e.actor === 'policy' && e.action === 'stop' && e.details.host === 'lab-b'),
      60_000,
      'the policy stop on lab-b',
    );
    process.stderr.write(`[lab] clone start → stopped by policy in ${Date.now() - started} ms\n`);
    const audit = c.rt.ctx.store.auditLog().filter((e) => e.actor === 'policy' && e.action === 'stop');
    expect(audit.map((e) => `${e.details.host}:${e.details.result}`)).toEqual(['lab-b:ok']);
    expect(await state('lab-b')).toBe('shut off');
    expect(await state('lab-a')).toBe('running');
    // the original's own heartbeat and beacons go on
    const [after, tick] = [Date.now(), lastTick(c.lab.consoleLog)];
    await c.until(() => c.beacons.some((b) => b.at > after && b.verdict === 'valid'), 30_000, 'a valid beacon from the original');
    await c.until(() => lastTick(c.lab.consoleLog) >= tick + 3, 30_000, 'the original ticking on lab-a');
  });
});
