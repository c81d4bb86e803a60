import crypto from 'node:crypto';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as wire from '../../src/beacon/wire.js';
import { keyFingerprint } from '../../src/model/fingerprint.js';

const vectors = JSON.parse(fs.readFileSync(new URL('../fixtures/beacon/vectors.json', import.meta.url), 'utf8'));
const ED_PKCS8 = '302e020100300506032b657004220420';
const edKey = crypto.createPrivateKey({ key: Buffer.from(ED_PKCS8 + vectors.keys.ed25519Seed, 'hex'), format: 'der', type: 'pkcs8' });
const edPub = Buffer.from(vectors.keys.ed25519Public, 'hex');
const sessionKey = Buffer.from(vectors.keys.sessionKey, 'hex');
const sessionId = Buffer.from(vectors.keys.sessionId, 'hex');
const dg = (name: string) => vectors.datagrams.find((d: { name: string }) => d.name === name);

describe('beacon wire format: test vectors', () => {
  it('derives the documented public key, fingerprint and session key', () => {
    expect(wire.rawPublicKey(edKey).toString('hex')).toBe(vectors.keys.ed25519Public);
    expect(wire.fingerprintOfRaw(edPub)).toBe(vectors.keys.keyFp);
    expect(keyFingerprint(vectors.keys.ed25519PublicBase64)).toBe(vectors.keys.keyFp);
    const key = wire.deriveSessionKey(
      Buffer.from(vectors.keys.sharedSecret, 'hex'),
      Buffer.from(vectors.keys.agentEphemeralPublic, 'hex'),
      Buffer.from(vectors.keys.listenerEphemeralPublic, 'hex'),
      sessionId,
      edPub,
    );
    expect(key.toString('hex')).toBe(vectors.keys.sessionKey);
  });

  it('encodes every vector byte for byte', () => {
    const one = dg('signed, one-way (no session)');
    expect(wire.encodeSigned(one.body, edKey, edPub).toString('hex')).toBe(one.datagram);
    const hello = dg('signed hello (with agent ephemeral key)');
    expect(wire.encodeSigned(hello.body, edKey, edPub, Buffer.from(vectors.keys.agentEphemeralPublic, 'hex')).toString('hex')).toBe(
      hello.datagram,
    );
    const mac = dg('mac (session beacon)');
    expect(wire.encodeMac(mac.body, edPub, sessionId, sessionKey).toString('hex')).toBe(mac.datagram);
    expect(wire.encodeRekey(sessionId).toString('hex')).toBe(dg('rekey').datagram);
    const lEph = Buffer.from(vectors.keys.listenerEphemeralPublic, 'hex');
    const aEph = Buffer.from(vectors.keys.agentEphemeralPublic, 'hex');
    expect(wire.encodeAccept(sessionId, lEph, 1001, aEph, sessionKey).toString('hex')).toBe(dg('accept').datagram);
  });

  it('decodes every vector to its body, and the signature/MAC check independently of the codec', () => {
    for (const name of ['signed, one-way (no session)', 'signed hello (with agent ephemeral key)', 'signed, minimal fields']) {
      const v = dg(name);
      const buf = Buffer.from(v.datagram, 'hex');
      const d = wire.decodeDatagram(buf);
      expect(d.type).toBe('signed');
      if (d.type !== 'signed') return;
      expect(d.payload).toEqual({ v: 1, keyFp: vectors.keys.keyFp, ...v.body });
      // the spec: signature = last 64 bytes, over everything before them
      expect(crypto.verify(null, buf.subarray(0, buf.length - 64), crypto.createPublicKey(edKey), buf.subarray(buf.length - 64))).toBe(
        true,
      );
      expect(d.publicKey.equals(edPub)).toBe(true);
    }
    const m = dg('mac (session beacon)');
    const buf = Buffer.from(m.datagram, 'hex');
    const d = wire.decodeDatagram(buf);
    expect(d.type).toBe('mac');
    if (d.type !== 'mac') return;
    expect(d.payload).toEqual({ v: 1, keyFp: vectors.keys.keyFp, ...m.body });
    const tag = crypto
      .createHmac('sha256', sessionKey)
      .update(buf.subarray(0, buf.length - 16))
      .digest()
      .subarray(0, 16);
    expect(tag.equals(buf.subarray(buf.length - 16))).toBe(true);
    expect(wire.checkMac(sessionKey, d.authed, d.tag)).toBe(true);
    const acc = Buffer.from(dg('accept').datagram, 'hex');
    const a = wire.decodeDatagram(acc);
    expect(a).toMatchObject({ type: 'accept', seq: 1001 });
    // the spec: an ACCEPT ends with HMAC-SHA256(session key, its first 60 bytes), first 16 bytes
    expect(acc).toHaveLength(76);
    const accTag = crypto.createHmac('sha256', sessionKey).update(acc.subarray(0, 60)).digest().subarray(0, 16);
    expect(accTag.equals(acc.subarray(60))).toBe(true);
    if (a.type === 'accept') expect(wire.checkMac(sessionKey, a.authed, a.tag)).toBe(true);
    // an untagged 60-byte ACCEPT (earlier releases) is not an ACCEPT: the agent keeps signing
    expect(() => wire.decodeDatagram(acc.subarray(0, 60))).toThrow(wire.WireError);
  });

  it('rejects every malformed vector', () => {
    for (const v of vectors.malformed) {
      expect(() => wire.decodeDatagram(Buffer.from(v.datagram, 'hex')), v.name).toThrow(wire.WireError);
    }
  });
});

