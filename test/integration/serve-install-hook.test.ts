// `hosts install-hook` end to end: a real `billboard serve` installs contrib/billboard-admit on an ssh host (a real
// sshd, its hooks folder a temp dir) over the host's own connection; ADMISSION_BYPASSED clears on the next scan; the
// printed operator entry, once in the config, lets the installed hook ask the service over OpenSSH.
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK, domainXml, hookBin, runHook } from '../support/admit-hook.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';
import { requireDist, uuidFor } from './script-harness.js';
import { serveLab, until, type ServeLab } from './serve-harness.js';

requireDist();

describe('hosts install-hook', () => {
  let sshd: Sshd;
  let lab: ServeLab;
  let hooks: string;
  const findings = async () => (await lab.ssh('alice', 'script --json', 'findings\n')).json()[0]!.data as any[];

  beforeAll(async () => {
    sshd = await startSshd();
    lab = await serveLab({ alice: 'admin', olga: 'operator' });
    hooks = join(lab.dir, 'host-hooks');
    mkdirSync(hooks);
    lab.config.hosts = [sshHost(sshd, 'lab-s', fixtureUri('host-a'), { hooksDir: hooks })];
    lab.config.policy = { admission: 'enforce' };
    lab.config.scan = { intervalS: 1 };
    lab.writeConfig(lab.config);
    await lab.start();
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
    await sshd?.stop();
  });

  it('a host whose hooks folder has no qemu hook is ADMISSION_BYPASSED', async () => {
    const f = await until(async () => (await findings()).find((x) => x.code === 'ADMISSION_BYPASSED'), 'ADMISSION_BYPASSED');
    expect(f).toMatchObject({ severity: 'high', hosts: ['lab-s'], evidence: expect.stringContaining('is missing') });
  });

  it('is admin-only, and installs the hook, its key, known_hosts and settings with the right modes', async () => {
    const olga = (await lab.ssh('olga', 'script --json', 'hosts install-hook lab-s\n')).json()[0]!;
    expect(olga).toMatchObject({ ok: false, error: { code: 'PERMISSION' } });
    const r = (await lab.ssh('alice', 'script --json', 'hosts install-hook lab-s\n')).json()[0]!;
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, data: { host: 'lab-s', operator: { name: 'host-lab-s', role: 'host' } } });
    expect(readFileSync(join(hooks, 'qemu'), 'utf8')).toBe(readFileSync(HOOK, 'utf8'));
    const mode = (f: string) => statSync(join(hooks, f)).mode & 0o777;
    expect([mode('qemu'), mode('billboard-admit.key'), mode('billboard-admit.conf'), mode('billboard-admit.known_hosts')]).toEqual([
      0o755, 0o600, 0o644, 0o644,
    ]);
    expect(readFileSync(join(hooks, 'billboard-admit.conf'), 'utf8')).toContain(`TARGET=host-lab-s@127.0.0.1:${lab.port}\n`);
    const keyOf = (line: string) => line.split(' ').slice(0, 3).join(' ');
    expect(keyOf(readFileSync(join(hooks, 'billboard-admit.known_hosts'), 'utf8').trim())).toBe(
      keyOf(readFileSync(lab.knownHosts, 'utf8').trim()),
    );
    const audit = (await lab.ssh('alice', 'script --json', 'audit --last 3\n')).json()[0]!.data as any[];
    expect(audit.find((e) => e.action === 'install-hook')).toMatchObject({ actor: 'alice', target: 'lab-s' });
    expect(JSON.stringify(audit)).not.toContain('PRIVATE KEY');
    (lab as any).operator = r.data.operator;
    await until(async () => !(await findings()).some((x) => x.code === 'ADMISSION_BYPASSED'), 'ADMISSION_BYPASSED resolved');
    // `hosts` says what the installed hook does when the service does not answer, read from the host's own settings
    const host = async () => ((await lab.ssh('alice', 'script --json', 'hosts\n')).json()[0]!.data as any[])[0];
    await until(async () => (await host()).admissionHook?.settings, 'the settings read by a scan');
    expect((await host()).admissionHook).toMatchObject({ state: 'present', settings: { unreachable: 'deny', timeoutS: 3 } });
    expect((await lab.ssh('alice', 'script', 'hosts\n')).stdout).toMatch(/lab-s .* deny after 3 s/);
  });

  it('the installed hook asks the service once its operator is in the config', async () => {
    lab.config.operators.push((lab as any).operator);
    lab.writeConfig(lab.config);
    lab.serve!.kill('SIGHUP');
    const bin = hookBin(join(lab.dir, 'hookbin'), 'real');
    const xml = domainXml({ uuid: uuidFor(9), nameXml: 'stray-09' });
    const conf = join(hooks, 'billboard-admit.conf');
    let last = '';
    const r = await until(async () => {
      const x = await runHook({ bin, conf, xml });
      last = `${x.code} ${x.stderr} ${readFileSync(bin.syslog, 'utf8')}`;
      return x.stderr.includes('tried to start') ? x : undefined;
    }, 'the reloaded host operator').catch((e: Error) => {
      throw new Error(`${e.message}; the hook said: ${last}; serve: ${(lab as any).stderr()}`);
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("lab-s's admin tried to start stray-09");
  });

  it('keeps a foreign qemu hook unless --replace, which keeps a copy; a changed hook is ADMISSION_BYPASSED', async () => {
    writeFileSync(join(hooks, 'qemu'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const f = await until(async () => (await findings()).find((x) => x.code === 'ADMISSION_BYPASSED'), 'ADMISSION_BYPASSED');
    expect(f).toMatchObject({ severity: 'high', hosts: ['lab-s'], evidence: expect.stringContaining('was changed') });
    const kept = (await lab.ssh('alice', 'script --json', 'hosts install-hook lab-s\n')).json()[0]!;
    expect(kept).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    expect(readFileSync(join(hooks, 'qemu'), 'utf8')).toBe('#!/bin/sh\nexit 0\n');
    const replaced = (await lab.ssh('alice', 'script --json', 'hosts install-hook lab-s --replace\n')).json()[0]!;
    expect(replaced).toMatchObject({ ok: true, data: { replaced: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(readdirSync(hooks).some((n) => n.startsWith('qemu.before-billboard.'))).toBe(true);
    await until(async () => !(await findings()).some((x) => x.code === 'ADMISSION_BYPASSED'), 'ADMISSION_BYPASSED resolved');
    expect(existsSync(join(hooks, 'qemu'))).toBe(true);
  });
});
