// Issue 18's acceptance on the two real libvirt daemons: each has contrib/billboard-admit installed as its qemu hook
// (in its own namespace's /etc/libvirt/hooks) asking a real `billboard serve` over OpenSSH with its own host key,
// policy enforce. virsh's errors carry billboard's reasons.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK } from '../support/admit-hook.js';
import { serveLab, until, type ServeLab } from '../integration/serve-harness.js';
import { requireDist } from '../integration/script-harness.js';
import { domainState, labHostsConfig, startLab, virshOn, type Lab, type LabHost } from './harness.js';

requireDist();

const STRAY_UUID = '5a5a5a5a-0000-4000-8000-000000000018';

describe('admission on the two-host lab (policy enforce)', () => {
  let s: ServeLab;
  let lab: Lab;
  let uuid: string;
  const hooksOf = (h: LabHost) => join(h.dir, 'etc', 'hooks');
  const conf = (h: LabHost, unreachable: 'allow' | 'deny') =>
    writeFileSync(
      join(hooksOf(h), 'billboard-admit.conf'),
      [
        `TARGET=host-${h.name}@127.0.0.1:${s.port}`,
        'IDENTITY=/etc/libvirt/hooks/billboard-admit.key',
        'KNOWN_HOSTS=/etc/libvirt/hooks/billboard-admit.known_hosts',
        `HOST=${h.name}`,
        `UNREACHABLE=${unreachable}`,
        'TIMEOUT=10',
        '',
      ].join('\n'),
    );
  const script = async (input: string) => (await s.ssh('alice', 'script --json', input)).json();
  const start = (h: LabHost, name: string) => virshOn(h, ['start', name], 120_000);
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => 'it started',
      (e: Error) => e.message,
    );

  beforeAll(async () => {
    // the service first (its port and host key go into the hooks), then the daemons with their hooks in place
    s = await serveLab({ alice: 'admin', 'host-lab-a': 'host', 'host-lab-b': 'host' });
    lab = await startLab({
      startGuest: false,
      prepareHost: (h) => {
        mkdirSync(hooksOf(h), { recursive: true });
        copyFileSync(HOOK, join(hooksOf(h), 'qemu'));
        copyFileSync(s.keys[`host-${h.name}`]!.file, join(hooksOf(h), 'billboard-admit.key'));
        copyFileSync(s.knownHosts, join(hooksOf(h), 'billboard-admit.known_hosts'));
        conf(h, 'deny');
      },
    });
    s.writeConfig({
      ...s.config,
      hosts: labHostsConfig(lab),
      scan: { intervalS: 2, timeoutS: 20 },
      policy: { admission: 'enforce' },
      migration: { transport: 'tunnelled' },
    });
    await s.start();
    writeFileSync(join(lab.dir, 'tiny.xml'), lab.guestXml);
    await virshOn(lab.hosts[0]!, ['define', join(lab.dir, 'tiny.xml')]);
    uuid = (await virshOn(lab.hosts[0]!, ['domuuid', lab.domain])).trim();
  }, 400_000);
  afterAll(async () => {
    await lab?.stop();
    await s?.stop('SIGKILL');
    s?.cleanup();
  });

  it('an approved VM starts on its home host; the installed hook raises no ADMISSION_BYPASSED', { timeout: 180_000 }, async () => {
    const [a, b] = lab.hosts as [LabHost, LabHost];
    const r = await script(`register ${lab.domain} --uuid ${uuid} --mac ${lab.guestMac} --host lab-a\napprove ${lab.domain}\n`);
    expect(r.map((x) => x.ok)).toEqual([true, true]);
    await start(a, lab.domain);
    await lab.waitTicking('lab-a');
    const audit = (await script('audit --last 50\n'))[0]!.data as any[];
    expect(audit.find((e) => e.action === 'admit')).toMatchObject({
      actor: 'host-lab-a',
      details: { host: 'lab-a', op: 'prepare', answer: 'yes', rule: 'home-host' },
    });
    await until(async () => (await script('hosts\n'))[0]!.data.every((h: any) => h.lastScanAt), 'both hosts scanned', 60_000);
    expect(((await script('findings\n'))[0]!.data as any[]).filter((f) => f.code === 'ADMISSION_BYPASSED')).toEqual([]);
    expect(b.name).toBe('lab-b');
  });

  it(
    "an unknown domain's start is refused with billboard's reason, becomes a request, and starts after approve",
    { timeout: 240_000 },
    async () => {
      const a = lab.hosts[0]!;
      const xml = lab.guestXml
        .replace(`<name>${lab.domain}</name>`, `<name>stray-18</name>\n  <uuid>${STRAY_UUID}</uuid>`)
        .replace(lab.guestMac, '52:54:00:b1:11:18')
        .replaceAll(lab.consoleLog, join(lab.dir, 'stray-console.log'));
      writeFileSync(join(lab.dir, 'stray.xml'), xml);
      await virshOn(a, ['define', join(lab.dir, 'stray.xml')]);
      const why = await failure(start(a, 'stray-18'));
      expect(why).toContain("billboard refused: lab-a's admin tried to start stray-18");
      expect(await domainStateOf(a, 'stray-18')).not.toBe('running');
      const pending = (await script('pending\n'))[0]!.data as any[];
      expect(pending.find((p) => p.uuid === STRAY_UUID)).toMatchObject({ origin: 'admission', homeHost: 'lab-a' });
      expect((await script(`approve ${STRAY_UUID}\n`))[0]).toMatchObject({ ok: true });
      await start(a, 'stray-18');
      expect(await domainStateOf(a, 'stray-18')).toBe('running');
      await virshOn(a, ['destroy', 'stray-18']);
      await virshOn(a, ['undefine', 'stray-18']);
    },
  );

  it(
    "an authorized migration completes with the destination's yes; a bare virsh migrate back is refused there",
    { timeout: 300_000 },
    async () => {
      const [a, b] = lab.hosts as [LabHost, LabHost];
      const r = await script(`migrate ${lab.domain} --to lab-b --bandwidth 64\nauthorize ${lab.domain}\nwatch ${lab.domain}\n`);
      expect(r.filter((x) => 'command' in x).map((x) => [x.command, x.ok, x.error?.message])).toEqual([
        ['migrate', true, undefined],
        ['authorize', true, undefined],
        ['watch', true, undefined],
      ]);
      await lab.waitTicking('lab-b');
      const audit = (await script('audit --last 100\n'))[0]!.data as any[];
      expect(audit.find((e) => e.action === 'admit' && e.details.host === 'lab-b' && e.details.op === 'migrate')).toMatchObject({
        actor: 'host-lab-b',
        details: { answer: 'yes', rule: 'migration-destination' },
      });
      // as an admin on lab-b would: lab-b's daemon dials lab-a's over ssh (peer to peer), behind billboard's back
      const why = await failure(virshOn(b, ['migrate', '--live', '--p2p', '--tunnelled', lab.domain, a.sshUri], 120_000));
      expect(why).toContain('no authorized migration job moves it to lab-a');
      expect(await domainState(b)).toBe('running');
      await lab.waitTicking('lab-b');
    },
  );

  it('a second domain with the running VM’s UUID is refused', { timeout: 120_000 }, async () => {
    const a = lab.hosts[0]!;
    await until(
      async () => (await script(`show ${uuid}\n`))[0]!.data?.instances?.some((i: any) => i.host === 'lab-b'),
      'the scan of lab-b',
    );
    // a copy of tiny's definition under another name, with its UUID, on lab-a
    const xml = lab.guestXml
      .replace(`<name>${lab.domain}</name>`, `<name>tiny-copy</name>\n  <uuid>${uuid}</uuid>`)
      .replaceAll(lab.consoleLog, join(lab.dir, 'copy-console.log'));
    writeFileSync(join(lab.dir, 'copy.xml'), xml);
    await virshOn(a, ['define', join(lab.dir, 'copy.xml')]);
    const why = await failure(start(a, 'tiny-copy'));
    expect(why).toContain('is already running on lab-b');
    expect(await domainStateOf(a, 'tiny-copy')).not.toBe('running');
  });

  it(
    'with the service stopped, UNREACHABLE=deny refuses within the timeout and allow lets the start through',
    { timeout: 180_000 },
    async () => {
      const a = lab.hosts[0]!;
      await s.stop();
      const t0 = Date.now();
      const why = await failure(start(a, 'tiny-copy'));
      expect(why).toContain('the Billboard Manager could not be asked');
      expect(Date.now() - t0).toBeLessThan(30_000);
      conf(a, 'allow');
      await start(a, 'tiny-copy');
      expect(await domainStateOf(a, 'tiny-copy')).toBe('running');
      await virshOn(a, ['destroy', 'tiny-copy']);
      expect(readFileSync(join(hooksOf(a), 'billboard-admit.conf'), 'utf8')).toContain('UNREACHABLE=allow');
    },
  );
});

async function domainStateOf(h: LabHost, name: string): Promise<string> {
  return (await virshOn(h, ['domstate', name]).catch((e: Error) => e.message)).trim();
}
