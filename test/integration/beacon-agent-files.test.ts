// The real agent process against what a hostile guest user can plant: temp-file symlinks, world-writable or
// foreign-owned state and key files, control characters in the OS name, names that break the name rule.
// Needs dist/ (npx tsc -p .): the agent runs as `node bin/billboard-beacon.js`.
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wire from '../../src/beacon/wire.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/billboard-beacon.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-files-'));
const UUID = '11111111-1111-4111-8111-111111111111';
const KEY = path.join(tmp, 'agent.key');

function agent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('billboard-beacon: files and strings (real processes)', () => {
  let sink: dgram.Socket;
  let port = 0;
  const received: Buffer[] = [];
  const run = (extra: string[], key = KEY) =>
    agent([
      '--to',
      `127.0.0.1:${port}`,
      '--key',
      key,
      '--uuid',
      UUID,
      '--name',
      'vm0',
      '--one-way',
      '--interval',
      '0.02',
      '--count',
      '2',
      ...extra,
    ]);

  beforeAll(async () => {
    execFileSync(process.execPath, [BIN, 'keygen', '--out', KEY], { stdio: 'ignore' });
    sink = dgram.createSocket('udp4');
    sink.on('message', (m) => received.push(Buffer.from(m)));
    await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
    port = sink.address().port;
  });

  afterAll(() => {
    sink?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('writes through no symlink planted at the old temp name', async () => {
    const state = path.join(tmp, 'a.seq');
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    fs.symlinkSync(victim, `${state}.tmp`);
    const r = await run(['--state', state]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(state).isFile()).toBe(true);
    expect(fs.statSync(state).mode & 0o777).toBe(0o600);
  });

  it('does not inherit the mode of a 0666 file planted at the old temp name', async () => {
    const state = path.join(tmp, 'b.seq');
    fs.writeFileSync(`${state}.tmp`, '');
    fs.chmodSync(`${state}.tmp`, 0o666);
    const r = await run(['--state', state]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(state).mode & 0o777).toBe(0o600);
  });

  it('refuses a state file others can write, naming file and mode; and one owned by another user', async () => {
    const state = path.join(tmp, 'c.seq');
    fs.writeFileSync(state, JSON.stringify({ v: 1, reserved: 1000 }));
    fs.chmodSync(state, 0o666);
    const r = await run(['--state', state]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`billboard-beacon: state file ${state} is writable by others (mode 0666): refusing it (chmod 600 it)`);
    expect(JSON.parse(fs.readFileSync(state, 'utf8')).reserved).toBe(1000);
    if (process.getuid?.() === 0) {
      fs.chmodSync(state, 0o600);
      fs.chownSync(state, 65534, 65534);
      const r2 = await run(['--state', state]);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(/state file .* is owned by uid 65534, not by this user \(uid 0\): refusing it/);
    }
  });

  it('refuses a key file others can write', async () => {
    const key = path.join(tmp, 'open.key');
    fs.copyFileSync(KEY, key);
    fs.chmodSync(key, 0o666);
    const r = await run(['--state', path.join(tmp, 'd.seq')], key);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/key file .*open\.key is writable by others \(mode 0666\)/);
  });

  it('survives control characters in the OS name (tabs become spaces)', async () => {
    received.length = 0;
    const r = await run(['--state', path.join(tmp, 'e.seq'), '--os', 'Debian\tGNU\tLinux']);
    expect(r.code, r.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 100));
    const d = wire.decodeDatagram(received[0]!);
    expect(d.type === 'signed' && d.payload.os).toBe('Debian GNU Linux');
  });

  it('refuses a --name that breaks the name rule, and cleans a hostname-derived one', async () => {
    for (const name of ['deadbeef', 'web\\-01', 'a\u202eb']) {
      const r = await agent(['--to', `127.0.0.1:${port}`, '--key', KEY, '--uuid', UUID, '--name', name, '--count', '1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^billboard-beacon: --name .* is refused: a name cannot/);
    }
    received.length = 0;
    const r = await agent([
      '--to',
      `127.0.0.1:${port}`,
      '--key',
      KEY,
      '--uuid',
      UUID,
      '--hostname',
      'cafe',
      '--one-way',
      '--count',
      '1',
      '--state',
      path.join(tmp, 'f.seq'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/beaconing as "vm-cafe"/);
    await new Promise((res) => setTimeout(res, 100));
    const d = wire.decodeDatagram(received[0]!);
    expect(d.type === 'signed' && d.payload.name).toBe('vm-cafe');
  });
});
