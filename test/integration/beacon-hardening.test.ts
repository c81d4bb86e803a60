// What an outsider can do to the real listener over real UDP: mint sessions, starve a VM's MAC beacons with
// garbage signatures under its uuid and key, aim a MAC at another VM's session, send names that break the rule,
// or re-send a beacon captured before a restart (replay marks kept in a real store file).
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BeaconListener, type RegisteredKey } from '../../src/beacon/listener.js';
import * as wire from '../../src/beacon/wire.js';
import type { BeaconEvent } from '../../src/model/types.js';
import { createStore, openStore } from '../../src/store/store.js';
import type { KeySource } from '../../src/store/crypto.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-hardening-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Vm {
  uuid: string;
  priv: crypto.KeyObject;
  pub: Buffer;
  seq: number;
  bootId: string;
}
function vm(uuid: string): Vm {
  const k = wire.newKeyPair('ed25519');
  return { uuid, priv: k.privateKey, pub: k.publicKey, seq: 0, bootId: crypto.randomUUID() };
}
const body = (v: Vm, over: Partial<wire.BeaconBody> = {}): wire.BeaconBody => ({
  uuid: v.uuid,
  name: 'web-01',
  macs: [],
  ips: [],
  os: 'Linux',
  hostname: 'web',
  bootId: v.bootId,
  seq: ++v.seq,
  ts: Date.now(),
  ...over,
});

async function socket(address = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  return s;
}
function nextMessage(s: dgram.Socket, ms = 3000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      s.off('message', on);
      resolve(undefined);
    }, ms);
    const on = (m: Buffer) => {
      clearTimeout(t);
      s.off('message', on);
      resolve(m);
    };
    s.on('message', on);
  });
}
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
}

/** A signed hello from `s`, the listener's ACCEPT, and the session key the agent derives from it. */
async function handshake(s: dgram.Socket, port: number, v: Vm, over: Partial<wire.BeaconBody> = {}) {
  const eph = wire.newKeyPair('x25519');
  const got = nextMessage(s);
  s.send(wire.encodeSigned(body(v, over), v.priv, v.pub, eph.publicKey), port, '127.0.0.1');
  const m = await got;
  if (!m) return undefined;
  const d = wire.decodeDatagram(m);
  if (d.type !== 'accept') throw new Error(`expected an ACCEPT, got ${d.type}`);
  const shared = crypto.diffieHellman({ privateKey: eph.privateKey, publicKey: wire.publicKeyFromRaw(d.listenerEphemeral, 'x25519') });
  const key = wire.deriveSessionKey(shared, eph.publicKey, d.listenerEphemeral, d.sessionId, v.pub);
  expect(wire.checkMac(key, d.authed, d.tag)).toBe(true);
  return { sid: Buffer.from(d.sessionId), key };
}

const listeners: BeaconListener[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const l of listeners.splice(0)) await l.stop();
});

async function start(registry: Map<string, RegisteredKey>, extra: Partial<ConstructorParameters<typeof BeaconListener>[0]> = {}) {
  const l = new BeaconListener({ listen: '127.0.0.1:0', maxSkewMs: 30_000, workers: 1, keyLookup: (u) => registry.get(u), ...extra });
  listeners.push(l);
  const events: BeaconEvent[] = [];
  l.on('beacon', (e: BeaconEvent) => events.push(e));
  const { port } = await l.start();
  return { l, events, port };
}
const track = async (address?: string) => {
  const s = await socket(address);
  sockets.push(s);
  return s;
};

