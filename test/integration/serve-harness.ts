// Shared by the serve-* tests: a real `billboard serve` in a temp lab (every XDG location private), operators with
// real OpenSSH keys, and clients: OpenSSH's `ssh` binary and `billboard script --connect`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { BIN, ROOT, runBillboard, tempLab, type RunResult, type TempLab } from './script-harness.js';

export { BIN, ROOT };

export interface Keys {
  [name: string]: { file: string; pub: string };
}

/** a free TCP port on 127.0.0.1 (the service binds it right after; tests never share one) */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export function makeKey(dir: string, name: string): { file: string; pub: string } {
  const file = join(dir, `id_${name}`);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { file, pub: readFileSync(`${file}.pub`, 'utf8').trim() };
}

export interface ServeLab extends TempLab {
  port: number;
  keys: Keys;
  configPath: string;
  knownHosts: string;
  config: Record<string, any>;
  writeConfig(c: Record<string, any>): void;
  serve: ChildProcess | undefined;
  log: string[];
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  ssh(user: string, command: string, input?: string, as?: string): Promise<RunResult>;
  connectScript(user: string, args: string[], input?: string): Promise<RunResult>;
}

/** A lab with the service's config written, `init` run (store + host key) and known_hosts holding its key. */
export async function serveLab(
  roles: Record<string, 'viewer' | 'operator' | 'admin' | 'host'>,
  extra: Record<string, any> = {},
): Promise<ServeLab> {
  const lab = tempLab();
  const port = await freePort();
  const keys: Keys = {};
  for (const name of [...Object.keys(roles), 'stranger']) keys[name] = makeKey(lab.dir, name);
  const configPath = join(lab.dir, 'config', 'billboard', 'config.json');
  const config: Record<string, any> = {
    beacon: { listen: '127.0.0.1:0' },
    serve: { listen: `127.0.0.1:${port}` },
    operators: Object.entries(roles).map(([name, role]) => ({ name, role, keys: [keys[name]!.pub] })),
    ...extra,
  };
  const writeConfig = (c: Record<string, any>) => writeFileSync(configPath, JSON.stringify(c, null, 2));
  writeConfig(config);
  const init = await runBillboard(['init'], lab.env);
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  const hostKey = join(lab.dir, 'data', 'billboard', 'ssh_host_ed25519_key');
  const pub = spawnSync('ssh-keygen', ['-y', '-f', hostKey], { encoding: 'utf8' }).stdout.trim();
  const knownHosts = join(lab.dir, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${pub}\n`);
  const log: string[] = [];
  const sl: ServeLab = {
    ...lab,
    port,
    keys,
    configPath,
    knownHosts,
    config,
    writeConfig,
    serve: undefined,
    log,
    async start() {
      const child = spawn(process.execPath, [BIN, 'serve'], { env: lab.env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      sl.serve = child;
      let buf = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n');
        buf = lines.pop()!;
        log.push(...lines);
      });
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      const t0 = Date.now();
      while (!err.includes('operators on ssh')) {
        if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
        if (Date.now() - t0 > 20_000) throw new Error(`serve did not start: ${err}`);
        await sleep(50);
      }
      (sl as any).stderr = () => err;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const child = sl.serve;
      if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
      const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill(signal);
      return done;
    },
    ssh(user, command, input = '', as = user) {
      return runProcess(
        'ssh',
        [
          '-o',
          'BatchMode=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'LogLevel=ERROR',
          '-i',
          keys[as]!.file,
          '-p',
          String(port),
          `${user}@127.0.0.1`,
          command,
        ],
        lab.env,
        input,
      );
    },
    connectScript(user, args, input = '') {
      return runBillboard(
        ['script', '--connect', `${user}@127.0.0.1:${port}`, '--identity', keys[user]!.file, '--known-hosts', knownHosts, ...args],
        lab.env,
        input,
      );
    },
  };
  return sl;
}

export function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, input = '', timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        json: () =>
          stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l)),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(f: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
