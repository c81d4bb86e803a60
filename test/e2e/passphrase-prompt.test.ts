import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireTmux, TmuxSession } from './tmux.js';

// On a terminal the passphrase is asked for, never echoed, so it does not end up in the environment or the shell
// history: `init` asks twice, the console once. The real binary in tmux.

const PASS = 'correct horse battery staple';
let t: TmuxSession | undefined;
let dir: string;

beforeAll(() => {
  requireTmux();
  if (!existsSync('dist/cli/main.js')) throw new Error('e2e tier needs a build: run `npm run build` (npm test does)');
});
afterEach(() => {
  t?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function session(args: string): TmuxSession {
  const env = {
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_STATE_HOME: join(dir, 'state'),
  };
  return new TmuxSession(`env -u BILLBOARD_PASSPHRASE node bin/billboard.js ${args}`, 100, 30, env);
}

describe('the passphrase on a terminal', () => {
  it('init asks twice without echo; the console then asks once and opens the store', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'bb-pass-'));
    mkdirSync(join(dir, 'config', 'billboard'), { recursive: true });
    writeFileSync(join(dir, 'config', 'billboard', 'config.json'), JSON.stringify({ beacon: { listen: '127.0.0.1:0' } }));
    t = session('init');
    await t.waitText('store passphrase:', 30_000);
    await t.keys(PASS, 'Enter');
    await t.waitText('again, to confirm:');
    await t.keys(PASS, 'Enter');
    const done = await t.waitText('__EXIT__0', 30_000);
    expect(done).toContain('created encrypted store');
    expect(done).not.toContain('horse');
    t.kill();

    t = session('');
    await t.waitText('store passphrase:', 30_000);
    await t.keys(PASS, 'Enter');
    const screen = await t.waitText(/billboard\s+embedded\s+hosts|billboard\s+hosts/, 30_000);
    expect(screen).not.toContain('horse');
    await t.keys('q');
    await t.waitText('__EXIT__0', 20_000);
  });

  it('init with two different passphrases creates nothing and says why (exit 2)', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'bb-pass-'));
    t = session('init');
    await t.waitText('store passphrase:', 30_000);
    await t.keys(PASS, 'Enter');
    await t.waitText('again, to confirm:');
    await t.keys('something else entirely', 'Enter');
    const s = await t.waitText(/__EXIT__2/, 30_000);
    expect(s).toContain('the two passphrases differ');
    expect(existsSync(join(dir, 'data', 'billboard', 'store.db'))).toBe(false);
  });
});
