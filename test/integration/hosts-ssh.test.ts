import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtDriver } from '../../src/hosts/libvirt-driver.js';
import { createDriver, Scanner } from '../../src/hosts/scanner.js';
import { SshDriver, type SshDriverOptions } from '../../src/hosts/ssh-driver.js';
import type { HostConfig, SshHostConfig } from '../../src/model/config.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

// The SSH driver against a real OpenSSH sshd on loopback, running the real virsh on test:/// fixtures.
// Note: over SSH each command is a new virsh process, so the test driver's in-memory state changes
// (suspend, destroy) do not persist between commands; state changes are tested via the libvirt driver.

const WEB1 = '6f1c2b9e-0a11-4c3e-9a51-00000000a001';
let sshd: Sshd;
const fakes: Record<string, string> = {};

function fake(name: string, body: string): string {
  const file = join(sshd.dir, `virsh-${name}`);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function host(over: Partial<SshHostConfig> = {}): SshHostConfig {
  return {
    name: 'lab-ssh',
    driver: 'ssh',
    address: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    libvirtUri: fixtureUri('host-a'),
    ...over,
  };
}

async function withDriver<T>(h: SshHostConfig, fn: (d: SshDriver) => Promise<T>, o: SshDriverOptions = {}): Promise<T> {
  const d = new SshDriver(h, o);
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  fakes.malformed = fake('malformed', `/usr/bin/virsh "$@" | sed 's#</devices>#</devics>#'`);
  fakes.truncated = fake('truncated', `case "$*" in *dumpxml*) /usr/bin/virsh "$@" | head -c 1500; kill -9 $PPID;; *) exec /usr/bin/virsh "$@";; esac`);
  fakes.failing = fake('failing', `echo "error: internal error: the hypervisor is on fire" >&2; exit 1`);
  fakes.hang = fake('hang', `exec sleep 20`);
  fakes.slow = fake('slow', `sleep 3; exec /usr/bin/virsh "$@"`);
});

afterAll(async () => {
  await sshd?.stop();
});

