import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// Drives the real binary in a real terminal: a private tmux server (its own socket, so nothing else on the
// machine is touched), keys sent with send-keys, the screen read with capture-pane.

export const ROOT = resolve(import.meta.dirname, '..', '..');

export function requireTmux(): void {
  const r = spawnSync('tmux', ['-V'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('e2e tier cannot run: tmux is not installed (apt-get install tmux; ./setup installs it)');
}

export class TmuxSession {
  readonly socket = `bb-e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly tmp = mkdtempSync(join(tmpdir(), 'bb-e2e-'));

  constructor(
    command: string,
    readonly cols = 120,
    readonly rows = 40,
    env: Record<string, string> = {},
  ) {
    const envArgs = Object.entries({ TMPDIR: this.tmp, ...env }).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    // CI must be unset: Ink prints only the last frame when it is set. The shell stays after the program ends so
    // its exit code can be read from the screen.
    this.tmux([
      'new-session',
      '-d',
      '-s',
      'e2e',
      '-x',
      String(cols),
      '-y',
      String(rows),
      ...envArgs,
      `cd ${ROOT} && env -u CI ${command}; echo __EXIT__$?; sleep 600`,
    ]);
  }

  tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-t', 'e2e']);
  }

  /** send keys one tmux argument at a time (a word is typed as text; "Enter", "Escape", "C-c" are keys) */
  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      this.tmux(['send-keys', '-t', 'e2e', k]);
      await sleep(150);
    }
  }

  async waitFor(pred: (screen: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
    const t0 = Date.now();
    let s = '';
    while (Date.now() - t0 < timeoutMs) {
      s = this.screen();
      if (pred(s)) return s;
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen was:\n${s}`);
  }

  waitText(text: string | RegExp, timeoutMs?: number): Promise<string> {
    return this.waitFor((s) => (typeof text === 'string' ? s.includes(text) : text.test(s)), String(text), timeoutMs);
  }

  kill(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      /* already gone */
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
