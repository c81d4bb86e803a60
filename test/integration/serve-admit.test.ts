// `admit` through a real `billboard serve` over OpenSSH with `host` role keys: what a host's admission hook asks
// (contrib/billboard-admit), answered by exit status with the reason on stderr, every decision audited.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDriverXml } from '../../src/demo/lab-xml.js';
import { testUri } from '../helpers/libvirt-fixtures.js';
import { domainXml, hookBin, runHook, writeHookConf, type HookConf } from '../support/admit-hook.js';
import { requireDist, uuidFor } from './script-harness.js';
import { serveLab, until, type ServeLab } from './serve-harness.js';

requireDist();

const WEB = uuidFor(1);
const BUILD = uuidFor(2);
const CLONE_NAME = 'web-01-copy';

/** a lab with lab-a running web-01 and lab-b empty (libvirt test driver), admission under `policy` */
async function admissionLab(policy: 'audit' | 'enforce'): Promise<ServeLab> {
  const lab0 = await serveLab({ alice: 'admin', 'host-lab-a': 'host', 'host-lab-b': 'host' });
  const a = join(lab0.dir, 'lab-a.xml');
  const b = join(lab0.dir, 'lab-b.xml');
  const web = { uuid: WEB, name: 'web-01', state: 'running' as const, macs: ['52:54:00:00:00:01'], memoryKiB: 65536, vcpus: 1 };
  writeFileSync(a, testDriverXml([web]));
  writeFileSync(b, testDriverXml([]));
  lab0.writeConfig({
    ...lab0.config,
    hosts: [
      { name: 'lab-a', driver: 'libvirt', uri: testUri(a) },
      { name: 'lab-b', driver: 'libvirt', uri: testUri(b) },
    ],
    policy: { admission: policy },
  });
  await lab0.start();
  await until(async () => {
    const r = await lab0.ssh('alice', 'script --json', 'vms\n');
    return (r.json()[0]?.data as any[] | undefined)?.some((v) => v.uuid === WEB && v.instances.length === 1);
  }, 'the first scan of lab-a');
  return lab0;
}

const admit = (lab: ServeLab, as: string, args: string) => lab.ssh(as, `admit ${args}`);

