// `billboard script` end to end: the acceptance pipeline, exit codes, --stop-on-error, --read-only,
// `init`, and commands whose subsystem may not be running. Real child processes of bin/billboard.js.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_CONFIG, requireDist, runBillboard, sha256File, stderrLines, tempLab, type TempLab } from './script-harness.js';

const UUID = '11111111-2222-3333-4444-555555555555';
const ACCEPTANCE = `register web-01 --uuid ${UUID} --mac 52:54:00:aa:bb:01\npending\napprove web-01 --note ok\naudit verify\n`;
const labs: TempLab[] = [];
function lab(pass?: string): TempLab {
  const l = pass === undefined ? tempLab() : tempLab(pass);
  labs.push(l);
  return l;
}

beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

const noStack = (stderr: string) => expect(stderr).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);

describe('billboard script: the acceptance pipeline', () => {
  it('prints 4 lines, all ok, and the store holds neither the name nor the UUID in clear', async () => {
    const l = lab();
    const r = await runBillboard(['script', '--json'], l.env, ACCEPTANCE);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.json();
    expect(lines).toHaveLength(4);
    expect(lines.map((x) => x.ok)).toEqual([true, true, true, true]);
    expect(lines.map((x) => x.command)).toEqual(['register', 'pending', 'approve', 'audit verify']);
    expect(lines[0]!.data).toMatchObject({ uuid: UUID, name: 'web-01', state: 'pending', macs: ['52:54:00:aa:bb:01'] });
    expect(lines[1]!.data).toEqual([expect.objectContaining({ uuid: UUID, state: 'pending' })]);
    expect(lines[2]!.data).toMatchObject({ uuid: UUID, state: 'approved', reason: 'ok' });
    expect(lines[3]!.data).toMatchObject({ ok: true, entries: 2 });
    const bytes = readFileSync(l.storePath);
    for (const clear of ['web-01', UUID, UUID.toUpperCase(), '11111111', '52:54:00:aa:bb:01', 'approve']) {
      expect(bytes.includes(clear), clear).toBe(false);
    }
  });

  it('each --json result line has exactly command, ok and data|error', async () => {
    const l = lab();
    const r = await runBillboard(['script', '--json'], l.env, `${ACCEPTANCE}approve nobody\n`);
    for (const line of r.json()) {
      expect(Object.keys(line).sort()).toEqual(line.ok ? ['command', 'data', 'ok'] : ['command', 'error', 'ok']);
    }
    expect(r.json()[4]).toEqual({
      command: 'approve',
      ok: false,
      error: { code: 'NOT_FOUND', message: expect.stringContaining('nobody') },
    });
  });

  it('skips blank lines and # comments, honours quotes and records --actor in the audit log', async () => {
    const l = lab();
    const input = `# set up\n\n   \nregister "db 01" --uuid ${UUID}\n  # indented comment\napprove "db 01" --note "two words, one note"\naudit\n`;
    const r = await runBillboard(['script', '--json', '--actor', 'carol'], l.env, input);
    expect(r.code).toBe(0);
    const lines = r.json();
    expect(lines.map((x) => x.command)).toEqual(['register', 'approve', 'audit']);
    expect(lines[1]!.data).toMatchObject({ name: 'db 01', reason: 'two words, one note', decidedBy: 'carol' });
    expect(lines[2]!.data.map((e: any) => [e.seq, e.actor, e.action])).toEqual([
      [1, 'carol', 'register'],
      [2, 'carol', 'approve'],
    ]);
  });

  it('without --json prints human-readable text, and failures as "line N: …" on stderr', async () => {
    const l = lab();
    const r = await runBillboard(['script'], l.env, `${ACCEPTANCE}\napprove ghost\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/registered web-01 \(11111111-2222-3333-4444-555555555555\): pending approval/);
    expect(r.stdout).toMatch(/NAME\s+UUID/);
    expect(r.stdout).toMatch(/approved web-01/);
    expect(r.stdout).toMatch(/audit chain intact: 2 entries/);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/^line 6: approve: .*ghost/)]);
  });

  it('help works with and without a topic', async () => {
    const l = lab();
    const r = await runBillboard(['script', '--json'], l.env, 'help\nhelp migrate\nhelp audit verify\n');
    const lines = r.json();
    expect(lines.every((x) => x.ok)).toBe(true);
    expect(lines[0]!.data.help).toMatch(/register/);
    expect(lines[1]!.data.help).toMatch(/^usage: migrate VM --to HOST/);
    expect(lines[2]!.data.help).toMatch(/^usage: audit verify/);
  });
});

describe('billboard script: exit codes', () => {
  it('0 when every command succeeds', async () => {
    const l = lab();
    expect((await runBillboard(['script', '--json'], l.env, 'pending\naudit verify\n')).code).toBe(0);
  });

  it('1 when a command fails (and the rest still run)', async () => {
    const l = lab();
    const r = await runBillboard(['script', '--json'], l.env, 'approve nobody\npending\nbogus-command x\naudit verify\n');
    expect(r.code).toBe(1);
    expect(r.json().map((x) => [x.command, x.ok, x.error?.code])).toEqual([
      ['approve', false, 'NOT_FOUND'],
      ['pending', true, undefined],
      ['bogus-command', false, 'USAGE'],
      ['audit verify', true, undefined],
    ]);
  });

  it('2 for a usage error on the command line', async () => {
    const l = lab();
    const r = await runBillboard(['script', '--no-such-option'], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('2 with one line naming the file for a missing or invalid --config', async () => {
    const l = lab();
    const missing = join(l.dir, 'nope.json');
    const r = await runBillboard(['script', '--json', '--config', missing], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([`billboard: config file ${missing} does not exist`]);
    const bad = join(l.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ scan: { intervalS: 'often' } }));
    const b = await runBillboard(['script', '--json', '--config', bad], l.env, 'pending\n');
    expect(b.code).toBe(2);
    expect(stderrLines(b.stderr)).toEqual([expect.stringMatching(new RegExp(`^billboard: ${bad}: scan\\.intervalS: `))]);
    expect(b.stdout).toBe('');
  });

  it('2 with one line when no store key is set (script never prompts)', async () => {
    const l = tempLab(null);
    labs.push(l);
    const r = await runBillboard(['script', '--json'], l.env, 'pending\n');
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/BILLBOARD_PASSPHRASE/)]);
  });

  it('the default config location is used when present (store.path from it)', async () => {
    const l = lab();
    mkdirSync(join(l.dir, 'config', 'billboard'), { recursive: true });
    writeFileSync(join(l.dir, 'config', 'billboard', 'config.json'), JSON.stringify({ ...LAB_CONFIG, store: { path: 'here/store.db' } }));
    const r = await runBillboard(['script', '--json'], l.env, ACCEPTANCE);
    expect(r.code).toBe(0);
    expect(sha256File(join(l.dir, 'config', 'billboard', 'here', 'store.db'))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('billboard script: --stop-on-error and --read-only', () => {
  it('--stop-on-error stops at the first failure; later lines never run', async () => {
    const l = lab();
    const input = `register alpha --uuid ${UUID}\napprove nobody\nregister bravo --uuid 22222222-2222-3333-4444-555555555555\n`;
    const r = await runBillboard(['script', '--json', '--stop-on-error'], l.env, input);
    expect(r.code).toBe(1);
    expect(r.json().map((x) => [x.command, x.ok])).toEqual([
      ['register', true],
      ['approve', false],
    ]);
    const after = await runBillboard(['script', '--json'], l.env, 'pending\n');
    expect(after.json()[0]!.data.map((x: any) => x.name)).toEqual(['alpha']);
  });

  it('--read-only refuses every mutating command with READ_ONLY and leaves the store untouched', async () => {
    const l = lab();
    expect((await runBillboard(['script', '--json'], l.env, `register web-01 --uuid ${UUID}\n`)).code).toBe(0);
    const before = sha256File(l.storePath);
    const input = [
      'approve web-01',
      'reject web-01',
      'revoke web-01',
      `register x --uuid 22222222-2222-3333-4444-555555555555`,
      'ack F-1',
      'stop web-01 --host lab-a',
      'isolate web-01 --host lab-a',
      'suspend web-01 --host lab-a',
      'migrate web-01 --to lab-b',
      'authorize J-1',
      'deny J-1',
      'abort J-1',
      'pending',
      'audit verify',
    ].join('\n');
    const r = await runBillboard(['script', '--json', '--read-only'], l.env, input);
    expect(r.code).toBe(1);
    const lines = r.json();
    expect(lines).toHaveLength(14);
    for (const x of lines.slice(0, 12)) expect([x.command, x.ok, x.error?.code]).toEqual([x.command, false, 'READ_ONLY']);
    expect(lines.slice(12).map((x) => x.ok)).toEqual([true, true]);
    expect(sha256File(l.storePath)).toBe(before);
  });
});

describe('billboard script: commands whose subsystem may not be running', () => {
  it('answer one JSON line each, ok or a coded one-line error — never a crash', async () => {
    const l = lab();
    const cmds = [
      'hosts',
      'vms',
      'vms web',
      'show web-01',
      'scan',
      'findings',
      'findings --all',
      'ack F-1',
      'jobs',
      'watch J-1',
      'migrate web-01 --to lab-b',
      'authorize J-1',
      'deny J-1',
      'abort J-1',
      'stop web-01 --host lab-a',
      'suspend web-01 --host lab-a',
      'isolate web-01 --host lab-a',
      'audit verify',
    ];
    const r = await runBillboard(['script', '--json'], l.env, cmds.join('\n') + '\n', 90_000);
    expect([0, 1]).toContain(r.code);
    noStack(r.stderr);
    const results = r.json().filter((x) => !('event' in x));
    expect(results).toHaveLength(cmds.length);
    results.forEach((x, i) => {
      expect(x.command, cmds[i]).toBe(cmds[i]!.split(' ')[0] === 'audit' ? 'audit verify' : cmds[i]!.split(' ')[0]);
      expect(typeof x.ok).toBe('boolean');
      if (!x.ok) {
        expect(x.error.code, cmds[i]).toMatch(/^[A-Z_]+$/);
        expect(x.error.code, cmds[i]).not.toBe('INTERNAL');
        expect(x.error.message, cmds[i]).not.toMatch(/\n/);
      }
    });
    expect(results[results.length - 1]!.ok).toBe(true);
  });
});

describe('billboard init', () => {
  it('creates the store, then refuses to overwrite it (exit 2, bytes unchanged)', async () => {
    const l = lab();
    const first = await runBillboard(['init'], l.env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(l.storePath);
    const before = sha256File(l.storePath);
    const again = await runBillboard(['init'], l.env);
    expect(again.code).toBe(2);
    expect(stderrLines(again.stderr)).toEqual([expect.stringMatching(/already exists .*refusing to overwrite/)]);
    expect(sha256File(l.storePath)).toBe(before);
    const r = await runBillboard(['script', '--json'], l.env, 'audit\naudit verify\n');
    expect(r.json()[0]!.data.map((e: any) => e.action)).toEqual(['init']);
    expect(r.json()[1]!.ok).toBe(true);
  });

  it('a weak passphrase: exit 2 with one line saying why, nothing created', async () => {
    const l = lab();
    const r = await runBillboard(['init'], { ...l.env, BILLBOARD_PASSPHRASE: 'hunter2' });
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toEqual([expect.stringMatching(/too weak for a new store: it has 7 characters/)]);
    expect(existsSync(l.storePath)).toBe(false);
  });

  it('without a key: exit 2, nothing created', async () => {
    const l = tempLab(null);
    labs.push(l);
    const r = await runBillboard(['init'], l.env);
    expect(r.code).toBe(2);
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(() => sha256File(l.storePath)).toThrow();
  });
});
