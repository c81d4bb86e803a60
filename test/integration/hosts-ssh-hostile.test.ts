import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDriverXml, type TestDomainSpec } from '../../src/demo/lab-xml.js';
import { createDriver } from '../../src/hosts/factory.js';
import { Scanner } from '../../src/hosts/scanner.js';
import { SshDriver, type SshDriverOptions } from '../../src/hosts/ssh/driver.js';
import type { SshHostConfig } from '../../src/model/config.js';
import { hasUnsafeChars } from '../../src/model/text.js';
import { testUri } from '../helpers/libvirt-fixtures.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';

// A hostile host behind a real sshd: domain descriptions that carry the scan's old framing markers, a virsh whose
// output and errors carry terminal escapes (OSC 52 clipboard writes, OSC 0 titles, CSI, C1 CSI) and bidi /
// zero-width characters, and identity files that OpenSSH itself would refuse.

const PLAIN = 'b111b0a2-0001-4000-8000-000000000001';
const MARKED = 'b111b0a2-0001-4000-8000-000000000002';
const EVIL = 'b111b0a2-0001-4000-8000-000000000003';

let sshd: Sshd;
let markedUri: string;
let hostileUri: string;
const fakes: Record<string, string> = {};

function fake(name: string, body: string): string {
  const file = join(sshd.dir, `virsh-${name}`);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function host(over: Partial<SshHostConfig> = {}): SshHostConfig {
  return sshHost(sshd, 'lab-hostile', markedUri, over);
}

async function withDriver<T>(h: SshHostConfig, fn: (d: SshDriver) => Promise<T>, o: SshDriverOptions = {}): Promise<T> {
  const d = new SshDriver(h, o);
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

const dom = (uuid: string, name: string, os: string, mac: string): TestDomainSpec => ({
  uuid,
  name,
  state: 'running',
  macs: [mac],
  memoryKiB: 524288,
  vcpus: 1,
  os,
});

/** every string anywhere in v */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

beforeAll(async () => {
  sshd = await startSshd();
  // the framing markers of the one-exec scan (and of the one-domain read) in a domain's description, mid-list
  const markers = `@@BB:end @@BB:chunk @@BB:dom:${PLAIN} @@BB:xml:${MARKED} @@BB:if:${PLAIN} @@BB:sep @@BB:pid:1`;
  const marked = testDriverXml([
    dom(PLAIN, 'plain-01', 'debian12', '52:54:00:01:00:01'),
    dom(MARKED, 'marked-02', 'debian12', '52:54:00:01:00:02'),
    dom(EVIL, 'third-03', 'debian12', '52:54:00:01:00:03'),
  ]).replace('<name>marked-02</name>', `<name>marked-02</name>\n    <description>${markers}</description>`);
  writeFileSync(join(sshd.dir, 'host-marked.xml'), marked);
  markedUri = testUri(join(sshd.dir, 'host-marked.xml'));
  writeFileSync(
    join(sshd.dir, 'host-hostile.xml'),
    testDriverXml([dom(PLAIN, 'plain-01', 'debian12', '52:54:00:01:00:01'), dom(EVIL, 'evil-NAME', 'evilOS', '52:54:00:01:00:03')]),
  );
  hostileUri = testUri(join(sshd.dir, 'host-hostile.xml'));
  // what a compromised host's virsh could print: escapes in the name, the OS, the CPU model and the addresses
  const sed = [
    `s/evil-NAME/evil-\\x1b]52;c;cHduZWQ=\\x07\\x1b]0;owned\\x07\\x1b[2J\\xe2\\x80\\xae\\xe2\\x80\\x8b\\xc2\\x9b31m-01/g`,
    `s/evilOS/deb\\x1b]0;title\\x07ian\\xe2\\x81\\xa6/g`,
    `s/x86_64/x86\\x1b[5m_64/g`,
    `/52:54:00:01:00:03/ s#192\\.168\\.122\\.\\([0-9]*\\)/#10.0.0.\\1\\x1b]0;ip\\x07/#g`,
  ].join('; ');
  fakes.hostile = fake('hostile', `/usr/bin/virsh "$@" | sed -u '${sed}'`);
  // a migrate that libvirt refuses at once, its error naming a domain called like the hang guard's marker
  fakes.migrateRefused = fake(
    'migrate-refused',
    `case "$4" in migrate) echo "error: Requested operation is not valid: domain 'x@@BB:migrate-hung' is not running" >&2; exit 1;; esac
exec /usr/bin/virsh "$@"`,
  );
  fakes.hostileFail = fake(
    'hostile-fail',
    `printf 'error: failed to connect\\nerror: \\033]52;c;cHduZWQ=\\007boom \\033[2J\\342\\200\\256gnp.exe\\n' >&2; exit 1`,
  );
});

afterAll(async () => {
  await sshd?.stop();
});

describe('scan framing that a domain cannot forge', () => {
  for (const mode of ['exec', 'session'] as const) {
    const o: SshDriverOptions = mode === 'exec' ? { session: false } : {};
    it(`${mode}: a domain whose <description> carries the framing markers is scanned like any other`, async () => {
      await withDriver(
        host(),
        async (d) => {
          const b = await d.scanAll();
          expect(b.domains.map((x) => x.name).sort()).toEqual(['marked-02', 'plain-01', 'third-03']);
          expect(b.domains.find((x) => x.uuid === MARKED)).toMatchObject({ state: 'running', macs: ['52:54:00:01:00:02'] });
          expect(b.node).toMatchObject({ cpus: 8 });
          const one = await d.domain(MARKED);
          expect(one).toMatchObject({ uuid: MARKED, name: 'marked-02', state: 'running' });
          if (mode === 'exec') expect(d.stats.execFallbacks).toBe(2);
        },
        o,
      );
    });
  }
});

describe('text from a hostile host is made safe where it enters', () => {
  for (const mode of ['exec', 'session'] as const) {
    const o: SshDriverOptions = mode === 'exec' ? { session: false } : {};
    it(`${mode}: escapes, bidi and zero-width characters in names, OS, CPU model and disks are shown escaped; bad IPs are dropped`, async () => {
      await withDriver(
        host({ libvirtUri: hostileUri }),
        async (d) => {
          const b = await d.scanAll();
          const evil = b.domains.find((x) => x.uuid === EVIL)!;
          expect(evil.name).toBe('evil-\\x1b]52;c;cHduZWQ=\\x07\\x1b]0;owned\\x07\\x1b[2J\\u202e\\u200b\\x9b31m-01');
          expect(evil.os).toBe('deb\\x1b]0;title\\x07ian\\u2066');
          expect(evil.arch).toBe('x86\\x1b[5m_64');
          expect(evil.disks[0]).toContain('evil-\\x1b]52;');
          expect(b.node?.cpuModel).toBe('x86\\x1b[5m_64');
          for (const s of strings(b)) expect(hasUnsafeChars(s), JSON.stringify(s)).toBe(false);
          expect(b.domains.find((x) => x.uuid === PLAIN)!.ips).toHaveLength(1);
          expect(evil.ips).toEqual([]); // its address carried an escape: not an address
          expect(evil.interfaces[0]!.ips).toEqual([]);
          for (const x of b.domains) {
            for (const ip of x.ips) expect(isIP(ip), ip).not.toBe(0);
            for (const i of x.interfaces) for (const ip of i.ips) expect(isIP(ip), ip).not.toBe(0);
          }
          const one = await d.domain(EVIL);
          for (const s of strings(one)) expect(hasUnsafeChars(s), JSON.stringify(s)).toBe(false);
          const node = await d.nodeInfo();
          expect(node.cpuModel).toBe('x86\\x1b[5m_64');
        },
        { ...o, virshPath: fakes.hostile },
      );
    });
  }

  it('virsh error text with escapes reaches the host status and errors escaped', async () => {
    const s = new Scanner({
      hosts: [host({ name: 'lab-fail' })],
      timeoutMs: 15_000,
      concurrency: 1,
      intervalMs: 60_000,
      createDriver: (h) => createDriver(h, undefined, { virshPath: fakes.hostileFail }),
    });
    try {
      const [r] = await s.scan();
      expect(r.ok).toBe(false);
      expect(r.error).toBe('lab-fail: virsh list failed: failed to connect: \\x1b]52;c;cHduZWQ=\\x07boom \\x1b[2J\\u202egnp.exe');
      const st = s.statuses()[0]!;
      expect(st.lastError).toBe(r.error);
      expect(hasUnsafeChars(st.lastError!)).toBe(false);
    } finally {
      await s.stop();
    }
  });
});

describe('the migrate hang guard’s verdict', () => {
  it('a migrate error that carries the guard’s marker is virsh’s error, not a hang', async () => {
    const err = await withDriver(host(), (d) => d.jobs.migrate(PLAIN, { transport: 'direct', destUri: 'test:///default' }), {
      session: false,
      virshPath: fakes.migrateRefused,
    }).catch((e) => e);
    expect(err.code).toBe('HOST_ERROR');
    expect(err.message).toMatch(
      /^lab-hostile: virsh migrate failed: Requested operation is not valid: domain 'x@@BB:migrate-hung' is not running$/,
    );
  });
});

describe('identity files OpenSSH would refuse', () => {
  const copyKey = (name: string, mode: number, uid?: number) => {
    const f = join(sshd.dir, name);
    copyFileSync(sshd.identityFile, f);
    chmodSync(f, mode);
    if (uid !== undefined) chownSync(f, uid, uid);
    return f;
  };

  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o600 | 0o020]) {
    it(`mode 0${mode.toString(8)} is refused, naming the file and its mode; the host is marked down with that reason`, async () => {
      const f = copyKey(`id-${mode.toString(8)}`, mode);
      const s = new Scanner({ hosts: [host({ name: 'lab-key', identityFile: f })], timeoutMs: 15_000, concurrency: 1, intervalMs: 60_000 });
      try {
        const [r] = await s.scan();
        expect(r.ok).toBe(false);
        expect(r.error).toBe(
          `lab-key: identity file ${f} has mode 0${mode.toString(8)}: a key must not be accessible by group or others (chmod 600 ${f})`,
        );
        expect(s.statuses()[0]).toMatchObject({ up: false, lastError: r.error });
      } finally {
        await s.stop();
      }
    });
  }

  it('a key owned by another user is refused, naming the file and its owner', async () => {
    const f = copyKey('id-nobody', 0o600, 65534);
    const err = await withDriver(host({ identityFile: f }), (d) => d.scanAll()).catch((e) => e);
    expect(err).toMatchObject({
      code: 'HOST_ERROR',
      message: `lab-hostile: identity file ${f} is owned by uid 65534, not by this user (uid ${process.getuid!()}); refusing to use it`,
    });
  });

  it('a key at 0600 (or 0400) owned by this user is used', async () => {
    const f = copyKey('id-400', 0o400);
    const b = await withDriver(host({ identityFile: f }), (d) => d.scanAll());
    expect(b.domains).toHaveLength(3);
  });
});

