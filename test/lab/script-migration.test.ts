import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBillboard, tempLab, type TempLab } from '../integration/script-harness.js';
import { labHostsConfig, startLab, virshOn, type Lab } from './harness.js';

// Issue 6's acceptance through the real binary: `billboard script --json` with the two lab hosts as SSH hosts
// (host keys verified), a real QEMU guest, a real live migration watched stage by stage.

describe('billboard script on the two-host lab', () => {
  let lab: Lab;
  let t: TempLab;
  let config: string;
  beforeAll(async () => {
    lab = await startLab();
    t = tempLab();
    const dir = mkdtempSync(join(tmpdir(), 'bb-lab-script-'));
    config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { path: t.storePath },
        beacon: { listen: '127.0.0.1:0' },
        scan: { intervalS: 2, timeoutS: 20 },
        hosts: labHostsConfig(lab),
        migration: { transport: 'tunnelled' },
      }),
    );
  }, 300_000);
  afterAll(async () => {
    await lab?.stop();
    t?.cleanup();
  });

  it('register, approve, migrate, authorize, watch: every stage in order, then the VM is on lab-b', { timeout: 240_000 }, async () => {
    expect(lab.uuid).toBeTruthy();
    await lab.waitTicking('lab-a');
    const input = [
      `register ${lab.domain} --uuid ${lab.uuid} --mac ${lab.guestMac} --host lab-a`,
      `approve ${lab.domain} --note "lab acceptance"`,
      `migrate ${lab.domain} --to lab-b --bandwidth 32`,
      `authorize ${lab.domain}`,
      `watch ${lab.domain}`,
      `vms ${lab.domain}`,
      'audit verify',
    ].join('\n');
    const r = await runBillboard(['script', '--json', '--config', config], t.env, input, 200_000);
    const lines = r.json();
    const results = lines.filter((l) => 'command' in l);
    expect(results.map((l) => [l.command, l.ok, l.error?.message])).toEqual([
      ['register', true, undefined],
      ['approve', true, undefined],
      ['migrate', true, undefined],
      ['authorize', true, undefined],
      ['watch', true, undefined],
      ['vms', true, undefined],
      ['audit verify', true, undefined],
    ]);
    expect(r.code).toBe(0);

    const events = lines.filter((l) => l.event).map((l) => l.event);
    const stages = events.filter((e) => e.type === 'stage' || e.type === 'end').map((e) => e.stage ?? e.state);
    expect(stages).toEqual([
      'pre-migration',
      'reservation',
      'iterative-pre-copy',
      'stop-and-copy',
      'commitment',
      'activation',
      'completed',
    ]);
    const samples = events.filter((e) => e.type === 'progress').map((e) => e.stats);
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples.every((s) => s.source !== 'simulated')).toBe(true);
    expect(Math.max(...samples.map((s) => s.iteration ?? 0))).toBeGreaterThanOrEqual(2);

    const job = results[4]!.data;
    expect(job.state).toBe('completed');
    expect(job.simulated).toBeFalsy();
    expect(job.lastStats?.totalDowntimeMs).toBeGreaterThanOrEqual(0);
    const vm = results[5]!.data[0];
    expect(vm.instances.filter((i: { state: string }) => i.state === 'running').map((i: { host: string }) => i.host)).toEqual(['lab-b']);
    // the guest lives on: still ticking on the destination, gone from the source
    await lab.waitTicking('lab-b');
    expect(await lab.guestTicks('lab-a')).toBeNull();
  });

  it('isolate sets every link of the real QEMU domain down, read back from its XML, and is audited', { timeout: 120_000 }, async () => {
    const host = (await lab.guestTicks('lab-b')) !== null ? 'lab-b' : 'lab-a';
    const r = await runBillboard(
      ['script', '--json', '--config', config],
      t.env,
      `isolate ${lab.domain} --host ${host}\naudit --last 3\n`,
      60_000,
    );
    const [isolate, audit] = r.json();
    expect(isolate.ok).toBe(true);
    const xml = await virshOn(lab.host(host), ['dumpxml', lab.uuid!]);
    const nics = xml.match(/<interface[\s\S]*?<\/interface>/g) ?? [];
    expect(nics.length).toBeGreaterThan(0);
    for (const nic of nics) expect(nic).toMatch(/<link state=['"]down['"]\/>/);
    expect(audit.data.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['isolate', 'isolate-done']));
    await lab.waitTicking(host); // isolated, not stopped
  });
});