describe('beacon wire format: codec', () => {
  const body = dg('signed, one-way (no session)').body;

  it('round-trips IPv4, IPv6 (RFC 5952 form) and v4-mapped addresses', () => {
    for (const [input, out] of [
      ['10.0.0.1', '10.0.0.1'],
      ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::ffff:10.1.2.3', '::ffff:a01:203'],
      ['fe80::1%eth0', 'fe80::1'],
    ]) {
      const b = wire.ipBytes(input!);
      expect(wire.ipString(b, 0, b.length as 4 | 16)).toBe(out);
    }
    for (const bad of ['1.2.3.256', '1::2::3', 'x', '1:2:3:4:5:6:7:8:9', '']) expect(() => wire.ipBytes(bad)).toThrow();
  });

  it('refuses to encode what it could not decode: control chars, long strings, too many items, bad seq', () => {
    expect(() => wire.encodeSigned({ ...body, name: 'a\u001b[2Jb' }, edKey, edPub)).toThrow(/control/);
    expect(() => wire.encodeSigned({ ...body, os: 'x'.repeat(65) }, edKey, edPub)).toThrow(/longer/);
    expect(() => wire.encodeSigned({ ...body, macs: Array(17).fill('52:54:00:00:00:01') }, edKey, edPub)).toThrow(/MACs/);
    expect(() => wire.encodeSigned({ ...body, seq: 0 }, edKey, edPub)).toThrow(/seq/);
    expect(() => wire.encodeSigned({ ...body, ts: NaN }, edKey, edPub)).toThrow(/ts/);
  });

  it('fits the largest possible beacon in 1,200 bytes', () => {
    const big = {
      ...body,
      name: 'n'.repeat(64),
      hostname: 'h'.repeat(64),
      os: 'o'.repeat(64),
      macs: Array.from({ length: 16 }, (_, i) => `52:54:00:00:00:${i.toString(16).padStart(2, '0')}`),
      ips: Array.from({ length: 32 }, (_, i) => `2001:db8:1:2:3:4:5:${i.toString(16)}`),
    };
    const b = wire.encodeSigned(big, edKey, edPub, crypto.randomBytes(32));
    expect(b.length).toBeLessThanOrEqual(wire.MAX_DATAGRAM);
    expect(wire.decodeDatagram(b).type).toBe('signed');
  });

  it('truncates UTF-8 on a character boundary', () => {
    expect(wire.truncateUtf8('ééé', 5)).toBe('éé');
  });
});