describe('sessions (real UDP)', () => {
  it('are granted to approved identities only; a pending one is judged but gets no ACCEPT', async () => {
    const v = vm('11111111-1111-4111-8111-111111111111');
    const registry = new Map<string, RegisteredKey>([[v.uuid, { publicKey: v.pub.toString('base64'), approved: false }]]);
    const { l, events, port } = await start(registry);
    const s = await track();
    expect(await handshake(s, port, v)).toBeUndefined();
    expect(events.map((e) => e.verdict)).toEqual(['valid']);
    expect(l.counters()).toMatchObject({ handshakes: 0, sessions: 0 });
    registry.set(v.uuid, { publicKey: v.pub.toString('base64'), approved: true });
    expect(await handshake(s, port, v)).toBeDefined();
    expect(l.counters()).toMatchObject({ handshakes: 1, sessions: 1 });
  });

  it('are one per identity: a fresh boot id and ephemeral key in every hello replaces the session, never adds one', async () => {
    const v = vm('22222222-2222-4222-8222-222222222222');
    const { l, port } = await start(new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]));
    const s = await track();
    for (let i = 0; i < 40; i++) {
      v.bootId = crypto.randomUUID();
      v.seq += 1000; // a reboot: seq persisted, a block ahead
      expect(await handshake(s, port, v)).toBeDefined();
    }
    expect(l.counters()).toMatchObject({ handshakes: 40, sessions: 1 });
  });

  it("garbage signatures under a VM's uuid and key do not make its MAC beacons wait or drop", async () => {
    const v = vm('33333333-3333-4333-8333-333333333333');
    const { l, events, port } = await start(new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]), {
      rateLimit: { perSecond: 1e6, burst: 1e6 },
    });
    const agent = await track('127.0.0.2');
    const sess = (await handshake(agent, port, v))!;
    const attacker = await track();
    const other = wire.newKeyPair('ed25519').privateKey;
    // the victim's uuid and public key (both travel in clear), a signature by another key: verifies as garbage
    for (let i = 0; i < 300; i++) {
      attacker.send(wire.encodeSigned(body(v, { seq: 1e9 + i }), other, v.pub, crypto.randomBytes(32)), port, '127.0.0.1');
    }
    const queuedAtMac: number[] = [];
    l.on('beacon', (e: BeaconEvent) => {
      if (e.verdict === 'valid') queuedAtMac.push(l.counters().queued);
    });
    const before = events.length;
    for (let i = 0; i < 20; i++) agent.send(wire.encodeMac(body(v), v.pub, sess.sid, sess.key), port, '127.0.0.1');
    await until(() => l.counters().received >= 321 && l.counters().queued === 0);
    const mine = events.slice(before).filter((e) => e.verdict === 'valid');
    expect(mine.map((e) => e.beacon.seq)).toEqual(Array.from({ length: 20 }, (_, i) => v.seq - 19 + i));
    // judged on arrival, while the garbage still waited for the verify worker
    expect(Math.min(...queuedAtMac)).toBeGreaterThan(0);
    expect(l.counters().overload).toBe(0);
  });

  it("a MAC beacon naming another VM's session, or failing its MAC, is a session miss: REKEY, no event", async () => {
    const a = vm('44444444-4444-4444-8444-444444444444');
    const b = vm('55555555-5555-4555-8555-555555555555');
    const reg = new Map([a, b].map((v) => [v.uuid, { publicKey: v.pub.toString('base64'), approved: true }] as const));
    const { l, events, port } = await start(new Map(reg));
    const sa = await track();
    const sb = await track();
    const sessB = (await handshake(sb, port, b))!;
    await handshake(sa, port, a);
    const before = events.length;
    // a's beacon under b's live session id (what a spoofed ACCEPT makes an honest agent send), and a forged tag
    const rekey1 = nextMessage(sa);
    sa.send(wire.encodeMac(body(a), a.pub, sessB.sid, crypto.randomBytes(32)), port, '127.0.0.1');
    const r1 = await rekey1;
    const rekey2 = nextMessage(sa);
    sa.send(wire.encodeMac(body(b), b.pub, sessB.sid, crypto.randomBytes(32)), port, '127.0.0.1');
    const r2 = await rekey2;
    for (const r of [r1, r2]) expect(r && wire.decodeDatagram(r)).toMatchObject({ type: 'rekey', sessionId: sessB.sid });
    await new Promise((r) => setTimeout(r, 200));
    expect(events.slice(before)).toEqual([]);
    expect(l.counters().sessionMiss).toBe(2);
    // b's own session still works
    sb.send(wire.encodeMac(body(b), b.pub, sessB.sid, sessB.key), port, '127.0.0.1');
    await until(() => events.length > before);
    expect(events.slice(before).map((e) => [e.verdict, e.beacon.uuid])).toEqual([['valid', b.uuid]]);
  });

  it('REKEY answers are rate-limited per address', async () => {
    const { l, port } = await start(new Map(), { rekeyRate: { perSecond: 1, burst: 5 } });
    const s = await track();
    const v = vm('66666666-6666-4666-8666-666666666666');
    let rekeys = 0;
    s.on('message', () => rekeys++);
    for (let i = 0; i < 50; i++) s.send(wire.encodeMac(body(v), v.pub, crypto.randomBytes(8), crypto.randomBytes(32)), port, '127.0.0.1');
    await until(() => l.counters().sessionMiss === 50);
    await new Promise((r) => setTimeout(r, 200));
    expect(rekeys).toBe(5);
    expect(l.counters().rekeyLimited).toBe(45);
  });
});

