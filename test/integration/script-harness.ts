// Shared by the store-* and script-* integration tests: run the real `bin/billboard.js` as a child process
// with every XDG location in a temp dir, so nothing touches the operator's files.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'billboard.js');
/** Config every test lab starts from (written to the default XDG location). */
export const LAB_CONFIG = { beacon: { listen: '127.0.0.1:0' } };
export const PASSPHRASE = 'integration passphrase: correct horse battery staple';

/** The tests run the built CLI: say how to build it instead of failing obscurely. */
export function requireDist(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is not built: run `npx tsc -p .` first (`npm test` builds it before running the tiers)');
  }
}

export interface TempLab {
  dir: string;
  env: NodeJS.ProcessEnv;
  storePath: string;
  cleanup(): void;
}

/** `passphrase: null` → no BILLBOARD_PASSPHRASE at all. */
export function tempLab(passphrase: string | null = PASSPHRASE): TempLab {
  const dir = mkdtempSync(join(tmpdir(), 'bb-it-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BILLBOARD_') || k.startsWith('XDG_')) delete env[k];
  Object.assign(env, {
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_STATE_HOME: join(dir, 'state'),
    NO_COLOR: '1',
  });
  if (passphrase !== null) env.BILLBOARD_PASSPHRASE = passphrase;
  // The session runs the beacon listener: an ephemeral port, so parallel tests never collide on 7447.
  mkdirSync(join(dir, 'config', 'billboard'), { recursive: true });
  writeFileSync(join(dir, 'config', 'billboard', 'config.json'), JSON.stringify(LAB_CONFIG));
  return {
    dir,
    env,
    storePath: join(dir, 'data', 'billboard', 'store.db'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout lines parsed as JSON (throws on a non-JSON line: --json must print only JSON) */
  json(): Array<Record<string, any>>;
}

export function spawnBillboard(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run billboard to completion with `input` on stdin. */
export function runBillboard(args: string[], env: NodeJS.ProcessEnv, input = '', timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnBillboard(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`billboard ${args.join(' ')} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, json: () => jsonLines(stdout) });
    });
    child.stdin!.on('error', () => {}); // the child may exit before reading everything (refused at start)
    child.stdin!.end(input);
  });
}

export function jsonLines(stdout: string): Array<Record<string, any>> {
  return stdout
    .split('\n')
    .filter((l) => l.length)
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        throw new Error(`not a JSON line on stdout: ${l}`);
      }
    });
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Non-empty stderr lines. */
export function stderrLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim().length);
}

/** A distinct, valid UUID for the i-th test VM. */
export function uuidFor(i: number, prefix = 'aaaaaaaa'): string {
  const hex = i.toString(16).padStart(12, '0');
  return `${prefix}-0000-4000-8000-${hex}`;
}

export function macFor(i: number): string {
  const h = i.toString(16).padStart(6, '0');
  return `52:54:00:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}`;
}