describe('admit over SSH (policy enforce)', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await admissionLab('enforce');
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('an unknown domain is refused with the reason, becomes a pending request, and the retry after approve succeeds', async () => {
    const ask = `--host lab-a --op prepare --uuid ${BUILD} --name build-07 --mac 52:54:00:00:00:07`;
    const no = await admit(lab, 'host-lab-a', ask);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain("lab-a's admin tried to start build-07");
    expect(no.stdout).toBe('');
    const pending = (await lab.ssh('alice', 'script --json', 'pending\n')).json()[0]!.data as any[];
    expect(pending.find((p) => p.uuid === BUILD)).toMatchObject({
      name: 'build-07',
      origin: 'admission',
      homeHost: 'lab-a',
      macs: ['52:54:00:00:00:07'],
      firstSeen: "lab-a's admin tried to start build-07",
    });
    // a second refusal does not open a second request
    expect((await admit(lab, 'host-lab-a', ask)).stderr).toContain('registration pending operator approval');
    expect((await lab.ssh('alice', 'script --json', `approve ${BUILD}\n`)).json()[0]).toMatchObject({ ok: true });
    const yes = await admit(lab, 'host-lab-a', ask);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain('home host lab-a');
  });

  it('refuses a UUID running elsewhere and a bare migration; a host key asks only for its own host', async () => {
    expect((await lab.ssh('alice', 'script --json', `approve ${WEB}\n`)).json()[0]).toMatchObject({ ok: true });
    const clone = await admit(lab, 'host-lab-b', `--host lab-b --op prepare --uuid ${WEB} --name ${CLONE_NAME}`);
    expect(clone.code).toBe(1);
    expect(clone.stderr).toContain('already running on lab-a');
    const bare = await admit(lab, 'host-lab-b', `--host lab-b --op migrate --uuid ${WEB} --name web-01`);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('no authorized migration job moves it to lab-b');
    const spoof = await admit(lab, 'host-lab-b', `--host lab-a --op prepare --uuid ${WEB} --name web-01`);
    expect(spoof.code).toBe(1);
    expect(spoof.stderr).toContain('host-lab-b may ask only for its own host, not lab-a');
  });

  it('only the host role runs admit, and the host role runs nothing else', async () => {
    const asAdmin = await admit(lab, 'alice', `--host lab-a --op prepare --uuid ${WEB}`);
    expect(asAdmin.code).toBe(2);
    expect(asAdmin.stderr).toContain('only the host role runs admit');
    const r = await lab.ssh('host-lab-a', 'script --json', 'vms\n');
    expect(r.json()[0]).toMatchObject({ ok: false, error: { code: 'PERMISSION' } });
    const usage = await admit(lab, 'host-lab-a', '--host lab-a --op start --uuid nope');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--op is one of prepare, migrate, restore');
  });

  it('hostile names reach the decision as data; control characters are refused before any decision', async () => {
    const r = await admit(lab, 'host-lab-a', `--host lab-a --op prepare --uuid ${uuidFor(3)} --name '$(rm -rf /)"x'"'"'; ls'`);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`tried to start $(rm -rf /)"x'; ls (${uuidFor(3)})`);
    const pending = (await lab.ssh('alice', 'script --json', 'pending\n')).json()[0]!.data as any[];
    // a name the registry refuses becomes vm-<uuid prefix>
    expect(pending.find((p) => p.uuid === uuidFor(3))?.name).toBe(`vm-${uuidFor(3).slice(0, 8)}`);
    const esc = await admit(lab, 'host-lab-a', `--host lab-a --op prepare --uuid ${uuidFor(4)} --name 'a\u001b[2J'`);
    expect(esc.code).toBe(2);
    expect(esc.stderr).toContain('commands take no control characters');
  });

  it('audits every decision with the operator as actor', async () => {
    const audit = (await lab.ssh('alice', 'script --json', 'audit --last 200\n')).json()[0]!.data as any[];
    const admits = audit.filter((e) => e.action === 'admit');
    expect(admits.length).toBeGreaterThanOrEqual(6);
    expect(admits.find((e) => e.target === BUILD && e.details.answer === 'yes')).toMatchObject({
      actor: 'host-lab-a',
      details: { host: 'lab-a', op: 'prepare', policy: 'enforce', rule: 'home-host' },
    });
    expect(admits.find((e) => e.details.rule === 'unauthorized-migration')).toMatchObject({
      actor: 'host-lab-b',
      details: { answer: 'no' },
    });
  });

  it('contrib/billboard-admit asks it over real OpenSSH: the reason reaches stderr; unknown key and a stopped service obey UNREACHABLE', async () => {
    const bin = hookBin(join(lab.dir, 'hookbin'), 'real');
    const base: HookConf = {
      TARGET: `host-lab-a@127.0.0.1:${lab.port}`,
      IDENTITY: lab.keys['host-lab-a']!.file,
      KNOWN_HOSTS: lab.knownHosts,
      HOST: 'lab-a',
      UNREACHABLE: 'deny',
      // generous for a loaded machine: a stopped service is refused at once anyway
      TIMEOUT: 10,
    };
    const conf = (c: Partial<HookConf>) => writeHookConf(join(lab.dir, 'hook.conf'), { ...base, ...c });
    const xml = domainXml({ uuid: uuidFor(5), nameXml: 'ghost-&apos;05', macs: ['52:54:00:00:00:05'] });
    const no = await runHook({ bin, conf: conf({}), xml });
    expect(no.code, no.stderr).toBe(1);
    expect(no.stderr).toBe(
      `billboard refused: lab-a's admin tried to start ghost-'05 (${uuidFor(5)}): unknown to billboard; ` +
        'a registration request awaits the operator (retry after approve)\n',
    );
    const yes = await runHook({ bin, conf: conf({}), xml: domainXml({ uuid: BUILD, nameXml: 'build-07' }) });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toBe('');
    const emptyKnown = join(lab.dir, 'empty_known_hosts');
    writeFileSync(emptyKnown, '');
    const unknownKey = await runHook({ bin, conf: conf({ KNOWN_HOSTS: emptyKnown }), xml });
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.stderr).toContain('could not be asked');
    expect(await runHook({ bin, conf: conf({ KNOWN_HOSTS: emptyKnown, UNREACHABLE: 'allow' }), xml })).toMatchObject({ code: 0 });
    await lab.stop();
    const down = await runHook({ bin, conf: conf({}), xml });
    expect(down.code).toBe(1);
    expect(down.ms).toBeLessThan(5_000);
    expect(await runHook({ bin, conf: conf({ UNREACHABLE: 'allow' }), xml })).toMatchObject({ code: 0 });
    expect(readFileSync(bin.syslog, 'utf8')).toMatch(/billboard unreachable .*allowed ghost-'05/);
  });
});

