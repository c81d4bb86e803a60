// ≥ 100,000 random and mutated datagrams at the real listener over real UDP: no crash, nothing accepted,
// every datagram counted, memory flat.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeaconListener, type ListenerCounters } from '../../src/beacon/listener.js';
import * as wire from '../../src/beacon/wire.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const TOTAL = 100_000;
const ed = crypto.generateKeyPairSync('ed25519').privateKey;
const edPub = wire.rawPublicKey(ed);
const body = {
  uuid: '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e',
  name: 'fuzz',
  macs: ['52:54:00:12:34:56'],
  ips: ['10.0.0.1', 'fd00::1'],
  os: 'Linux',
  hostname: 'fuzz',
  bootId: 'c8b2f7d0-1e5a-4b3c-8f9d-2a6e4c1b0d3f',
  seq: 1,
  ts: Date.now(),
};
const signed = wire.encodeSigned(body, ed, edPub, crypto.randomBytes(32));
const mac = wire.encodeMac(body, edPub, crypto.randomBytes(8), crypto.randomBytes(32));
const HEADER = 85;
const rnd = (n: number) => Math.floor(Math.random() * n);

/** One hostile datagram; none of these may ever be judged valid. */
function hostile(i: number): Buffer {
  switch (i % 10) {
    case 0: // random bytes, any length (some oversized)
      return crypto.randomBytes(rnd(1500));
    case 1: {
      // a signed beacon with 1-8 distinct bytes flipped. Distinct, because two flips of the same byte by the same
      // value cancel out: that left the beacon intact about once in 30 runs, and the listener rightly took it.
      const b = Buffer.from(signed);
      const at = new Set<number>();
      for (let k = 1 + rnd(8); at.size < k;) at.add(rnd(b.length));
      for (const p of at) b[p] ^= 1 + rnd(255);
      return b;
    }
    case 2: // truncated signed or MAC beacon
      return (i % 20 === 2 ? signed : mac).subarray(0, rnd(signed.length));
    case 3: {
      // wrong version or unknown type on a real beacon
      const b = Buffer.from(signed);
      if (i % 20 === 3) b[2] = 2 + rnd(254);
      else b[3] = 5 + rnd(251);
      return b;
    }
    case 4: // oversized: a real beacon padded past 1,200 bytes, or a valid-looking one with trailing bytes
      return Buffer.concat([signed, crypto.randomBytes(i % 20 === 4 ? 1 + rnd(50) : 1201 - signed.length + rnd(200))]);
    case 5: {
      // huge arrays: MAC / IP counts set to 255, string lengths set to 255
      const b = Buffer.from(signed);
      let off = HEADER;
      for (let s = 0; s < 3; s++) off += 1 + b[off]!;
      const which = rnd(3);
      if (which === 0) b[off] = 255;
      else if (which === 1) b[off + 1 + b[off]! * 6] = 255;
      else b[HEADER] = 255;
      return b;
    }
    case 6: {
      // NaN / infinite / out-of-range timestamps and seq (u64 beyond 2^53), zero seq
      const b = Buffer.from(signed);
      const f = rnd(3);
      if (f === 0) b.fill(0xff, 13, 21);
      else if (f === 1) b.writeDoubleBE(NaN, 13);
      else b.fill(0, 5, 13);
      return b;
    }
    case 7: // JSON with bad base64, huge arrays, NaN: the kind of thing a text protocol would choke on
      return Buffer.from(
        JSON.stringify({ v: 1, uuid: 'x', sig: '!!!not base64!!!', pub: '%%%', macs: Array(100).fill('zz'), ts: 'NaN', seq: -1 }).slice(
          0,
          1 + rnd(900),
        ),
      );
    case 8: // MAC beacons naming sessions that do not exist (REKEY answers go back to the fuzzer)
      return Buffer.from(mac).fill(rnd(256), mac.length - 24, mac.length - 16);
    default: {
      // a listener→agent message (ACCEPT / REKEY) sent to the listener, or a MAC beacon with a bad UTF-8 name
      if (i % 20 === 9)
        return wire.encodeAccept(crypto.randomBytes(8), crypto.randomBytes(32), 1, crypto.randomBytes(32), crypto.randomBytes(32));
      const b = Buffer.from(mac);
      b[HEADER + 1] = 0xc3;
      b[HEADER + 2] = 0x28;
      return b;
    }
  }
}

