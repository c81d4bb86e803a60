// Lab tier, issue 19: the findings after a real migration round trip, judged by the real console runtime (engine,
// scanner over SSH with host keys checked, migration manager, store) on the two real libvirt daemons.
// approve tiny on lab-a, an authorized migration a→b, then a bare `virsh migrate --live` b→a that leaves lab-b a
// shut-off persistent copy: exactly one finding, UNAUTHORIZED_MIGRATION; no ghost; the copy is no host it runs on.
// Then a `virsh edit` of that shut-off copy (more memory) is DEFINITION_DRIFT, and putting it back resolves it.
// If the lab cannot run here, beforeAll throws with the reason: this tier never skips silently.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labHostsConfig, labPrerequisites, LabUnavailable, startLab, virshOn, type Lab } from './harness.js';
import { loadConfig } from '../../src/cli/config-load.js';
import { startRuntime, type Runtime } from '../../src/console/runtime.js';
import { VIEWS, formatted } from '../../src/tui/views.js';
import type { Finding, MigrationJob, VmRow } from '../../src/model/types.js';

let lab: Lab;
let rt: Runtime;
let dir: string;

beforeAll(async () => {
  const why = labPrerequisites();
  if (why.length) throw new LabUnavailable(why.join('; '));
  lab = await startLab();
  dir = mkdtempSync(join(tmpdir(), 'bb-lab-round-trip-'));
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      store: { path: join(dir, 'store.db') },
      beacon: { listen: '127.0.0.1:0' },
      // scans run when this test says so (`scan`), as the periodic one would after each step
      scan: { intervalS: 3600, timeoutS: 20 },
      hosts: labHostsConfig(lab),
      migration: { transport: 'tunnelled' },
    }),
  );
  const env = { ...process.env, BILLBOARD_PASSPHRASE: 'lab round trip' };
  const config = loadConfig(file, env);
  rt = await startRuntime({
    config,
    actor: 'alice',
    readOnly: false,
    mode: 'script',
    log: pino({ level: 'silent' }),
    env,
    awaitFirstScan: true,
  });
}, 300_000);

afterAll(async () => {
  await rt?.close();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function run(line: string): Promise<unknown> {
  const r = await rt.console.run(line);
  if (!r.ok) throw new Error(`${line}: ${r.error?.code} ${r.error?.message}`);
  return r.data;
}
const open = (): Finding[] => rt.engine.findings().filter((f) => f.vm === lab.uuid);
const codes = (): string[] => open().map((f) => `${f.code} (${f.severity}) ${f.evidence}`);
const row = (): VmRow => rt.engine.resolveVm(lab.uuid!);
const cell = (r: VmRow, title: string): string =>
  formatted(VIEWS.billboard, r).cells[VIEWS.billboard.columns.findIndex((c) => c.title === title)];

describe('lab: findings after a real migration round trip (issue 19)', () => {
  it(
    'approve, authorized a→b, bare virsh migrate b→a: exactly UNAUTHORIZED_MIGRATION, no ghost, the shut-off copy is no host',
    { timeout: 240_000 },
    async () => {
      await lab.waitTicking('lab-a');
      // the first scan opened a registration request for tiny; the operator approves what the scan saw
      await rt.engine.waitFor((r) => r?.registration === 'pending', lab.uuid!, 10_000);
      await run(`approve ${lab.uuid} --note "lab round trip"`);
      expect(rt.ctx.store.registration(lab.uuid!)).toMatchObject({ state: 'approved', homeHost: 'lab-a' });

      await run('migrate tiny --to lab-b');
      await run('authorize tiny');
      const job = (await run('watch tiny')) as MigrationJob;
      expect(job.state, job.error).toBe('completed');
      await lab.waitTicking('lab-b', 2);
      await run('scan');
      expect(codes()).toEqual([]);

      // by hand on lab-b, as an operator would: the persistent definition stays behind there, shut off
      await virshOn(lab.host('lab-b'), ['migrate', '--live', 'tiny', lab.host('lab-a').tcpUri], 120_000);
      await lab.waitTicking('lab-a', 2);
      await run('scan');
      const r = row();
      expect(r.instances.map((i) => `${i.host}:${i.state}`).sort()).toEqual(['lab-a:running', 'lab-b:shutoff']);
      expect(codes()).toEqual([expect.stringMatching(/^UNAUTHORIZED_MIGRATION \(high\) .* now runs on lab-a /)]);
      expect(open()[0].hosts).toEqual(['lab-a']);
      expect(r.status).not.toBe('ghost');
      expect(cell(r, 'HOST(S)')).toBe('lab-a (off: lab-b)');
      expect(cell(r, 'OS')).toBe(''); // agentless, no libosinfo metadata: not `hvm`
      // scans later on change nothing: the ghost window of the authorized move stays closed
      await run('scan');
      expect(open().map((f) => f.code)).toEqual(['UNAUTHORIZED_MIGRATION']);
    },
  );

  it('a virsh edit of the shut-off copy (more memory) is DEFINITION_DRIFT; the unchanged copy is not', { timeout: 120_000 }, async () => {
    const b = lab.host('lab-b');
    expect(await virshOn(b, ['domstate', 'tiny'])).toMatch(/shut off/);
    expect(open().map((f) => f.code)).not.toContain('DEFINITION_DRIFT');
    const original = await virshOn(b, ['dumpxml', '--inactive', 'tiny']);
    const edited = original
      .replace(/<memory unit='KiB'>\d+</, "<memory unit='KiB'>262144<")
      .replace(/<currentMemory unit='KiB'>\d+</, "<currentMemory unit='KiB'>262144<");
    expect(edited).not.toBe(original);
    const file = join(dir, 'tiny-edited.xml');
    writeFileSync(file, edited);
    await virshOn(b, ['define', file]); // what `virsh edit` does on save
    await run('scan');
    const drift = open().find((f) => f.code === 'DEFINITION_DRIFT');
    expect(drift, codes().join('\n')).toMatchObject({ severity: 'medium', hosts: ['lab-b'] });
    expect(row().status).not.toBe('ghost');

    writeFileSync(file, original);
    await virshOn(b, ['define', file]);
    await run('scan');
    expect(open().map((f) => f.code)).toEqual(['UNAUTHORIZED_MIGRATION']);
  });
});
