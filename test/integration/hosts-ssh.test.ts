import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtDriver } from '../../src/hosts/libvirt/driver.js';
import { createDriver } from '../../src/hosts/factory.js';
import { Scanner } from '../../src/hosts/scanner.js';
import { HANG_AFTER_S } from '../../src/hosts/virsh/migrate-guard.js';
import { SshDriver, type SshDriverOptions } from '../../src/hosts/ssh/driver.js';
import type { HostConfig, SshHostConfig } from '../../src/model/config.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';

// The SSH driver against a real OpenSSH sshd on loopback, running the real virsh on test:/// fixtures.
// By default the driver keeps one persistent virsh session per host (the test driver's in-memory state then
// lives as long as the session); with { session: false } every command is a new virsh process.
// Fakes for the remote virsh: called with 3 arguments (`-q -c URI`) they are the session, with more a one-shot exec.

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
  return sshHost(sshd, 'lab-ssh', fixtureUri('host-a'), over);
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
  fakes.malformed = fake('malformed', `/usr/bin/virsh "$@" | sed -u 's#</devices>#</devics>#'`);
  // session: the output stops after 1500 bytes and virsh is gone; exec: the scan script is killed mid-dumpxml
  fakes.truncated = fake(
    'truncated',
    `if [ $# -eq 3 ]; then
  # virsh ignores SIGPIPE: cutting its output is not enough to end it, so it is killed once 1500 bytes went out
  exec 3<&0; f=$(mktemp -u); mkfifo "$f"; /usr/bin/virsh "$@" <&3 >"$f" 2>&1 & v=$!
  dd bs=1 count=1500 <"$f" 2>/dev/null; kill -9 $v; rm -f "$f"; exit 0
fi
case "$*" in *dumpxml*) /usr/bin/virsh "$@" | head -c 1500; kill -9 $PPID;; *) exec /usr/bin/virsh "$@";; esac`,
  );
  // a session whose first dumpxml hangs (once: the flag file remembers), fed through a line filter
  const hangOnce = (name: string) =>
    fake(
      name,
      `if [ $# -eq 3 ]; then
  echo $$ > ${sshd.dir}/${name}.pid
  while IFS= read -r l; do
    case "$l" in dumpxml*) if [ ! -e ${sshd.dir}/${name}.hung ]; then : > ${sshd.dir}/${name}.hung; sleep 30; fi;; esac
    printf '%s\n' "$l"
  done | /usr/bin/virsh "$@"
  exit
fi
exec /usr/bin/virsh "$@"`,
    );
  fakes.hangOnce = hangOnce('hang-once');
  fakes.hangOnceScanner = hangOnce('hang-once-scanner');
  fakes.hangOnceReset = hangOnce('hang-once-reset');
  // a session that never answers (its output is held back until 1 MiB), a one-shot exec that works
  fakes.silent = fake(
    'silent',
    `if [ $# -eq 3 ]; then /usr/bin/virsh "$@" | dd bs=1M iflag=fullblock 2>/dev/null; exit; fi
exec /usr/bin/virsh "$@"`,
  );
  // the session's virsh writes its pid (for a test to kill it)
  fakes.pid = fake(
    'pid',
    `if [ $# -eq 3 ]; then echo $$ > ${sshd.dir}/session.pid; fi
exec /usr/bin/virsh "$@"`,
  );
  fakes.failing = fake('failing', `echo "error: internal error: the hypervisor is on fire" >&2; exit 1`);
  fakes.hang = fake('hang', `exec sleep 21`);
  // virsh 9.0's migrate hang (hosts/virsh/migrate-guard.ts): a migrate that prints nothing and never returns, in a session
  // (the line is held; the session's pid is this script's shell) and as a one-shot exec
  fakes.migrateHang = fake(
    'migrate-hang',
    `if [ $# -eq 3 ]; then
  while IFS= read -r l; do
    case "$l" in migrate*) sleep 62;; esac
    printf '%s\n' "$l"
  done | /usr/bin/virsh "$@"
  exit
fi
case "$4" in migrate) exec sleep 62;; esac
exec /usr/bin/virsh "$@"`,
  );
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

