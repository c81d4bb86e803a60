import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { ROOT, runBillboard } from './script-harness.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';

// Issue 4's acceptance through the real binary: two SSH hosts (real sshd, host keys checked) and one libvirt
// host, all libvirt test-driver XMLs; `hosts`, `scan`, `suspend` (read back by the next scan, audited, on the
// libvirt host and on an SSH host) and `isolate` on a hypervisor that cannot (a clear ok:false, never a crash).

const FIX = join(ROOT, 'test', 'fixtures', 'hosts');

function fixtureDomains(name: string): { uuid: string; macs: string[] }[] {
  const xml = readFileSync(join(FIX, `${name}.xml`), 'utf8');
  return [...xml.matchAll(/<domain[\s\S]*?<\/domain>/g)].map((m) => ({
    uuid: /<uuid>([^<]+)<\/uuid>/.exec(m[0])![1]!,
    macs: [...m[0].matchAll(/<mac address='([^']+)'/g)].map((x) => x[1]!.toLowerCase()).sort(),
  }));
}

async function script(config: string, input: string, home: string) {
  const env = { ...process.env, BILLBOARD_PASSPHRASE: 'correct horse', XDG_DATA_HOME: home, XDG_STATE_HOME: home, SSH_AUTH_SOCK: '' };
  const r = await runBillboard(['script', '--json', '--config', config], env, input);
  return { code: r.code, lines: r.json(), stderr: r.stderr };
}

describe('script with two SSH hosts and one libvirt host', () => {
  let sshd: Sshd;
  let dir: string;
  let config: string;
  beforeAll(async () => {
    sshd = await startSshd();
    dir = mkdtempSync(join(tmpdir(), 'bb-hosts-'));
    const ssh = (name: string, fixture: 'host-a' | 'host-b') => sshHost(sshd, name, fixtureUri(fixture));
    config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        beacon: { listen: '127.0.0.1:0' },
        hosts: [ssh('lab-a', 'host-a'), ssh('lab-b', 'host-b'), { name: 'lab-c', driver: 'libvirt', uri: fixtureUri('host-c') }],
      }),
    );
  });
  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists all three up and scans every domain with its UUID and MACs', { timeout: 60_000 }, async () => {
    const r = await script(config, 'hosts\nscan\n', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [hosts, scan] = r.lines;
    expect(hosts.ok).toBe(true);
    expect(hosts.data.map((h: any) => [h.name, h.driver, h.up])).toEqual([
      ['lab-a', 'ssh', true],
      ['lab-b', 'ssh', true],
      ['lab-c', 'libvirt', true],
    ]);
    expect(scan.ok).toBe(true);
    for (const [host, fixture] of [
      ['lab-a', 'host-a'],
      ['lab-b', 'host-b'],
      ['lab-c', 'host-c'],
    ] as const) {
      const got = scan.data.find((s: any) => s.host === host);
      expect(got.ok).toBe(true);
      const seen = got.domains.map((d: any) => ({ uuid: d.uuid, macs: [...d.macs].sort() }));
      expect(seen.sort((a: any, b: any) => a.uuid.localeCompare(b.uuid))).toEqual(
        fixtureDomains(fixture).sort((a, b) => a.uuid.localeCompare(b.uuid)),
      );
    }
  });

  it(
    'suspend pauses (read back by the next scan) and is audited; isolate on the test driver is a clear error',
    { timeout: 60_000 },
    async () => {
      const vm = '6f1c2b9e-0a11-4c3e-9a51-00000000c001';
      const r = await script(config, `suspend ${vm} --host lab-c\nscan lab-c\nisolate ${vm} --host lab-c\naudit --last 5\n`, dir);
      expect(r.code).toBe(1); // isolate failed, as it must
      const [suspend, scan, isolate, audit] = r.lines;
      expect(suspend.ok).toBe(true);
      expect(scan.data[0].domains.find((d: any) => d.uuid === vm).state).toBe('paused');
      expect(isolate.ok).toBe(false);
      expect(isolate.error.code).toBe('UNSUPPORTED');
      expect(isolate.error.message).toMatch(/suspend|stop/);
      expect(isolate.error.message.split('\n')).toHaveLength(1);
      const actions = audit.data.map((e: any) => `${e.action} ${e.target}`);
      expect(actions).toEqual(expect.arrayContaining([`suspend ${vm}`, `suspend-done ${vm}`, `isolate ${vm}`, `isolate-failed ${vm}`]));
    },
  );

  it(
    'suspend on an SSH host is read back by the next scan (one virsh session per host keeps the test driver state)',
    { timeout: 60_000 },
    async () => {
      const vm = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
      const r = await script(config, `scan lab-a\nsuspend ${vm} --host lab-a\nscan lab-a\n`, dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [before, suspend, after] = r.lines;
      expect(before.data[0].domains.find((d: any) => d.uuid === vm).state).toBe('running');
      expect(suspend.ok).toBe(true);
      expect(after.data[0].domains.find((d: any) => d.uuid === vm).state).toBe('paused');
    },
  );

  it('refuses a host whose key is not in known_hosts, naming the fingerprint, and keeps the others', { timeout: 60_000 }, async () => {
    const cfg = JSON.parse(readFileSync(config, 'utf8'));
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    cfg.hosts[1].knownHostsFile = empty;
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify(cfg));
    const r = await script(bad, 'hosts\n', dir);
    const hosts = r.lines[0].data;
    expect(hosts.find((h: any) => h.name === 'lab-a').up).toBe(true);
    const b = hosts.find((h: any) => h.name === 'lab-b');
    expect(b.up).toBe(false);
    expect(b.lastError).toContain(sshd.hostKeyFingerprint);
  });
});
