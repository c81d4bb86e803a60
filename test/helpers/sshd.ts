import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SshHostConfig } from '../../src/model/config.js';

// A real OpenSSH sshd on loopback for tests and benches: generated host and client keys, a throwaway
// config, a known_hosts file for it. Also an ssh-agent holding the client key. Everything lives in one
// temp dir that stop() removes. Needs root (sshd privilege separation) and openssh-server installed.

export interface Sshd {
  port: number;
  host: string;
  user: string;
  dir: string;
  knownHostsFile: string;
  identityFile: string;
  /** the host key, "ssh-ed25519 AAAA…" */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  /** write a known_hosts file for this server (plain "[host]:port", or hashed |1|…) and return its path */
  writeKnownHosts(name: string, opts?: { hashed?: boolean; publicKey?: string }): string;
  /** a fresh key pair not authorized on the server (for unknown/changed host key tests) */
  otherKey(name: string): { privateFile: string; publicKey: string };
  /** SIGKILL the listener and every session process (a crash); restart() brings it back on the same port */
  kill(): Promise<void>;
  restart(): Promise<void>;
  startAgent(): Promise<Agent>;
  stop(): Promise<void>;
}

/** A config's SSH host entry that reaches `sshd` as its test client, scanning `libvirtUri` there. */
export function sshHost(sshd: Sshd, name: string, libvirtUri: string, over: Partial<SshHostConfig> = {}): SshHostConfig {
  return {
    name,
    driver: 'ssh',
    address: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    libvirtUri,
    ...over,
  };
}

export interface Agent {
  sock: string;
  pid: number;
  stop(): void;
}

export interface SshdOptions {
  /** extra sshd_config lines */
  config?: string[];
  /** per-session environment is not passed by sshd; put a PATH prefix here to shadow binaries (e.g. a fake virsh) */
  pathPrefix?: string;
}

const SSHD = '/usr/sbin/sshd';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, timeoutMs: number, proc: ChildProcess, stderr: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null) return reject(new Error(`sshd exited with ${proc.exitCode}: ${stderr().trim()}`));
      const c = connect(port, '127.0.0.1');
      c.once('data', () => {
        c.destroy();
        resolve();
      });
      c.once('error', () => {
        c.destroy();
        if (Date.now() > until) reject(new Error(`sshd did not listen on ${port}: ${stderr().trim()}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function killTree(pid: number): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`sshd not found at ${SSHD}: install openssh-server`);
  if (process.getuid?.() !== 0) throw new Error('starting a test sshd needs root (privilege separation)');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'bb-sshd-'));
  const keygen = (file: string, comment: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { stdio: 'ignore' });
  keygen(join(dir, 'host_ed25519'), 'bb-test-host');
  keygen(join(dir, 'client_ed25519'), 'bb-test-client');
  const hostPublicKey = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const clientPub = readFileSync(join(dir, 'client_ed25519.pub'), 'utf8').trim();
  writeFileSync(join(dir, 'authorized_keys'), clientPub + '\n', { mode: 0o600 });
  const user = userInfo().username;
  let port = await freePort();
  const pathLine = `SetEnv PATH=${opts.pathPrefix ? opts.pathPrefix + ':' : ''}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  const writeConfig = () =>
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_ed25519')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'StrictModes no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'MaxSessions 64',
        'MaxStartups 200:30:400',
        'LogLevel ERROR',
        pathLine,
        ...(opts.config ?? []),
      ].join('\n') + '\n',
    );
  let proc: ChildProcess | undefined;
  let errText = '';
  const launch = async () => {
    writeConfig();
    errText = '';
    const p = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.stderr?.on('data', (d: Buffer) => {
      if (errText.length < 8192) errText += d.toString();
    });
    proc = p;
    await waitForPort(port, 10_000, p, () => errText);
  };
  try {
    await launch();
  } catch (e) {
    // the port may have been taken between freePort() and bind: one more try on another port
    if (proc) killTree(proc.pid!);
    port = await freePort();
    await launch().catch((e2) => {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`cannot start test sshd: ${(e2 as Error).message} (first attempt: ${(e as Error).message})`);
    });
  }
  const agents: Agent[] = [];
  const hostBlob = Buffer.from(hostPublicKey.split(' ')[1], 'base64');
  const sshd: Sshd = {
    get port() {
      return port;
    },
    host: '127.0.0.1',
    user,
    dir,
    identityFile: join(dir, 'client_ed25519'),
    hostPublicKey,
    hostKeyFingerprint: 'SHA256:' + createHash('sha256').update(hostBlob).digest('base64').replace(/=+$/, ''),
    knownHostsFile: '',
    writeKnownHosts(name, o = {}) {
      const entry = `[127.0.0.1]:${port}`;
      let hostField = entry;
      if (o.hashed) {
        const salt = randomBytes(20);
        hostField = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(entry).digest('base64')}`;
      }
      const file = join(dir, name);
      writeFileSync(file, `# test known_hosts\n${hostField} ${o.publicKey ?? hostPublicKey}\n`);
      return file;
    },
    otherKey(name) {
      const f = join(dir, name);
      if (!existsSync(f)) keygen(f, 'bb-other');
      return {
        privateFile: f,
        publicKey: readFileSync(f + '.pub', 'utf8')
          .trim()
          .split(/\s+/)
          .slice(0, 2)
          .join(' '),
      };
    },
    async kill() {
      if (proc?.pid) killTree(proc.pid);
      const p = proc;
      if (p && p.exitCode === null && p.signalCode === null) await new Promise((r) => p.once('exit', r));
    },
    async restart() {
      await sshd.kill();
      await launch();
    },
    async startAgent() {
      const sock = join(dir, `agent-${agents.length}.sock`);
      const out = execFileSync('ssh-agent', ['-s', '-a', sock], { encoding: 'utf8' });
      const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
      if (!pid) throw new Error(`ssh-agent did not start: ${out}`);
      const agent: Agent = {
        sock,
        pid,
        stop() {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            /* gone */
          }
        },
      };
      agents.push(agent);
      execFileSync('ssh-add', [join(dir, 'client_ed25519')], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      return agent;
    },
    async stop() {
      for (const a of agents) a.stop();
      await sshd.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  sshd.knownHostsFile = sshd.writeKnownHosts('known_hosts');
  return sshd;
}