describe('admit over SSH (policy audit)', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await admissionLab('audit');
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('answers yes, and the audit log names what enforce would have refused', async () => {
    const r = await admit(lab, 'host-lab-b', `--host lab-b --op prepare --uuid ${WEB} --name ${CLONE_NAME}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('policy audit: allowed anyway');
    const audit = (await lab.ssh('alice', 'script --json', 'audit --last 20\n')).json()[0]!.data as any[];
    expect(audit.find((e) => e.action === 'admit')).toMatchObject({
      details: { answer: 'yes', wouldRefuse: true, policy: 'audit' },
    });
  });
});

describe('SIGHUP reloads policy.admission and admission.*', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await admissionLab('enforce');
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  /** write the config with `change` applied, SIGHUP, and wait for the reload's log line that includes `says` */
  async function reload(change: (c: Record<string, any>) => void, says: string): Promise<void> {
    const c = JSON.parse(readFileSync(lab.configPath, 'utf8')) as Record<string, any>;
    change(c);
    lab.writeConfig(c);
    const seen = lab.log.length;
    lab.serve!.kill('SIGHUP');
    await until(() => lab.log.slice(seen).some((l) => l.includes('config reloaded') && l.includes(says)), `the reload saying ${says}`);
  }

  it('the next admit follows the reloaded policy, and the audit log records each change', async () => {
    const ask = `--host lab-a --op prepare --uuid ${uuidFor(6)} --name build-06`;
    expect((await admit(lab, 'host-lab-a', ask)).code).toBe(1);
    await reload((c) => {
      c.policy = { admission: 'audit' };
      c.admission = { unreachable: 'allow', timeoutS: 5 };
    }, 'policy.admission enforce → audit');
    const yes = await admit(lab, 'host-lab-a', ask);
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain('policy audit: allowed anyway');
    await reload((c) => (c.policy = { admission: 'enforce' }), 'policy.admission audit → enforce');
    const no = await admit(lab, 'host-lab-a', ask);
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('registration pending operator approval');

    const audit = (await lab.ssh('alice', 'script --json', 'audit --last 50\n')).json()[0]!.data as any[];
    const reloads = audit.filter((e) => e.action === 'config-reloaded').sort((a, b) => a.seq - b.seq);
    expect(reloads.map((e) => e.details.admission)).toEqual([
      [
        { setting: 'policy.admission', from: 'enforce', to: 'audit' },
        { setting: 'admission.unreachable', from: 'deny', to: 'allow' },
        { setting: 'admission.timeoutS', from: 3, to: 5 },
      ],
      [{ setting: 'policy.admission', from: 'audit', to: 'enforce' }],
    ]);
    expect(reloads.every((e) => e.details.needRestart === undefined)).toBe(true);
    const admits = audit.filter((e) => e.action === 'admit' && e.target === uuidFor(6)).sort((a, b) => a.seq - b.seq);
    expect(admits.map((e) => [e.details.policy, e.details.answer])).toEqual([
      ['enforce', 'no'],
      ['audit', 'yes'],
      ['enforce', 'no'],
    ]);
  });

  it('policy.enforcement still waits for a restart, and the reload says so', async () => {
    await reload(
      (c) => (c.policy = { admission: 'enforce', enforcement: 'stop' }),
      'policy.enforcement changed: applied on the next restart',
    );
  });
});