/** `ok()` became true (polls up to 5 s) */
async function until(ok: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** every process of the group led by pid has exited (polls up to 5 s) */
async function groupGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      if (!execFileSync('ps', ['-o', 'pid=', '-g', String(pid)], { encoding: 'utf8' }).trim()) return true;
    } catch {
      return true; // ps exits 1 when no process matches
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const stateOf = async (d: SshDriver, uuid: string) => (await d.scanAll()).domains.find((x) => x.uuid === uuid)?.state;

describe('ssh driver commands and bad hosts', () => {
  it('runs enforcement commands in the session: a suspend is seen by the next scan; a reconnect reads the file afresh', async () => {
    await withDriver(host(), async (d) => {
      expect(await stateOf(d, WEB1)).toBe('running');
      await d.suspend(WEB1);
      expect(await stateOf(d, WEB1)).toBe('paused');
      await d.resume(WEB1);
      expect(await stateOf(d, WEB1)).toBe('running');
      await expect(d.resume(WEB1)).rejects.toMatchObject({
        code: 'HOST_ERROR',
        message: expect.stringMatching(/^lab-ssh: virsh resume failed: .*not paused/),
      });
      await d.suspend(WEB1);
      await d.close(); // what the demo lab does after rewriting a host's XML: the next call starts a fresh session
      expect(await stateOf(d, WEB1)).toBe('running');
      await expect(d.isolate(WEB1)).rejects.toMatchObject({ code: 'UNSUPPORTED', message: expect.stringMatching(/suspend or stop/) });
      await expect(d.stop('6f1c2b9e-0a11-4c3e-9a51-0000000000ff')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await d.domainXml(WEB1)).toContain(WEB1);
      const one = await d.domain(WEB1);
      expect(one).toMatchObject({ uuid: WEB1, state: 'running', macs: ['52:54:00:0a:00:01', '52:54:00:0a:00:02'] });
      expect(await d.nodeInfo()).toMatchObject({ cpus: 8, memoryKiB: 16777216 });
      expect(d.stats).toEqual({ sessionStarts: 2, sessionStartFailures: 0, execFallbacks: 0 });
    });
  });

  it("a running domain redefined in the session: its one-domain scan and a whole scan asked to read it report the saved definition's hash", async () => {
    await withDriver(host(), async (d) => {
      const before = (await d.scanDomain(WEB1))!;
      expect(before).not.toHaveProperty('savedDefinitionHash'); // dumpxml --inactive of an unedited domain hashes the same
      const edited = join(sshd.dir, 'web-1-edited.xml');
      writeFileSync(edited, (await d.domainXml(WEB1)).replace(/<memory unit='KiB'>\d+/, "<memory unit='KiB'>2097152"));
      // `virsh define` through the driver's own session (the test driver keeps the saved definition there)
      await (d as unknown as { virshOne(a: string[]): Promise<string> }).virshOne(['define', edited]);
      const after = (await d.scanDomain(WEB1))!;
      expect(after).toMatchObject({ state: 'running', definitionHash: before.definitionHash, memoryKiB: before.memoryKiB });
      expect(after.savedDefinitionHash).toMatch(/^[0-9a-f]{64}$/);
      expect(after.savedDefinitionHash).not.toBe(before.definitionHash);
      // a whole scan reads it when asked to (the scanner asks for hosts whose events it follows)
      expect((await d.scanAll()).domains.find((x) => x.uuid === WEB1)).not.toHaveProperty('savedDefinitionHash');
      const asked = await d.scanAll({ savedDefinitions: true });
      expect(asked.savedRead).toBe(true);
      expect(asked.domains.find((x) => x.uuid === WEB1)?.savedDefinitionHash).toBe(after.savedDefinitionHash);
      expect(asked.domains.filter((x) => x.savedDefinitionHash).map((x) => x.uuid)).toEqual([WEB1]);
    });
    // the one-exec path cannot: it says so, and the scanner carries what it knew
    await withDriver(host(), async (d) => expect((await d.scanAll({ savedDefinitions: true })).savedRead).toBeUndefined(), {
      session: false,
    });
  });

  it('migrate runs in the warm session (handed over, its URI quoted for virsh) and reports virsh’s error; the next command starts a new session', async () => {
    await withDriver(host(), async (d) => {
      await d.scanAll();
      expect(d.stats.sessionStarts).toBe(1);
      // the test driver cannot migrate: virsh's own refusal must come back as the error, not a silent success.
      // On a loaded machine virsh 9.0 may hang on such an instant failure instead: the guard kills it and says so.
      const err = await d.jobs.migrate(WEB1, { transport: 'direct', destUri: 'test:///default', bandwidthMiBs: 8 }).catch((e) => e);
      expect(err).toMatchObject({
        code: expect.stringMatching(/^(UNSUPPORTED|HOST_ERROR)$/),
        message: expect.stringMatching(/^lab-ssh: virsh migrate failed(: .*not supported| at once, then hung)/),
      });
      expect(d.stats.execFallbacks).toBe(0);
      expect(await stateOf(d, WEB1)).toBe('running');
      expect(d.stats.sessionStarts).toBe(2);
    });
  });

  for (const mode of ['session', 'exec'] as const) {
    it(`${mode}: a migrate that hangs without a migration (virsh 9.0's race) is killed after ${HANG_AFTER_S} s with a clear error`, async () => {
      await withDriver(
        host(),
        async (d) => {
          await d.scanAll();
          // the warm session's virsh (private: the session keeper's), to check its process group is gone after
          const pid = mode === 'session' ? (d as unknown as { sessions: { session?: { pid?: number } } }).sessions.session?.pid : undefined;
          expect(mode === 'exec' || pid !== undefined).toBe(true);
          const t0 = Date.now();
          const err = await d.jobs.migrate(WEB1, { transport: 'direct', destUri: 'test:///default' }).catch((e) => e);
          expect(err.code, err.message).toBe('HOST_ERROR');
          expect(err.message).toMatch(/^lab-ssh: virsh migrate failed at once, then hung .* no migration is running/);
          expect(Date.now() - t0).toBeGreaterThanOrEqual(HANG_AFTER_S * 1000);
          expect(Date.now() - t0).toBeLessThan(HANG_AFTER_S * 1000 + 20_000); // the guard, not the 6 h migrate timeout
          if (pid !== undefined) expect(await groupGone(pid)).toBe(true);
          expect(spawnSync('pgrep', ['-f', '^sleep 62$']).status).toBe(1); // the hung process was killed
          expect(await stateOf(d, WEB1)).toBe('running');
        },
        { virshPath: fakes.migrateHang, session: mode === 'session' },
      );
    }, 60_000);
  }

  it('without a session every command is its own virsh process: a suspend does not survive it', async () => {
    await withDriver(
      host(),
      async (d) => {
        await d.suspend(WEB1);
        expect(await stateOf(d, WEB1)).toBe('running');
        await expect(d.resume(WEB1)).rejects.toMatchObject({
          code: 'HOST_ERROR',
          message: expect.stringMatching(/^lab-ssh: virsh resume failed: /),
        });
        await expect(d.stop('6f1c2b9e-0a11-4c3e-9a51-0000000000ff')).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect(await d.domainXml(WEB1)).toContain(WEB1);
        expect(d.stats.sessionStarts).toBe(0);
      },
      { session: false },
    );
  });

  it('a session scan sees exactly what a one-shot exec scan sees (addresses and node info included), and warm scans reuse it', async () => {
    const viaExec = await withDriver(host(), (d) => d.scanAll(), { session: false });
    await withDriver(host(), async (d) => {
      const first = await d.scanAll();
      const again = await d.scanAll();
      expect(first).toEqual(viaExec);
      expect(again).toEqual(viaExec);
      expect(first.domains.some((x) => x.ips.length > 0)).toBe(true);
      expect(d.stats).toEqual({ sessionStarts: 1, sessionStartFailures: 0, execFallbacks: 0 });
    });
  });

  for (const mode of ['session', 'exec'] as const) {
    const o: SshDriverOptions = mode === 'exec' ? { session: false } : {};

    it(`${mode}: malformed XML is a host error naming the domain`, async () => {
      await withDriver(
        host(),
        async (d) => {
          const err = await d.inventory().catch((e) => e);
          expect(err).toMatchObject({
            code: 'HOST_ERROR',
            message: expect.stringMatching(/^lab-ssh: malformed domain XML .* for domain [0-9a-f-]{36}$/),
          });
          expect(d.stats).toEqual(
            mode === 'session'
              ? { sessionStarts: 1, sessionStartFailures: 0, execFallbacks: 0 }
              : { sessionStarts: 0, sessionStartFailures: 0, execFallbacks: 1 },
          );
        },
        { ...o, virshPath: fakes.malformed },
      );
    });

    it(`${mode}: truncated output is a host error`, async () => {
      await withDriver(
        host(),
        async (d) => {
          const err = await d.inventory().catch((e) => e);
          expect(err.code).toBe('HOST_ERROR');
          expect(err.message).toMatch(/^lab-ssh: .*(truncated|signal)/);
          if (mode === 'session') expect(d.stats).toEqual({ sessionStarts: 1, sessionStartFailures: 0, execFallbacks: 0 });
        },
        { ...o, virshPath: fakes.truncated },
      );
    });

    it(`${mode}: output beyond the bound is a host error; the connection still serves the next command`, async () => {
      await withDriver(
        host(),
        async (d) => {
          await expect(d.scanAll()).rejects.toMatchObject({
            code: 'HOST_ERROR',
            message: expect.stringMatching(/^lab-ssh: .*output exceeded 2000 bytes/),
          });
          expect(d.sessionAlive).toBe(false); // killed, not left holding half an answer
          const r = await d.conn.exec('echo still-here', { timeoutMs: 5000 });
          expect(r.stdout.trim()).toBe('still-here');
        },
        { ...o, maxOutputBytes: 2000 },
      );
    });
  }

  it('a non-zero virsh exit is a host error with virsh’s message (the session cannot start; the exec says why)', async () => {
    await withDriver(
      host(),
      async (d) => {
        const err = await d.inventory().catch((e) => e);
        expect(err).toMatchObject({ code: 'HOST_ERROR', message: 'lab-ssh: virsh list failed: internal error: the hypervisor is on fire' });
        expect(d.stats).toEqual({ sessionStarts: 1, sessionStartFailures: 1, execFallbacks: 1 });
      },
      { virshPath: fakes.failing },
    );
  });

  it('a command that hangs times out and is killed on the host (sshd refuses signals for root: by its process group), and the connection still serves the next command', async () => {
    // 4 s: the kill needs the login shell's pid line, which a loaded machine may take a while to print
    const d = new SshDriver(host(), { virshPath: fakes.hang, commandTimeoutMs: 4000, session: false });
    try {
      await d.connect();
      await expect(d.inventory()).rejects.toMatchObject({ code: 'TIMEOUT', message: 'lab-ssh: scan timed out after 4.0s' });
      expect(await until(() => spawnSync('pgrep', ['-f', '^sleep 21$']).status === 1)).toBe(true);
      const r = await d.conn.exec('echo still-here', { timeoutMs: 5000 });
      expect(r.stdout.trim()).toBe('still-here');
      expect(r.stderr).not.toMatch(/@@BB[0-9a-f]*:pid/); // the shell's pid line is the connection's, not the command's
    } finally {
      await d.close();
    }
  });

  it('a command that hangs inside a session times out and kills it; the next scan runs on a new session', async () => {
    await withDriver(
      host(),
      async (d) => {
        // connected first, and 6 s: the budget also covers starting the session and the list before dumpxml hangs
        await d.connect();
        await expect(d.scanAll()).rejects.toMatchObject({ code: 'TIMEOUT', message: 'lab-ssh: scan timed out after 6.0s' });
        expect(existsSync(join(sshd.dir, 'hang-once.hung'))).toBe(true); // it really hung in dumpxml
        // the hung session is killed, pipeline and all (sshd refuses signal requests for root: the driver kills the group)
        expect(await groupGone(Number(readFileSync(join(sshd.dir, 'hang-once.pid'), 'utf8')))).toBe(true);
        const b = await d.scanAll();
        expect(b.domains).toHaveLength(3);
        expect(d.stats).toEqual({ sessionStarts: 2, sessionStartFailures: 0, execFallbacks: 0 });
      },
      { virshPath: fakes.hangOnce, commandTimeoutMs: 6000 },
    );
  });

  it('a session that dies between scans is replaced by the next scan', async () => {
    await withDriver(
      host(),
      async (d) => {
        expect((await d.scanAll()).domains).toHaveLength(3);
        const pid = Number(readFileSync(join(sshd.dir, 'session.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && d.sessionAlive; i++) await new Promise((r) => setTimeout(r, 20));
        expect(d.sessionAlive).toBe(false);
        expect((await d.scanAll()).domains).toHaveLength(3);
        expect(Number(readFileSync(join(sshd.dir, 'session.pid'), 'utf8'))).not.toBe(pid);
        expect(d.stats).toEqual({ sessionStarts: 2, sessionStartFailures: 0, execFallbacks: 0 });
      },
      { virshPath: fakes.pid },
    );
  });

  it('a virsh that does not answer in session mode is used through one-shot execs (and not retried at every scan)', async () => {
    await withDriver(
      host(),
      async (d) => {
        expect((await d.scanAll()).domains).toHaveLength(3);
        expect((await d.scanAll()).domains).toHaveLength(3);
        expect(d.stats).toEqual({ sessionStarts: 1, sessionStartFailures: 1, execFallbacks: 2 });
      },
      { virshPath: fakes.silent, sessionStartTimeoutMs: 1000 },
    );
  });
});

describe('scanner with ssh hosts', () => {
  it('a connection reset under a session waiting for an answer is a clear HOST_DOWN at once; after sshd is back a new session scans', async () => {
    await withDriver(
      host({ name: 'lab-reset' }),
      async (d) => {
        const scanning = d.scanAll().catch((e) => e);
        expect(await until(() => existsSync(join(sshd.dir, 'hang-once-reset.hung')))).toBe(true); // waiting in dumpxml
        const t0 = Date.now();
        await sshd.kill();
        const err = await scanning;
        expect(Date.now() - t0).toBeLessThan(5000); // not the 20 s timeout
        expect(err).toMatchObject({
          code: 'HOST_DOWN',
          message: expect.stringMatching(/^lab-reset: virsh session interrupted: .*(lost|reset|closed)/),
        });
        await sshd.restart();
        expect((await d.scanAll()).domains).toHaveLength(3);
        expect(d.stats).toEqual({ sessionStarts: 2, sessionStartFailures: 0, execFallbacks: 0 });
      },
      { virshPath: fakes.hangOnceReset, commandTimeoutMs: 20_000 },
    );
  });

  it('a scan the scanner times out kills the hung virsh session; the next scan works on a new one', async () => {
    const s = new Scanner({
      hosts: [host({ name: 'lab-hang' })],
      timeoutMs: 6000, // covers connecting and starting the session on a loaded machine; the fake hangs 30 s
      concurrency: 1,
      intervalMs: 60_000,
      createDriver: (h) => createDriver(h, undefined, { virshPath: fakes.hangOnceScanner }),
    });
    try {
      const [r] = await s.scan();
      expect(r).toMatchObject({ ok: false, error: 'lab-hang: scan timed out after 6.0s' });
      expect(existsSync(join(sshd.dir, 'hang-once-scanner.hung'))).toBe(true);
      expect(await groupGone(Number(readFileSync(join(sshd.dir, 'hang-once-scanner.pid'), 'utf8')))).toBe(true);
      const [again] = await s.scan();
      expect(again.ok).toBe(true);
      expect(again.inventory!.domains).toHaveLength(3);
    } finally {
      await s.stop();
    }
  });

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
