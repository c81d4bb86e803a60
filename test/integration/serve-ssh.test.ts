// `billboard serve` on real processes: OpenSSH's ssh and `billboard script --connect` as clients, public-key
// authentication against operators[], roles, the audit actor, SIGHUP, SIGTERM and kill -9.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDist, uuidFor } from './script-harness.js';
import { serveLab, until, type ServeLab } from './serve-harness.js';

requireDist();

describe('billboard serve: operators over SSH', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await serveLab({ alice: 'operator', bob: 'admin', vera: 'viewer' });
    await lab.start();
  }, 60_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('init created the host key 0600', () => {
    const st = statSync(join(lab.dir, 'data', 'billboard', 'ssh_host_ed25519_key'));
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('OpenSSH runs the grammar as alice; the audit names alice; --connect prints the same results', async () => {
    const uuid = uuidFor(1);
    const r = await lab.ssh('alice', 'script --json', `register web-01 --uuid ${uuid}\npending\n`);
    expect(r.code, r.stderr).toBe(0);
    const [reg, pend] = r.json();
    expect(reg).toMatchObject({ command: 'register', ok: true, data: { createdBy: 'alice' } });
    expect(pend!.data.map((p: any) => p.uuid)).toContain(uuid);
    const plan = 'pending\nshow web-01\nnosuch\n';
    const a = await lab.ssh('alice', 'script --json', plan);
    const b = await lab.connectScript('alice', ['--json'], plan);
    expect(a.code).toBe(1);
    expect(b.code).toBe(1);
    expect(b.stdout).toBe(a.stdout);
    const audit = await lab.ssh('bob', 'script --json', 'audit --last 5\n');
    const entries = audit.json()[0]!.data as any[];
    expect(entries.find((e) => e.action === 'register')).toMatchObject({ actor: 'alice', target: uuid });
  });

  it('a viewer reads but approve fails with PERMISSION; the host role and admin-only commands are refused', async () => {
    const r = await lab.ssh('vera', 'script --json', 'vms\napprove web-01\n');
    const [vms, approve] = r.json();
    expect(vms).toMatchObject({ command: 'vms', ok: true });
    expect(approve).toMatchObject({ command: 'approve', ok: false, error: { code: 'PERMISSION' } });
    const revoke = await lab.ssh('alice', 'script --json', 'revoke web-01\n');
    expect(revoke.json()[0]).toMatchObject({ ok: false, error: { code: 'PERMISSION' } });
  });

  it('an unknown key is refused and logged with its fingerprint; a key under another name is refused', async () => {
    const r = await lab.ssh('stranger', 'script --json', 'vms\n');
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    const other = await lab.ssh('alice', 'script --json', 'vms\n', 'bob');
    expect(other.code).toBe(255);
    await until(
      () => lab.log.some((l) => /ssh key refused/.test(l) && /SHA256:/.test(l) && /"user":"stranger"/.test(l)),
      'the refusal in the log',
    );
  });

  it('--actor is refused when attached, and an unknown service key is never accepted', async () => {
    const r = await lab.connectScript('alice', ['--actor', 'mallory'], 'vms\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--actor is refused when attached/);
    const ssh = await lab.ssh('alice', 'script --actor mallory', 'vms\n');
    expect(ssh.code).toBe(2);
    const wrong = await (async () => {
      const { writeFileSync } = await import('node:fs');
      const kh = join(lab.dir, 'other_known_hosts');
      writeFileSync(kh, `[127.0.0.1]:${lab.port} ${lab.keys.bob!.pub}\n`);
      const { runBillboard } = await import('./script-harness.js');
      return runBillboard(
        ['script', '--connect', `alice@127.0.0.1:${lab.port}`, '--identity', lab.keys.alice!.file, '--known-hosts', kh],
        lab.env,
        'vms\n',
      );
    })();
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/HOST KEY CHANGED/);
  });
});

describe('billboard serve: lifecycle', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await serveLab({ alice: 'operator', bob: 'admin' });
    await lab.start();
  }, 60_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('SIGHUP with a broken config keeps the old one; with an added host, scans it; the change is audited', async () => {
    lab.writeConfig({ ...lab.config, hosts: [{ name: 'x', driver: 'nope' }] });
    lab.serve!.kill('SIGHUP');
    await until(() => /config reload refused/.test((lab as any).stderr()), 'the refusal');
    expect((lab as any).stderr()).toMatch(/still running on the old config: .*driver/);
    expect((await lab.ssh('alice', 'script --json', 'hosts\n')).json()[0]).toMatchObject({ ok: true, data: [] });
    lab.writeConfig({ ...lab.config, hosts: [{ name: 'lab-t', driver: 'libvirt', uri: 'test:///default' }] });
    lab.serve!.kill('SIGHUP');
    await until(() => /config reloaded: hosts added lab-t/.test((lab as any).stderr()), 'the reload');
    const hosts = await until(async () => {
      const h = (await lab.ssh('alice', 'script --json', 'hosts\n')).json()[0]!.data as any[];
      return h.find((x) => x.name === 'lab-t' && x.up) ? h : undefined;
    }, 'lab-t scanned');
    expect(hosts).toHaveLength(1);
    const audit = (await lab.ssh('bob', 'script --json', 'audit --last 3\n')).json()[0]!.data as any[];
    expect(audit.find((e) => e.action === 'config-reloaded')).toMatchObject({ actor: 'service', details: { hosts: { added: ['lab-t'] } } });
  });

  it('SIGHUP removing an operator detaches them and refuses their key', async () => {
    lab.writeConfig({ ...lab.config, operators: lab.config.operators.filter((o: any) => o.name !== 'alice') });
    lab.serve!.kill('SIGHUP');
    await until(() => /operators removed alice/.test((lab as any).stderr()), 'the reload');
    expect((await lab.ssh('alice', 'script --json', 'vms\n')).code).toBe(255);
    expect((await lab.ssh('bob', 'script --json', 'vms\n')).code).toBe(0);
  });

  it('kill -9, then a restart: the store opens and nothing acknowledged is lost; SIGTERM exits 0', async () => {
    const uuid = uuidFor(7);
    const r = await lab.ssh('bob', 'script --json', `register db-07 --uuid ${uuid}\n`);
    expect(r.json()[0]).toMatchObject({ ok: true });
    await lab.stop('SIGKILL');
    await lab.start();
    const p = await lab.ssh('bob', 'script --json', 'pending\n');
    expect(p.json()[0]!.data.map((x: any) => x.uuid)).toContain(uuid);
    expect(await lab.stop('SIGTERM')).toBe(0);
  });
});
