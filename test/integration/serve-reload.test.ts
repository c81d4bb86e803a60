// SIGHUP against a real `billboard serve`: a reload is audited before it applies (a change whose audit record cannot
// be written changes nothing, and the service stays up), and reloads run one at a time (the last signal's file ends in
// force even when an earlier reload is still waiting on a host).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDriverXml } from '../../src/demo/lab-xml.js';
import { testUri } from '../helpers/libvirt-fixtures.js';
import { requireDist, runBillboard, uuidFor } from './script-harness.js';
import { serveLab, sleep, until, type ServeLab } from './serve-harness.js';

requireDist();

const WEB = uuidFor(1);

/** lab-a (libvirt test driver) running web-01, `extraHosts` beside it, policy.admission enforce */
async function reloadLab(extraHosts: Record<string, unknown>[] = []): Promise<ServeLab> {
  const lab = await serveLab({ alice: 'admin', 'host-lab-a': 'host' });
  const a = join(lab.dir, 'lab-a.xml');
  const web = { uuid: WEB, name: 'web-01', state: 'running' as const, macs: ['52:54:00:00:00:01'], memoryKiB: 65536, vcpus: 1 };
  writeFileSync(a, testDriverXml([web]));
  lab.writeConfig({
    ...lab.config,
    hosts: [{ name: 'lab-a', driver: 'libvirt', uri: testUri(a) }, ...extraHosts],
    policy: { admission: 'enforce' },
  });
  await lab.start();
  await until(async () => {
    const r = await lab.ssh('alice', 'script --json', 'vms\n');
    return (r.json()[0]?.data as any[] | undefined)?.some((v) => v.uuid === WEB);
  }, 'the first scan of lab-a');
  return lab;
}

/** the config file as it is now, with `change` applied, written back */
function rewrite(lab: ServeLab, change: (c: Record<string, any>) => void): void {
  const c = JSON.parse(readFileSync(lab.configPath, 'utf8')) as Record<string, any>;
  change(c);
  lab.writeConfig(c);
}

const stderr = (lab: ServeLab): string => (lab as any).stderr();
const admitUnknown = (lab: ServeLab, i: number) =>
  lab.ssh('host-lab-a', `admit --host lab-a --op prepare --uuid ${uuidFor(i)} --name build-${i}`);

async function auditLog(lab: ServeLab): Promise<any[]> {
  const r = await lab.ssh('alice', 'script --json', 'audit --last 200\n');
  return (r.json()[0]!.data as any[]).sort((x, y) => x.seq - y.seq);
}

