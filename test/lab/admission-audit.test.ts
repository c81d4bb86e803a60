// Issue 18's acceptance for `policy.admission: audit` on the two real libvirt daemons with the hook installed: every
// start and migration goes through (an unknown domain, a second domain with a running VM's UUID, a bare `virsh
// migrate`), and the audit log names each one enforce would have refused, with its rule and reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../integration/serve-harness.js';
import { requireDist } from '../integration/script-harness.js';
import { domainStateOf, startAdmissionLab, type AdmissionLab } from './admission-lab.js';
import { domainState, migrateByHand, virshOn, type LabHost } from './harness.js';

requireDist();

const STRAY_UUID = '5a5a5a5a-0000-4000-8000-0000000018a0';

describe('admission on the two-host lab (policy audit)', () => {
  let t: AdmissionLab;
  /** the audit entry of the latest decision on `uuid` at `host` for `op` */
  const decision = async (uuid: string, host: string, op = 'prepare') =>
    (await t.admits()).filter((e) => e.target === uuid && e.details.host === host && e.details.op === op).pop();

  beforeAll(async () => {
    t = await startAdmissionLab('audit');
    const { lab, uuid } = t;
    const r = await t.script(`register ${lab.domain} --uuid ${uuid} --mac ${lab.guestMac} --host lab-a\napprove ${lab.domain}\n`);
    expect(r.map((x) => x.ok)).toEqual([true, true]);
  }, 400_000);
  afterAll(async () => {
    await t?.stop();
  });

  it('an approved VM starts on its home host and its entry names no refusal', { timeout: 180_000 }, async () => {
    await t.start(t.lab.hosts[0]!, t.lab.domain);
    await t.lab.waitTicking('lab-a');
    const e = await decision(t.uuid, 'lab-a');
    expect(e).toMatchObject({ actor: 'host-lab-a', details: { op: 'prepare', policy: 'audit', answer: 'yes', rule: 'home-host' } });
    expect(e!.details).not.toHaveProperty('wouldRefuse');
  });

  it('an unknown domain starts; the audit names the would-be refusal and a request awaits the operator', { timeout: 180_000 }, async () => {
    const a = t.lab.hosts[0]!;
    await t.defineCopy(a, 'stray-18a', { uuid: STRAY_UUID, mac: '52:54:00:b1:11:1a' });
    await t.start(a, 'stray-18a');
    expect(await domainStateOf(a, 'stray-18a')).toBe('running');
    expect(await decision(STRAY_UUID, 'lab-a')).toMatchObject({
      actor: 'host-lab-a',
      details: {
        op: 'prepare',
        name: 'stray-18a',
        policy: 'audit',
        answer: 'yes',
        wouldRefuse: true,
        rule: 'unknown-identity',
        reason: expect.stringMatching(/^lab-a's admin tried to start stray-18a .*\(policy audit: allowed anyway\)$/),
      },
    });
    const pending = (await t.script('pending\n'))[0]!.data as any[];
    expect(pending.find((p) => p.uuid === STRAY_UUID)).toMatchObject({ origin: 'admission', homeHost: 'lab-a' });
    await virshOn(a, ['destroy', 'stray-18a']);
    await virshOn(a, ['undefine', 'stray-18a']);
  });

  it(
    'a second domain with the running VM’s UUID starts on the other host; the audit names the would-be refusal',
    { timeout: 180_000 },
    async () => {
      const b = t.lab.hosts[1]!;
      await until(
        async () => (await t.script(`show ${t.uuid}\n`))[0]!.data?.instances?.some((i: any) => i.host === 'lab-a' && i.state === 'running'),
        'the scan of lab-a',
        60_000,
      );
      await t.defineCopy(b, 'tiny-copy', { uuid: t.uuid });
      await t.start(b, 'tiny-copy');
      expect(await domainStateOf(b, 'tiny-copy')).toBe('running');
      expect(await decision(t.uuid, 'lab-b')).toMatchObject({
        actor: 'host-lab-b',
        details: {
          op: 'prepare',
          name: 'tiny-copy',
          answer: 'yes',
          wouldRefuse: true,
          rule: 'running-elsewhere',
          reason: expect.stringContaining('is already running on lab-a: a second copy is refused (policy audit: allowed anyway)'),
        },
      });
      // the copy goes before the migration below: lab-b cannot take tiny in while it defines another domain with its UUID
      await virshOn(b, ['destroy', 'tiny-copy']);
      await virshOn(b, ['undefine', 'tiny-copy']);
    },
  );

  it('a bare virsh migrate goes through to the destination; the audit names the would-be refusal there', { timeout: 300_000 }, async () => {
    const { lab } = t;
    const [a, b] = lab.hosts as [LabHost, LabHost];
    // as an admin on lab-a would: lab-a's daemon dials lab-b's over ssh (peer to peer), behind billboard's back
    await migrateByHand(a, b, ['--live', '--p2p', '--tunnelled', lab.domain, b.sshUri], 180_000);
    expect(await domainState(b)).toBe('running');
    await lab.waitTicking('lab-b');
    expect(await decision(t.uuid, 'lab-b', 'migrate')).toMatchObject({
      actor: 'host-lab-b',
      details: {
        op: 'migrate',
        answer: 'yes',
        wouldRefuse: true,
        rule: 'unauthorized-migration',
        reason: expect.stringContaining('no authorized migration job moves it to lab-b (policy audit: allowed anyway)'),
      },
    });
  });

  it('the would-be refusals in the audit log are exactly those', async () => {
    const refusals = (await t.admits()).filter((e) => e.details.wouldRefuse);
    expect(refusals.map((e) => [e.details.host, e.details.op, e.details.rule])).toEqual([
      ['lab-a', 'prepare', 'unknown-identity'],
      ['lab-b', 'prepare', 'running-elsewhere'],
      ['lab-b', 'migrate', 'unauthorized-migration'],
      // the destination's libvirt asks again at `prepare begin` as it starts the incoming QEMU, while tiny still runs
      // on lab-a: without an authorized job that is a second copy too (enforce never gets there: migrate was refused)
      ['lab-b', 'prepare', 'running-elsewhere'],
    ]);
  });
});