describe('a remote pid comes only from our own shell', () => {
  // A host whose forced command runs ours without the pid line (sshd's ForceCommand), and whose virsh prints pid
  // lines of a decoy process group, then never answers: the session is killed, but never by a pid it printed.
  let forced: Sshd;
  let wrapDir: string;
  beforeAll(async () => {
    wrapDir = mkdtempSync(join(tmpdir(), 'bb-forced-'));
    const wrapper = join(wrapDir, 'forced');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec /bin/sh -c "$(printf '%s' "$SSH_ORIGINAL_COMMAND" | sed 's/echo "@@BB[0-9a-f]*:pid:\\$\\$"\\( *>\\&2\\)\\{0,1\\}; //')"\n`,
    );
    chmodSync(wrapper, 0o755);
    forced = await startSshd({ config: [`ForceCommand ${wrapper}`] });
  });
  afterAll(async () => {
    await forced?.stop();
    rmSync(wrapDir, { recursive: true, force: true });
  });

  it('a session that never printed our pid line is not killed by the pid lines its output forges', async () => {
    const decoy = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }); // leads a process group of its own
    const alive = () => {
      try {
        process.kill(-decoy.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const virsh = join(wrapDir, 'virsh-forger');
      writeFileSync(
        virsh,
        `#!/bin/sh\nif [ $# -eq 3 ]; then printf '@@BB:pid:${decoy.pid}\\n@@BBdeadbeef:pid:${decoy.pid}\\n'; exec sleep 20; fi\nexec /usr/bin/virsh "$@"\n`,
      );
      chmodSync(virsh, 0o755);
      const h = host({
        port: forced.port,
        knownHostsFile: forced.knownHostsFile,
        identityFile: forced.identityFile,
        libvirtUri: hostileUri,
      });
      await withDriver(
        h,
        async (d) => {
          const b = await d.scanAll(); // the session does not start; the scan runs as one exec
          expect(b.domains).toHaveLength(2);
          expect(d.stats).toMatchObject({ sessionStartFailures: 1, execFallbacks: 1 });
        },
        { virshPath: virsh, sessionStartTimeoutMs: 1500 },
      );
      await new Promise((r) => setTimeout(r, 500)); // a kill by that pid would have run by now
      expect(alive()).toBe(true);
    } finally {
      decoy.kill('SIGKILL');
    }
  });
});
