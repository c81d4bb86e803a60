// Real billboard-beacon agent processes → a real BeaconListener over loopback UDP.
// Needs dist/ (npm run build): the agents run as `node bin/billboard-beacon.js`.
import { execFile, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeaconListener } from '../../src/beacon/listener.js';
import * as wire from '../../src/beacon/wire.js';
import type { BeaconEvent } from '../../src/model/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/billboard-beacon.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-agents-'));
const UUID = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
const BOOT1 = 'a0000000-0000-4000-8000-000000000001';
const BOOT2 = 'a0000000-0000-4000-8000-000000000002';

function keygen(name: string): string {
  const out = execFileSync(process.execPath, [BIN, 'keygen', '--out', path.join(tmp, name)], { encoding: 'utf8' });
  return /public key:\s+(\S+)/.exec(out)![1]!;
}

function agent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

const settle = () => new Promise((r) => setTimeout(r, 300));
/** Wait until `count()` reaches `n` (a signature may queue behind others on a loaded machine), at most 10 s,
 *  then a little longer so that an unexpected extra event would still be seen. */
async function settleUntil(count: () => number, n: number): Promise<void> {
  for (const end = Date.now() + 10_000; count() < n && Date.now() < end;) await new Promise((r) => setTimeout(r, 25));
  await settle();
}

