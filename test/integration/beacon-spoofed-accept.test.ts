// A spoofed ACCEPT against a real billboard-beacon agent process, on loopback. The agent beacons to a relay (the
// listener's address, as far as the agent can tell), which forwards to a real BeaconListener. The attacker sees
// every hello there and answers it first, from that address, naming another VM's live session id, before the
// hello even reaches the listener. The victim must keep ≥ 90% valid beacons and never be painted as forged.
// Needs dist/ (npm run build): the agent runs as `node bin/billboard-beacon.js`.
import { execFileSync, spawn } from 'node:child_process';
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
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-spoof-'));
const VICTIM = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';
const COUNT = 50;

function keygen(name: string): Buffer {
  const out = execFileSync(process.execPath, [BIN, 'keygen', '--out', path.join(tmp, name)], { encoding: 'utf8' });
  return Buffer.from(/public key:\s+(\S+)/.exec(out)![1]!, 'base64');
}

function agent(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

type Forge = (hello: Extract<wire.Decoded, { type: 'signed' }>, sid: Buffer, edPub: Buffer) => Buffer;

/** Copies what a sniffer saw: the ephemeral key prefix; the tag is under a key nobody has. */
const echoOnly: Forge = (hello, sid) =>
  wire.encodeAccept(sid, wire.newKeyPair('x25519').publicKey, hello.payload.seq, hello.ephemeral!, crypto.randomBytes(32));

/** Does its own key exchange with the agent's ephemeral key, so its tag verifies. */
const withKeyExchange: Forge = (hello, sid, edPub) => {
  const mine = wire.newKeyPair('x25519');
  const shared = crypto.diffieHellman({ privateKey: mine.privateKey, publicKey: wire.publicKeyFromRaw(hello.ephemeral!, 'x25519') });
  const key = wire.deriveSessionKey(shared, hello.ephemeral!, mine.publicKey, sid, edPub);
  return wire.encodeAccept(sid, mine.publicKey, hello.payload.seq, hello.ephemeral!, key);
};

describe('a spoofed ACCEPT (real agent process, real UDP)', () => {
  const events: BeaconEvent[] = [];
  let listener: BeaconListener;
  let port = 0;
  let victimPub: Buffer;
  let otherSid: Buffer;
  let otherSock: dgram.Socket;

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist/agent/billboard-beacon.js'))) {
      throw new Error('dist/agent/billboard-beacon.js is missing: run `npm run build` (npm test builds first)');
    }
    victimPub = keygen('victim');
    const other = wire.newKeyPair('ed25519');
    const registry = new Map([
      [VICTIM, { publicKey: victimPub.toString('base64'), approved: true }],
      [OTHER, { publicKey: other.publicKey.toString('base64'), approved: true }],
    ]);
    listener = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, workers: 1, keyLookup: (u) => registry.get(u) });
    listener.on('beacon', (e: BeaconEvent) => events.push(e));
    ({ port } = await listener.start());
    // another VM with a live session: the id the attacker names
    otherSock = dgram.createSocket('udp4');
    await new Promise<void>((r) => otherSock.bind(0, '127.0.0.1', () => r()));
    const eph = wire.newKeyPair('x25519');
    const accepted = new Promise<Buffer>((r) => otherSock.once('message', r));
    const body = {
      uuid: OTHER,
      name: 'other',
      macs: [],
      ips: [],
      os: '',
      hostname: '',
      bootId: crypto.randomUUID(),
      seq: 1,
      ts: Date.now(),
    };
    otherSock.send(wire.encodeSigned(body, other.privateKey, other.publicKey, eph.publicKey), port, '127.0.0.1');
    const d = wire.decodeDatagram(await accepted);
    if (d.type !== 'accept') throw new Error('no ACCEPT for the other VM');
    otherSid = Buffer.from(d.sessionId);
  });

  afterAll(async () => {
    otherSock?.close();
    await listener?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The relay the victim beacons to; on every hello, the attacker's ACCEPT leaves it before the hello is forwarded. */
  async function attackedRelay(forge: Forge): Promise<{ sock: dgram.Socket; port: number; forged: () => number }> {
    const sock = dgram.createSocket('udp4');
    let agentAddr: dgram.RemoteInfo | undefined;
    let forged = 0;
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port === port) {
        if (agentAddr) sock.send(msg, agentAddr.port, agentAddr.address);
        return;
      }
      agentAddr = rinfo;
      const d = wire.decodeDatagram(msg);
      if (d.type === 'signed' && d.ephemeral) {
        sock.send(forge(d, otherSid, victimPub), rinfo.port, rinfo.address);
        forged++;
      }
      // the listener hears the hello only after the forged answer is on its way
      setTimeout(() => sock.send(msg, port, '127.0.0.1'), 2);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return { sock, port: sock.address().port, forged: () => forged };
  }

  for (const [name, forge] of [
    ['echoing the ephemeral key prefix', echoOnly],
    ['doing its own key exchange', withKeyExchange],
  ] as const) {
    it(`an attacker ${name} neither silences the agent nor paints it as forged`, async () => {
      const relay = await attackedRelay(forge);
      const before = events.length;
      const missesBefore = listener.counters().sessionMiss;
      try {
        const r = await agent([
          '--to',
          `127.0.0.1:${relay.port}`,
          '--key',
          path.join(tmp, 'victim'),
          '--uuid',
          VICTIM,
          '--name',
          'victim',
          '--interval',
          '0.1',
          '--count',
          String(COUNT),
          '--resign-every',
          '5',
          '--state',
          path.join(tmp, 'victim.seq'),
        ]);
        expect(r.code, r.stderr).toBe(0);
        for (const end = Date.now() + 10_000; listener.counters().queued > 0 && Date.now() < end;)
          await new Promise((res) => setTimeout(res, 20));
        await new Promise((res) => setTimeout(res, 200));
      } finally {
        relay.sock.close();
      }
      const mine = events.slice(before).filter((e) => e.beacon.uuid === VICTIM);
      expect(relay.forged()).toBeGreaterThan(0);
      expect(mine.filter((e) => e.verdict !== 'valid').map((e) => `${e.verdict}: ${e.reason}`)).toEqual([]);
      expect(mine.length).toBeGreaterThanOrEqual(COUNT * 0.9);
      // the other VM's session was never touched
      expect(events.some((e) => e.beacon.uuid === OTHER && e.verdict !== 'valid')).toBe(false);
      expect(listener.counters().sessionMiss - missesBefore).toBeLessThanOrEqual(COUNT * 0.1);
    }, 30_000);
  }
});