describe('ssh driver host keys and auth', () => {
  it('accepts the known host key and scans every domain like the libvirt driver does', async () => {
    const b = await withDriver(host(), (d) => d.scanAll());
    const direct = new LibvirtDriver({ name: 'x', driver: 'libvirt', uri: fixtureUri('host-a') });
    const ref = await direct.inventory().finally(() => direct.close());
    const pick = (ds: typeof ref) => ds.map((d) => [d.uuid, d.name, d.state, d.macs.join(','), d.definitionHash]).sort();
    expect(pick(b.domains)).toEqual(pick(ref));
    expect(b.domains.find((d) => d.uuid === WEB1)?.macs).toEqual(['52:54:00:0a:00:01', '52:54:00:0a:00:02']);
    expect(b.node).toMatchObject({ cpus: 8, memoryKiB: 16777216 });
  });

  it('accepts a hashed known_hosts entry', async () => {
    const kh = sshd.writeKnownHosts('known_hosts_hashed', { hashed: true });
    const inv = await withDriver(host({ knownHostsFile: kh }), (d) => d.inventory());
    expect(inv).toHaveLength(3);
  });

  it('refuses an unknown host key with its fingerprint', async () => {
    const kh = join(sshd.dir, 'known_hosts_empty');
    writeFileSync(kh, `otherhost ${sshd.otherKey('k1').publicKey}\n`);
    const err = await withDriver(host({ knownHostsFile: kh }), (d) => d.inventory()).catch((e) => e);
    expect(err).toMatchObject({ code: 'HOST_ERROR' });
    expect(err.message).toMatch(/^lab-ssh: host key for \[127\.0\.0\.1\]:\d+ is not in /);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('refuses a changed host key with its fingerprint', async () => {
    const kh = sshd.writeKnownHosts('known_hosts_changed', { publicKey: sshd.otherKey('k2').publicKey });
    const err = await withDriver(host({ knownHostsFile: kh }), (d) => d.connect()).catch((e) => e);
    expect(err).toMatchObject({ code: 'HOST_ERROR' });
    expect(err.message).toMatch(/HOST KEY CHANGED/);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
  });

  it('authenticates with ssh-agent when no identity file is configured', async () => {
    const agent = await sshd.startAgent();
    const saved = process.env.SSH_AUTH_SOCK;
    process.env.SSH_AUTH_SOCK = agent.sock;
    try {
      const inv = await withDriver(host({ identityFile: undefined }), (d) => d.inventory());
      expect(inv.map((d) => d.uuid)).toContain(WEB1);
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.stop();
    }
  });

  it('reports a key the server does not accept as an authentication failure', async () => {
    const err = await withDriver(host({ identityFile: sshd.otherKey('k3').privateFile }), (d) => d.connect()).catch((e) => e);
    expect(err).toMatchObject({ code: 'HOST_ERROR', message: expect.stringMatching(/^lab-ssh: authentication failed/) });
  });
});

describe('ssh driver commands and bad hosts', () => {
  it('runs enforcement commands; isolate on the test driver is UNSUPPORTED; unknown domains NOT_FOUND', async () => {
    await withDriver(host(), async (d) => {
      await d.suspend(WEB1); // runs (state does not persist across virsh processes on test:///)
      await expect(d.isolate(WEB1)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/suspend or stop/) });
      await expect(d.stop('6f1c2b9e-0a11-4c3e-9a51-0000000000ff')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(d.resume(WEB1)).rejects.toMatchObject({ code: 'HOST_ERROR', message: expect.stringMatching(/^lab-ssh: virsh resume failed: /) });
      const xml = await d.domainXml(WEB1);
      expect(xml).toContain(WEB1);
    });
  });

  it('malformed XML is a host error naming the domain', async () => {
    const err = await withDriver(host(), (d) => d.inventory(), { virshPath: fakes.malformed }).catch((e) => e);
    expect(err).toMatchObject({ code: 'HOST_ERROR', message: expect.stringMatching(/^lab-ssh: malformed domain XML .* for domain [0-9a-f-]{36}$/) });
  });

  it('truncated output is a host error', async () => {
    const err = await withDriver(host(), (d) => d.inventory(), { virshPath: fakes.truncated }).catch((e) => e);
    expect(err.code).toBe('HOST_ERROR');
    expect(err.message).toMatch(/^lab-ssh: .*(truncated|signal)/);
  });

  it('a non-zero virsh exit is a host error with virsh’s message', async () => {
    const err = await withDriver(host(), (d) => d.inventory(), { virshPath: fakes.failing }).catch((e) => e);
    expect(err).toMatchObject({ code: 'HOST_ERROR', message: 'lab-ssh: virsh list failed: internal error: the hypervisor is on fire' });
  });

  it('a command that hangs times out, and the connection still serves the next command', async () => {
    const d = new SshDriver(host(), { virshPath: fakes.hang, commandTimeoutMs: 1500 });
    try {
      await expect(d.inventory()).rejects.toMatchObject({ code: 'TIMEOUT', message: 'lab-ssh: scan timed out after 1.5s' });
      const r = await d.conn.exec('echo still-here', { timeoutMs: 5000 });
      expect(r.stdout.trim()).toBe('still-here');
    } finally {
      await d.close();
    }
  });
});

describe('scanner with ssh hosts', () => {
  it('a killed sshd mid-scan marks the host down with the reason while other hosts scan; it recovers after restart', async () => {
    const hosts: HostConfig[] = [host({ name: 'lab-slow' }), { name: 'lab-b', driver: 'libvirt', uri: fixtureUri('host-b') }];
    const s = new Scanner({
      hosts,
      timeoutMs: 20_000,
      concurrency: 4,
      intervalMs: 60_000,
      createDriver: (h) => createDriver(h, undefined, h.driver === 'ssh' ? { virshPath: fakes.slow } : {}),
    });
    const downs: string[] = [];
    s.on('host-down', (h: string, msg: string) => downs.push(`${h}: ${msg}`));
    try {
      await s.driver('lab-slow').connect();
      const scanning = s.scan();
      await new Promise((r) => setTimeout(r, 800));
      await sshd.kill();
      const res = await scanning;
      const slow = res.find((r) => r.host === 'lab-slow')!;
      const b = res.find((r) => r.host === 'lab-b')!;
      expect(b.ok).toBe(true);
      expect(b.inventory!.domains).toHaveLength(3);
      expect(slow.ok).toBe(false);
      expect(slow.error).toMatch(/^lab-slow: .*(interrupted|lost|reset|closed)/);
      expect(downs).toHaveLength(1);
      const st = s.statuses().find((x) => x.name === 'lab-slow')!;
      expect(st).toMatchObject({ up: false, consecutiveFailures: 1, lastError: slow.error });

      // while it is down, the next scan fails fast with a clear reason
      const again = await s.scan(['lab-slow']);
      expect(again[0]).toMatchObject({ ok: false, error: expect.stringMatching(/^lab-slow: connection refused/) });

      await sshd.restart();
      const back = await s.scan(['lab-slow']);
      expect(back[0].ok).toBe(true);
      expect(s.statuses().find((x) => x.name === 'lab-slow')).toMatchObject({ up: true, consecutiveFailures: 0, domains: 3 });
    } finally {
      await s.stop();
    }
  });
});