describe('names and text from beacons (real UDP)', () => {
  it('a name that breaks the name rule is malformed (counted, no event); bidi and zero-width in other strings are escaped', async () => {
    const v = vm('77777777-7777-4777-8777-777777777777');
    const { l, events, port } = await start(new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]));
    const s = await track();
    const bad = ['deadbeef', '5b0f3c9e-2a41', 'web\\-01', 'we"b', 'a\u202eb', 'a\u200bb', ' web'];
    for (const name of bad) s.send(wire.encodeSigned(body(v, { name }), v.priv, v.pub), port, '127.0.0.1');
    s.send(wire.encodeSigned(body(v, { os: 'Debian\u202e GNU', hostname: 'web\u200b01' }), v.priv, v.pub), port, '127.0.0.1');
    await until(() => events.length >= 1 && l.counters().received >= bad.length + 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(l.counters().malformed).toBe(bad.length);
    expect(events).toHaveLength(1);
    expect(events[0]!.beacon).toMatchObject({ name: 'web-01', os: 'Debian\\u202e GNU', hostname: 'web\\u200b01' });
  });
});

describe('replay marks across a restart (real store file)', () => {
  const key: KeySource = { kind: 'passphrase', passphrase: 'beacon replay marks' };

  it('a beacon captured before the listener restarts is a replay after it; newer beacons are valid', async () => {
    const file = path.join(tmp, 'store.db');
    await (await createStore(file, key)).close();
    const v = vm('88888888-8888-4888-8888-888888888888');
    const registry = new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]);

    let store = await openStore(file, key);
    let run = await start(registry, { marks: store });
    const s = await track();
    const captured = [1, 2, 3].map(() => wire.encodeSigned(body(v), v.priv, v.pub));
    for (const c of captured) s.send(c, run.port, '127.0.0.1');
    await until(() => run.events.length === 3);
    expect(run.events.map((e) => e.verdict)).toEqual(['valid', 'valid', 'valid']);
    await run.l.stop(); // saves the marks that moved
    listeners.splice(listeners.indexOf(run.l), 1);
    await store.close();

    store = await openStore(file, key);
    try {
      expect(store.beaconMarks().get(v.uuid)).toMatchObject({ bootId: `${v.bootId} ${wire.fingerprintOfRaw(v.pub)}`, seq: 3 });
      run = await start(registry, { marks: store });
      s.send(captured[1]!, run.port, '127.0.0.1');
      s.send(captured[2]!, run.port, '127.0.0.1');
      s.send(wire.encodeSigned(body(v), v.priv, v.pub), run.port, '127.0.0.1');
      await until(() => run.events.length === 3);
      expect(run.events.map((e) => [e.verdict, e.beacon.seq])).toEqual([
        ['replay', 2],
        ['replay', 3],
        ['valid', 4],
      ]);
      await run.l.flushMarks();
      expect(store.beaconMarks().get(v.uuid)).toMatchObject({ seq: 4 });
    } finally {
      await run.l.stop();
      listeners.splice(listeners.indexOf(run.l), 1);
      await store.close();
    }
  });

  it('saves marks only for identities under their registered key, batched', async () => {
    const saved: Map<string, unknown>[] = [];
    const marks = { beaconMarks: () => new Map(), saveBeaconMarks: async (m: ReadonlyMap<string, unknown>) => void saved.push(new Map(m)) };
    const v = vm('99999999-9999-4999-8999-999999999999');
    const stranger = vm('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa');
    const { l, events, port } = await start(new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]), {
      marks,
      marksEveryMs: 60_000,
    });
    const s = await track();
    for (let i = 0; i < 5; i++) {
      s.send(wire.encodeSigned(body(v), v.priv, v.pub), port, '127.0.0.1');
      s.send(wire.encodeSigned(body(stranger), stranger.priv, stranger.pub), port, '127.0.0.1');
    }
    await until(() => events.length === 10);
    await l.flushMarks();
    expect(saved).toHaveLength(1);
    expect([...saved[0]!.keys()]).toEqual([v.uuid]);
    expect(saved[0]!.get(v.uuid)).toMatchObject({ seq: 5, bootId: `${v.bootId} ${wire.fingerprintOfRaw(v.pub)}` });
    await l.flushMarks();
    expect(saved).toHaveLength(1); // nothing moved since
  });

  it('restores a mark only under the key it was saved for: a re-keyed VM counting from 1 is not a replay', async () => {
    const v = vm('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb');
    const old = wire.newKeyPair('ed25519').publicKey;
    const saved = new Map([[v.uuid, { bootId: `${v.bootId} ${wire.fingerprintOfRaw(old)}`, seq: 50_000, at: Date.now() }]]);
    const marks = { beaconMarks: () => saved, saveBeaconMarks: async () => {} };
    const { events, port } = await start(new Map([[v.uuid, { publicKey: v.pub.toString('base64'), approved: true }]]), { marks });
    const s = await track();
    s.send(wire.encodeSigned(body(v), v.priv, v.pub), port, '127.0.0.1');
    await until(() => events.length === 1);
    expect(events.map((e) => [e.verdict, e.beacon.seq])).toEqual([['valid', 1]]);
  });
});