describe('beacon agents → listener (real processes, real UDP)', () => {
  const pubs: string[] = [];
  const events: BeaconEvent[] = [];
  const registered = new Map<string, string>();
  let listener: BeaconListener;
  let port = 0;
  // a capturing relay in front of the listener for agent 0: the "network tap" an attacker would use
  let tap: dgram.Socket;
  let tapPort = 0;
  const captured: Buffer[] = [];

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist/agent/billboard-beacon.js'))) {
      throw new Error('dist/agent/billboard-beacon.js is missing: run `npm run build` (npm test builds first)');
    }
    for (let i = 0; i < 3; i++) pubs.push(keygen(`k${i}`));
    registered.set(UUID[0]!, pubs[0]!);
    registered.set(UUID[1]!, pubs[1]!); // UUID[2] stays unregistered
    listener = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, workers: 2, keyLookup: (u) => registered.get(u) });
    listener.on('beacon', (e: BeaconEvent) => events.push(e));
    ({ port } = await listener.start());
    tap = dgram.createSocket('udp4');
    let agentAddr: dgram.RemoteInfo | undefined;
    tap.on('message', (msg, rinfo) => {
      if (rinfo.port === port) {
        if (agentAddr) tap.send(msg, agentAddr.port, agentAddr.address);
      } else {
        agentAddr = rinfo;
        captured.push(Buffer.from(msg));
        tap.send(msg, port, '127.0.0.1');
      }
    });
    await new Promise<void>((r) => tap.bind(0, '127.0.0.1', () => r()));
    tapPort = tap.address().port;
  });

  afterAll(async () => {
    tap?.close();
    await listener?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keygen writes a 0600 PEM key and prints the base64 key; refuses to overwrite', () => {
    const st = fs.statSync(path.join(tmp, 'k0'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(Buffer.from(pubs[0]!, 'base64')).toHaveLength(32);
    expect(() => execFileSync(process.execPath, [BIN, 'keygen', '--out', path.join(tmp, 'k0')], { stdio: 'pipe' })).toThrow();
  });

  it('several agents beacon; registered ones are valid (with sessions), the unregistered one is a registration request', async () => {
    const common = ['--interval', '0.05', '--count', '20', '--mac', '52:54:00:00:00:01', '--ip', '10.0.0.1'];
    // Agent 0 (behind the tap) keeps one session: the replay tests below re-send its captured MACs, which must name
    // a session the listener still holds. With re-keying, a slow ACCEPT makes the agent's last beacons signed
    // hellos; the listener then replaces the session and a re-sent old MAC only earns a REKEY (CI saw this).
    const results = await Promise.all([
      agent([
        '--to',
        `127.0.0.1:${tapPort}`,
        '--key',
        path.join(tmp, 'k0'),
        '--uuid',
        UUID[0]!,
        '--name',
        'vm0',
        '--boot-id',
        BOOT1,
        ...common,
        '--resign-every',
        '1000',
      ]),
      agent([
        '--to',
        `127.0.0.1:${port}`,
        '--key',
        path.join(tmp, 'k1'),
        '--uuid',
        UUID[1]!,
        '--name',
        'vm1',
        ...common,
        '--resign-every',
        '5',
      ]),
      agent([
        '--to',
        `127.0.0.1:${port}`,
        '--key',
        path.join(tmp, 'k2'),
        '--uuid',
        UUID[2]!,
        '--name',
        'vm2',
        ...common,
        '--resign-every',
        '5',
      ]),
    ]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    await settleUntil(() => events.length, 60); // the last signatures may still be in the verify workers
    const of = (u: string) => events.filter((e) => e.beacon.uuid === u);
    expect(of(UUID[0]!).map((e) => e.verdict)).toEqual(Array(20).fill('valid'));
    expect(of(UUID[1]!).map((e) => e.verdict)).toEqual(Array(20).fill('valid'));
    const unknown = of(UUID[2]!);
    expect(unknown.length).toBe(20);
    expect(
      unknown.every((e) => e.verdict === 'unknown-key' && e.publicKey === pubs[2] && e.reason === 'no registered key for this uuid'),
    ).toBe(true);
    expect(of(UUID[1]!)[0]!.beacon).toMatchObject({ name: 'vm1', macs: ['52:54:00:00:00:01'], ips: ['10.0.0.1'], seq: 1 });
    // sessions were used: most of agent 0's datagrams are short MAC beacons
    const types = captured.map((b) => b[3]);
    expect(types.filter((t) => t === wire.MSG_MAC).length).toBeGreaterThan(10);
    expect(listener.counters().handshakes).toBeGreaterThanOrEqual(2);
    // and seq survives a restart: agent 0 reserved a block on disk
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'k0.seq'), 'utf8')).reserved).toBe(1000);
  });

  it('a captured datagram re-sent is a replay (signed and MAC alike)', async () => {
    const before = events.length;
    const signed = captured.find((b) => b[3] === wire.MSG_SIGNED)!;
    const mac = captured.filter((b) => b[3] === wire.MSG_MAC).at(-1)!;
    const s = dgram.createSocket('udp4');
    s.send(signed, port, '127.0.0.1');
    s.send(mac, port, '127.0.0.1');
    await settleUntil(() => events.length - before, 2);
    s.close();
    const fresh = events.slice(before);
    expect(fresh.map((e) => e.verdict)).toEqual(['replay', 'replay']);
    expect(fresh[0]!.reason).toMatch(/not above/);
  });

  it('a forged signature is bad-signature; a valid signature by another key is unknown-key (key differs); a forged MAC is only a session miss', async () => {
    const before = events.length;
    const missesBefore = listener.counters().sessionMiss;
    const signed = Buffer.from(captured.find((b) => b[3] === wire.MSG_SIGNED)!);
    const d = wire.decodeDatagram(signed);
    if (d.type !== 'signed') throw new Error('not signed');
    // tamper: bump seq far ahead (so it is not a replay) — the signature no longer matches
    signed.writeBigUInt64BE(BigInt(d.payload.seq + 100_000), 5);
    const mac = Buffer.from(captured.filter((b) => b[3] === wire.MSG_MAC).at(-1)!);
    mac.writeBigUInt64BE(BigInt(d.payload.seq + 100_001), 5);
    // another agent's key signing a beacon that claims agent 0's uuid
    const k2 = crypto.createPrivateKey(fs.readFileSync(path.join(tmp, 'k2'), 'utf8'));
    const impostor = wire.encodeSigned({ ...d.payload, seq: d.payload.seq + 200_000, ts: Date.now() }, k2, Buffer.from(pubs[2]!, 'base64'));
    const s = dgram.createSocket('udp4');
    for (const m of [signed, mac, impostor]) s.send(m, port, '127.0.0.1');
    await settleUntil(() => events.length - before, 2);
    s.close();
    const fresh = events.slice(before);
    // a MAC that fails proves nothing about the uuid it claims (the session id travels in clear): not evidence
    expect(fresh.map((e) => e.verdict).sort()).toEqual(['bad-signature', 'unknown-key']);
    expect(listener.counters().sessionMiss).toBe(missesBefore + 1);
    const imp = fresh.find((e) => e.verdict === 'unknown-key')!;
    expect(imp.beacon.uuid).toBe(UUID[0]);
    expect(imp.reason).toMatch(/differs from the registered key/);
  });

  it('a cloned identity (same key + uuid, copied state, another boot id) is clone-suspect', async () => {
    const before = events.length;
    fs.copyFileSync(path.join(tmp, 'k0.seq'), path.join(tmp, 'clone.seq'));
    const common = [
      '--key',
      path.join(tmp, 'k0'),
      '--uuid',
      UUID[0]!,
      '--name',
      'vm0',
      '--interval',
      '0.05',
      '--count',
      '60',
      '--to',
      `127.0.0.1:${port}`,
    ];
    // 3 s each (60 beacons): the two runs overlap even if one node process starts a second late
    const [a, b] = await Promise.all([
      agent([...common, '--boot-id', BOOT1]),
      agent([...common, '--boot-id', BOOT2, '--state', path.join(tmp, 'clone.seq')]),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    await settleUntil(() => events.length - before, 120);
    const fresh = events.slice(before).filter((e) => e.beacon.uuid === UUID[0]);
    const clones = fresh.filter((e) => e.verdict === 'clone-suspect');
    expect(clones.length).toBeGreaterThan(3);
    expect(new Set(clones.map((e) => e.beacon.bootId))).toEqual(new Set([BOOT1, BOOT2]));
  });

  it('the built agent is one bundled file importing only node: builtins (it is copied alone into guests)', () => {
    const src = fs.readFileSync(path.join(ROOT, 'dist/agent/billboard-beacon.js'), 'utf8');
    const specifiers = [
      ...src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/gm), // import … from / export … from
      ...src.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm), // import 'x' for its side effects
      ...src.matchAll(/\b(?:require|import)\s*\(\s*['"`]([^'"`]+)['"`]/g), // require('x'), import('x')
    ].map((m) => m[1]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s!.startsWith('node:'))).toEqual([]);
    expect(src).not.toMatch(/\b(?:require|import)\s*\(/); // nothing loaded by a computed name either
    // what esbuild inlined (it names each module in a comment): the agent and the model, no package
    const modules = new Set([...src.matchAll(/^\/\/ (\S+\.[cm]?[jt]sx?)$/gm)].map((m) => m[1]));
    expect(modules).toContain('src/beacon/wire.ts');
    expect([...modules].filter((m) => !/^src\/(beacon|model)\//.test(m!))).toEqual([]);
  });

  it('the bundle runs alone: copied into an empty folder as .mjs, it makes a key and teaches', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'guest-'));
    const copy = path.join(dir, 'billboard-beacon.mjs');
    fs.copyFileSync(path.join(ROOT, 'dist/agent/billboard-beacon.js'), copy);
    const opts = { cwd: dir, encoding: 'utf8' as const, env: { PATH: process.env.PATH ?? '' } };
    const out = execFileSync(process.execPath, [copy, 'keygen', '--out', path.join(dir, 'agent.key')], opts);
    expect(out).toMatch(/^public key: {2}\S{44}\nfingerprint: SHA256:\S{43}\n$/);
    expect(execFileSync(process.execPath, [copy, '--help'], opts)).toMatch(/billboard-beacon --to HOST:PORT --key FILE/);
  });

  it('usage errors exit 2 with one clear line; --help teaches', async () => {
    const r = await agent(['--to', 'nowhere', '--key', path.join(tmp, 'k0')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--to must be HOST:PORT/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    const help = await new Promise<string>((resolve) => execFile(process.execPath, [BIN, '--help'], (_e, out) => resolve(out)));
    expect(help).toMatch(/keygen --out FILE/);
    expect(help).toMatch(/--interval S/);
  });

  it('counters add up', () => {
    const c = listener.counters();
    const sum =
      c.valid +
      c['unknown-key'] +
      c['bad-signature'] +
      c.replay +
      c['clone-suspect'] +
      c.malformed +
      c['rate-limited'] +
      c.overload +
      c.sessionMiss +
      c.late +
      c.queued;
    expect(sum).toBe(c.received);
    expect(c.valid + c['unknown-key'] + c['bad-signature'] + c.replay + c['clone-suspect']).toBe(events.length);
  });
});