const sumOf = (c: ListenerCounters) =>
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

describe('beacon listener under fuzz (real UDP)', () => {
  let listener: BeaconListener;
  let port = 0;
  let emitted = 0;
  const sock = dgram.createSocket('udp4');

  beforeAll(async () => {
    listener = new BeaconListener({
      listen: '127.0.0.1:0',
      maxSkewMs: 60_000,
      workers: 2,
      keyLookup: () => edPub.toString('base64'),
      rateLimit: { perSecond: 1e9, burst: 1e9 }, // every datagram must reach the decoder here; rate limits tested below
    });
    listener.on('beacon', () => emitted++);
    ({ port } = await listener.start());
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  });

  afterAll(async () => {
    sock.close();
    await listener?.stop();
  });

  async function blast(from: number, to: number): Promise<void> {
    const BATCH = 400;
    for (let i = from; i < to; i += BATCH) {
      const n = Math.min(BATCH, to - i);
      for (let k = 0; k < n; k++) sock.send(hostile(i + k), port, '127.0.0.1');
      // pace: wait for the listener to take them in (so the kernel never drops and the counts are exact) and to
      // verify them, so batches do not pile up behind verify workers that a loaded machine slows down
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const c = listener.counters();
        if (c.received >= i + n && c.queued === 0) break;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    const deadline = Date.now() + 60_000;
    while (listener.counters().queued > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  it(`survives ${TOTAL.toLocaleString()} hostile datagrams: none valid, all counted, heap flat`, async () => {
    await blast(0, 10_000); // warm up: JIT, caches, maps at their steady size
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    await blast(10_000, TOTAL);
    gc();
    const heap1 = process.memoryUsage().heapUsed;
    const c = listener.counters();
    expect(c.received).toBe(TOTAL);
    expect(c.valid).toBe(0);
    expect(c.overload).toBe(0);
    expect(sumOf(c)).toBe(TOTAL);
    expect(c.valid + c['unknown-key'] + c['bad-signature'] + c.replay + c['clone-suspect']).toBe(emitted);
    expect(c.malformed).toBeGreaterThan(TOTAL / 2);
    expect(c['bad-signature']).toBeGreaterThan(0);
    expect(c.sessionMiss).toBeGreaterThan(0);
    expect(heap1 - heap0).toBeLessThan(16 * 1024 * 1024);
  }, 240_000);

  it('a flood from one address is rate-limited and counted; another address still gets through', async () => {
    const l = new BeaconListener({
      listen: '127.0.0.1:0',
      maxSkewMs: 60_000,
      workers: 1,
      keyLookup: () => undefined,
      rateLimit: { perSecond: 100, burst: 100 },
    });
    const seen: string[] = [];
    l.on('beacon', (e) => seen.push(e.from.address));
    const { port: p } = await l.start();
    try {
      const flood = dgram.createSocket('udp4');
      const good = dgram.createSocket('udp4');
      await new Promise<void>((r) => flood.bind(0, '127.0.0.1', () => r()));
      await new Promise<void>((r) => good.bind(0, '127.0.0.2', () => r()));
      for (let i = 0; i < 2000; i++) flood.send(crypto.randomBytes(100), p, '127.0.0.1');
      const one = wire.encodeSigned({ ...body, seq: 5, ts: Date.now() }, ed, edPub);
      good.send(one, p, '127.0.0.1');
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (l.counters().received < 2001 || seen.length < 1)) await new Promise((r) => setTimeout(r, 10));
      flood.close();
      good.close();
      const c = l.counters();
      expect(c['rate-limited']).toBeGreaterThanOrEqual(1800);
      expect(seen).toEqual(['127.0.0.2']);
      expect(sumOf(c)).toBe(c.received);
    } finally {
      await l.stop();
    }
  });
});