/** the serve process's file size limit (RLIMIT_FSIZE, soft): a store write past `limit` fails with EFBIG, as on a full disk */
function fileSizeLimit(lab: ServeLab, limit: string): void {
  const r = spawnSync('prlimit', ['--pid', String(lab.serve!.pid), `--fsize=${limit}:`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
}

describe('SIGHUP when the audit record cannot be written', () => {
  let lab: ServeLab;
  beforeAll(async () => {
    lab = await reloadLab();
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('applies nothing, says so in one line, stays up under the old policy; the next SIGHUP applies it, audited', async () => {
    rewrite(lab, (c) => (c.policy = { admission: 'audit' }));
    fileSizeLimit(lab, '1');
    const seen = lab.log.length;
    lab.serve!.kill('SIGHUP');
    const said = await until(
      () =>
        stderr(lab)
          .split('\n')
          .find((l) => l.includes('config reload refused')),
      'the refused reload on stderr',
    );
    expect(said).toMatch(/^billboard serve: config reload refused, still running on the old config: the change cannot be audited, so none/);
    expect(said).toContain('EFBIG');
    expect(lab.log.slice(seen).filter((l) => l.includes('config reload not applied'))).toHaveLength(1);
    fileSizeLimit(lab, 'unlimited');
    await sleep(200);
    expect(lab.serve!.exitCode).toBeNull();
    expect(lab.log.some((l) => l.includes('config reloaded'))).toBe(false);

    // still enforce: the reload that could not be audited changed nothing
    const no = await admitUnknown(lab, 7);
    expect(no.code, no.stderr).toBe(1);
    expect((await auditLog(lab)).filter((e) => e.action === 'config-reloaded')).toEqual([]);

    // the same file, signalled again once the store can be written: now it applies, and is audited
    lab.serve!.kill('SIGHUP');
    await until(() => lab.log.some((l) => l.includes('config reloaded') && l.includes('policy.admission enforce → audit')), 'the reload');
    const yes = await admitUnknown(lab, 7);
    expect(yes.code, yes.stderr).toBe(0);
    const audit = await auditLog(lab);
    const reloaded = audit.findIndex((e) => e.action === 'config-reloaded');
    expect(audit[reloaded].details.admission).toEqual([{ setting: 'policy.admission', from: 'enforce', to: 'audit' }]);
    const admits = audit.filter((e) => e.action === 'admit' && e.target === uuidFor(7));
    expect(admits.map((e) => [e.details.policy, audit.indexOf(e) > reloaded])).toEqual([
      ['enforce', false],
      ['audit', true],
    ]);
  });

  it('serve --help says what SIGHUP applies and what needs a restart, as a reload reckons it', async () => {
    const help = await runBillboard(['serve', '--help'], lab.env);
    expect(help.stdout).toContain('SIGHUP reloads the config, audited before it applies');
    expect(help.stdout).toMatch(/applied at once: +hosts, operators, policy\.admission, admission\.\* /);
    expect(help.stdout).toMatch(/need a restart: +store, log, beacon, scan, migration, alerts, serve, policy\.enforcement\n/);
    const seen = lab.log.length;
    rewrite(lab, (c) => {
      c.log = { level: 'debug' };
      c.scan = { intervalS: 60 };
    });
    lab.serve!.kill('SIGHUP');
    await until(
      () => lab.log.slice(seen).some((l) => l.includes('config reloaded: log, scan changed: applied on the next restart')),
      'the reload',
    );
  });
});

describe('two SIGHUPs back to back', () => {
  let lab: ServeLab;
  let silent: Server;
  const open = new Set<Socket>();
  beforeAll(async () => {
    // an SSH host that accepts and never answers: removing it makes a reload wait (up to the SSH connect timeout) for
    // the connection under way to give up
    silent = createServer((s) => {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    lab = await reloadLab();
    rewrite(lab, (c) =>
      c.hosts.push({
        name: 'lab-slow',
        driver: 'ssh',
        address: '127.0.0.1',
        port,
        identityFile: lab.keys.alice!.file,
        knownHostsFile: lab.knownHosts,
      }),
    );
    lab.serve!.kill('SIGHUP');
    await until(() => lab.log.some((l) => l.includes('config reloaded') && l.includes('hosts added lab-slow')), 'lab-slow added');
  }, 90_000);
  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
    for (const s of open) s.destroy();
    silent?.close();
  });

  it('the second file ends in force, though the first reload is still waiting on the host it removes', async () => {
    await until(() => open.size > 0, 'a connection to lab-slow under way');
    const seen = lab.log.length;
    rewrite(lab, (c) => {
      c.hosts = c.hosts.filter((h: { name: string }) => h.name !== 'lab-slow');
      c.policy = { admission: 'audit' };
    });
    lab.serve!.kill('SIGHUP');
    // the first reload has read its file (it is now waiting on lab-slow) before the file changes again
    await sleep(500);
    rewrite(lab, (c) => (c.policy = { admission: 'enforce' }));
    expect(lab.log.slice(seen).some((l) => l.includes('config reloaded'))).toBe(false);
    lab.serve!.kill('SIGHUP');
    await until(
      () => lab.log.slice(seen).some((l) => l.includes('config reloaded') && l.includes('policy.admission audit → enforce')),
      'the second reload',
      30_000,
    );
    const no = await admitUnknown(lab, 8);
    expect(no.code, no.stderr).toBe(1);
    const reloads = (await auditLog(lab)).filter((e) => e.action === 'config-reloaded').slice(-2);
    expect(reloads.map((e) => [e.details.hosts.removed, e.details.admission])).toEqual([
      [['lab-slow'], [{ setting: 'policy.admission', from: 'enforce', to: 'audit' }]],
      [[], [{ setting: 'policy.admission', from: 'audit', to: 'enforce' }]],
    ]);
  }, 60_000);
});
