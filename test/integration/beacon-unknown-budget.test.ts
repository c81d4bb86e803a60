// Signatures of identities nobody registered cost a verification each and can come from any number of addresses:
// past a global budget they are counted unverified, so registered identities keep the verify workers. Real UDP,
// the real listener; the junk comes from 200 loopback source addresses, so no per-source limit applies.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { BeaconListener } from '../../src/beacon/listener.js';
import * as wire from '../../src/beacon/wire.js';
import type { BeaconEvent } from '../../src/model/types.js';

const listeners: BeaconListener[] = [];
afterEach(async () => {
  for (const l of listeners.splice(0)) await l.stop();
});

const body = (uuid: string, seq: number): wire.BeaconBody => ({
  uuid,
  name: 'vm',
  macs: [],
  ips: [],
  os: 'Linux',
  hostname: 'vm',
  bootId: '11111111-2222-4333-8444-555555555555',
  seq,
  ts: Date.now(),
});

describe('the budget for signatures of unregistered identities', () => {
  it('counts junk past the budget as rate-limited, unverified, while a registered identity is still verified', async () => {
    const known = wire.newKeyPair('ed25519');
    const knownUuid = crypto.randomUUID();
    const l = new BeaconListener({
      listen: '127.0.0.1:0',
      maxSkewMs: 60_000,
      keyLookup: (uuid) => (uuid === knownUuid ? { publicKey: known.publicKey.toString('base64'), approved: false } : undefined),
      unknownRate: { perSecond: 50, burst: 100 },
    });
    listeners.push(l);
    const valid: BeaconEvent[] = [];
    l.on('beacon', (ev: BeaconEvent) => ev.verdict === 'valid' && valid.push(ev));
    const { port } = await l.start();
    const junkKey = wire.newKeyPair('ed25519');
    const socks = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(0, `127.9.${i >> 8}.${(i & 255) + 1}`, () => r()));
        return s;
      }),
    );
    const good = dgram.createSocket('udp4');
    try {
      for (let round = 0; round < 5; round++) {
        for (const s of socks)
          s.send(wire.encodeSigned(body(crypto.randomUUID(), 1), junkKey.privateKey, junkKey.publicKey), port, '127.0.0.1');
        good.send(wire.encodeSigned(body(knownUuid, round + 1), known.privateKey, known.publicKey), port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const end = Date.now() + 5000; valid.length < 5 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
      const c = l.counters();
      expect(valid.map((v) => v.beacon.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(c['rate-limited']).toBeGreaterThanOrEqual(800); // 1,000 junk, a budget of about 100 in the burst
      expect(c['unknown-key']).toBeLessThanOrEqual(200);
    } finally {
      for (const s of [...socks, good]) s.close();
    }
  });
});
