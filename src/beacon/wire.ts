// The beacon wire codec: constants, encoding, decoding, keys, signatures and session MACs, for the listener and the
// guest agent alike. The agent reaches guests as one bundled file (dist/agent/billboard-beacon.js), so this module
// and everything it imports use nothing but `node:` builtins; an integration test checks the bundle.
// Spec: docs/beacon-protocol.md; keep the two in step.

import { createHash, createHmac, createPublicKey, generateKeyPairSync, hkdfSync, sign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { canonicalMac, canonicalUuid, keyFingerprint } from '../model/fingerprint.js';
import type { BeaconPayload } from '../model/types.js';

// ─── Wire constants ────────────────────────────────────────────────────────────────────────────

export const WIRE_MAGIC = 0x4242; // "BB"
export const WIRE_VERSION = 1;
export const MSG_SIGNED = 1; // agent → listener: beacon + Ed25519 signature (+ optional session hello)
export const MSG_MAC = 2; // agent → listener: beacon + session HMAC
export const MSG_ACCEPT = 3; // listener → agent: session accepted
export const MSG_REKEY = 4; // listener → agent: "I do not know that session, sign your next beacon"
export const MAX_DATAGRAM = 1200;
export const MAX_STR_BYTES = 64;
export const MAX_MACS = 16;
export const MAX_IPS = 32;
export const HEADER_BYTES = 85; // magic..keyFp
export const SIGNED_TRAILER_BYTES = 32 + 32 + 64; // ephemeral X25519 pub, Ed25519 pub, signature
export const MAC_TRAILER_BYTES = 8 + 16; // session id, truncated HMAC-SHA256
export const ACCEPT_BYTES = 76;
const ACCEPT_AUTHED_BYTES = 60; // everything before the tag
export const REKEY_BYTES = 12;
/** Routine beacons between full signatures on one session (the agent re-signs and re-keys after this many). */
export const DEFAULT_RESIGN_EVERY = 30;
const HKDF_INFO = Buffer.from('billboard-beacon/1 session', 'ascii');
const ZERO32 = Buffer.alloc(32);

/** The fields an agent claims; `v` and `keyFp` are derived by the codec. */
export type BeaconBody = Omit<BeaconPayload, 'v' | 'keyFp'>;

export class WireError extends Error {
  override name = 'WireError';
}

export type Decoded =
  | {
      type: 'signed';
      payload: BeaconPayload;
      /** raw 32-byte Ed25519 public key carried in the datagram */
      publicKey: Buffer;
      /** raw 32-byte X25519 ephemeral key, or undefined when the agent wants no session */
      ephemeral: Buffer | undefined;
      /** the bytes the signature covers */
      signed: Buffer;
      signature: Buffer;
    }
  | { type: 'mac'; payload: BeaconPayload; sessionId: Buffer; authed: Buffer; tag: Buffer }
  | { type: 'accept'; sessionId: Buffer; listenerEphemeral: Buffer; seq: number; ephemeralPrefix: Buffer; authed: Buffer; tag: Buffer }
  | { type: 'rekey'; sessionId: Buffer };

// ─── Key helpers ───────────────────────────────────────────────────────────────────────────────

// Raw public keys come from SPKI DER (its last 32 bytes), and a new pair gets its public half encoded by the
// generation job itself, never by a JWK export: on Node 20, exporting a freshly generated key as JWK can deadlock
// the thread for good (the export holds the key's mutex while it allocates; a GC that finalizes the generation job
// then waits on that mutex). The agent, the listener's verify workers and the benches all make ephemeral keys.

const SPKI_RAW_OFFSET = 12; // SPKI DER of an Ed25519/X25519 key = 12-byte header + 32-byte key

/** Raw 32-byte public key of an Ed25519 or X25519 KeyObject (public or private). */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(SPKI_RAW_OFFSET));
}

/** A new Ed25519 or X25519 pair: the private KeyObject and the raw 32-byte public key (see above for why). */
export function newKeyPair(kind: 'ed25519' | 'x25519'): { privateKey: KeyObject; publicKey: Buffer } {
  // (@types/node has no overload for a public encoding without a private one; Node accepts it)
  const pair = generateKeyPairSync(kind as 'ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' } } as never) as unknown;
  const { privateKey, publicKey } = pair as { privateKey: KeyObject; publicKey: Buffer };
  return { privateKey, publicKey: Buffer.from(publicKey.subarray(SPKI_RAW_OFFSET)) };
}

/** KeyObject from a raw 32-byte public key. Throws on a wrong length. */
export function publicKeyFromRaw(raw: Uint8Array, kind: 'ed25519' | 'x25519'): KeyObject {
  if (raw.length !== 32) throw new WireError(`${kind} public key must be 32 bytes`);
  const crv = kind === 'ed25519' ? 'Ed25519' : 'X25519';
  return createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** The key's fingerprint as the console shows it (model/fingerprint.ts keyFingerprint), from its raw bytes. */
export function fingerprintOfRaw(raw: Uint8Array): string {
  return keyFingerprint(Buffer.from(raw).toString('base64'));
}

/** Per-session MAC key: HKDF-SHA256(X25519 shared secret, salt = agentEph‖listenerEph, info = label‖sid‖edPub). */
export function deriveSessionKey(
  shared: Uint8Array,
  agentEphemeral: Uint8Array,
  listenerEphemeral: Uint8Array,
  sessionId: Uint8Array,
  edPublicKey: Uint8Array,
): Buffer {
  const salt = Buffer.concat([agentEphemeral, listenerEphemeral]);
  const info = Buffer.concat([HKDF_INFO, sessionId, edPublicKey]);
  return Buffer.from(hkdfSync('sha256', shared, salt, info, 32));
}

/** First 16 bytes of HMAC-SHA256(key, bytes). */
export function macTag(key: Uint8Array | KeyObject, bytes: Uint8Array): Buffer {
  return createHmac('sha256', key).update(bytes).digest().subarray(0, 16);
}

// ─── Encoding ──────────────────────────────────────────────────────────────────────────────────

/** The 16 bytes of a UUID in text form; `what` names it in the error. */
export function uuidBytes(s: string, what: string): Buffer {
  const uuid = canonicalUuid(s);
  if (!uuid) throw new WireError(`${what} is not a UUID: ${JSON.stringify(s)}`);
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function uuidString(b: Buffer, off: number): string {
  const h = b.toString('hex', off, off + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Truncate to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  let out = '';
  let n = 0;
  for (const ch of s) {
    const len = Buffer.byteLength(ch);
    if (n + len > max) break;
    out += ch;
    n += len;
  }
  return out;
}

/** C0, DEL and C1 controls: no string on the wire holds one (docs/beacon-protocol.md §2) */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');

/** Every control character replaced by a space, so text the guest reports (a tab in PRETTY_NAME) still encodes. */
export function spaceControls(s: string): string {
  return s.replace(CONTROL_ALL, ' ');
}
function strBytes(s: string, what: string): Buffer {
  if (CONTROL.test(s)) throw new WireError(`${what} contains control characters`);
  const b = Buffer.from(s, 'utf8');
  if (b.length > MAX_STR_BYTES) throw new WireError(`${what} is longer than ${MAX_STR_BYTES} bytes`);
  return b;
}

/** The 6 bytes of a MAC address (colons or dashes). */
export function macBytes(s: string): Buffer {
  const mac = canonicalMac(s);
  if (!mac) throw new WireError(`not a MAC address: ${JSON.stringify(s)}`);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

/** 4 or 16 bytes of an IPv4/IPv6 text address (zone ids dropped). */
export function ipBytes(s: string): Buffer {
  const t = s.trim().split('%')[0]!;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.every((p) => p <= 255)) return Buffer.from(parts);
    throw new WireError(`not an IP address: ${JSON.stringify(s)}`);
  }
  if (!/^[0-9a-fA-F:.]+$/.test(t) || !t.includes(':')) throw new WireError(`not an IP address: ${JSON.stringify(s)}`);
  let head = t;
  let tail4: Buffer | undefined;
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    tail4 = ipBytes(t.slice(lastColon + 1));
    head = t.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) throw new WireError(`not an IP address: ${JSON.stringify(s)}`);
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - left.length - right.length : 0;
  const groups = [...left, ...Array<string>(Math.max(fill, 0)).fill('0'), ...right];
  if (groups.length !== 8 || (halves.length === 2 && fill < 1) || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
    throw new WireError(`not an IP address: ${JSON.stringify(s)}`);
  }
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail4) tail4.copy(out, 12);
  return out;
}

/** Text form of 4 or 16 address bytes (IPv6 in RFC 5952 compressed form). */
export function ipString(b: Buffer, off: number, len: 4 | 16): string {
  if (len === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(off + i * 2));
  // longest run (≥ 2) of zero groups becomes "::"
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

function checkSafeInt(n: number, what: string, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new WireError(`${what} must be an integer ≥ ${min}`);
}

/** Bytes of the common beacon part: header (through keyFp) and the variable body. */
export function encodeBeaconCore(type: number, body: BeaconBody, edPublicKey: Uint8Array): Buffer {
  checkSafeInt(body.seq, 'seq', 1);
  checkSafeInt(body.ts, 'ts', 0);
  const name = strBytes(body.name, 'name');
  if (name.length === 0) throw new WireError('name must not be empty');
  const host = strBytes(body.hostname, 'hostname');
  const osb = strBytes(body.os, 'os');
  if (body.macs.length > MAX_MACS) throw new WireError(`at most ${MAX_MACS} MACs`);
  if (body.ips.length > MAX_IPS) throw new WireError(`at most ${MAX_IPS} IPs`);
  const macs = body.macs.map(macBytes);
  const ips = body.ips.map(ipBytes);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt16BE(WIRE_MAGIC, 0);
  head[2] = WIRE_VERSION;
  head[3] = type;
  head[4] = 0; // flags, reserved
  head.writeBigUInt64BE(BigInt(body.seq), 5);
  head.writeBigUInt64BE(BigInt(body.ts), 13);
  uuidBytes(body.uuid, 'uuid').copy(head, 21);
  uuidBytes(body.bootId, 'boot id').copy(head, 37);
  createHash('sha256').update(edPublicKey).digest().copy(head, 53);
  parts.push(head);
  for (const s of [name, host, osb]) parts.push(Buffer.from([s.length]), s);
  parts.push(Buffer.from([macs.length]), ...macs);
  parts.push(Buffer.from([ips.length]));
  for (const ip of ips) parts.push(Buffer.from([ip.length === 4 ? 4 : 6]), ip);
  return Buffer.concat(parts);
}

/** A SIGNED datagram. `ephemeral` is the agent's X25519 public key for a session, or undefined for one-way mode. */
export function encodeSigned(body: BeaconBody, edPrivateKey: KeyObject, edPublicKey: Uint8Array, ephemeral?: Uint8Array): Buffer {
  const core = encodeBeaconCore(MSG_SIGNED, body, edPublicKey);
  const signed = Buffer.concat([core, ephemeral ?? ZERO32, edPublicKey]);
  const out = Buffer.concat([signed, sign(null, signed, edPrivateKey)]);
  if (out.length > MAX_DATAGRAM) throw new WireError(`beacon is ${out.length} bytes, over ${MAX_DATAGRAM}`);
  return out;
}

/** A MAC datagram authenticated with a session key. */
export function encodeMac(body: BeaconBody, edPublicKey: Uint8Array, sessionId: Uint8Array, key: Uint8Array): Buffer {
  const core = encodeBeaconCore(MSG_MAC, body, edPublicKey);
  const authed = Buffer.concat([core, sessionId]);
  const out = Buffer.concat([authed, macTag(key, authed)]);
  if (out.length > MAX_DATAGRAM) throw new WireError(`beacon is ${out.length} bytes, over ${MAX_DATAGRAM}`);
  return out;
}

/**
 * An ACCEPT: the session id, the listener's ephemeral key, the hello it answers, and a tag under the new session
 * key, so the agent takes only an answer from whoever holds the private half of that ephemeral key.
 */
export function encodeAccept(
  sessionId: Uint8Array,
  listenerEphemeral: Uint8Array,
  seq: number,
  agentEphemeral: Uint8Array,
  sessionKey: Uint8Array,
): Buffer {
  const b = Buffer.alloc(ACCEPT_BYTES);
  b.writeUInt16BE(WIRE_MAGIC, 0);
  b[2] = WIRE_VERSION;
  b[3] = MSG_ACCEPT;
  Buffer.from(sessionId).copy(b, 4);
  Buffer.from(listenerEphemeral).copy(b, 12);
  b.writeBigUInt64BE(BigInt(seq), 44);
  Buffer.from(agentEphemeral).copy(b, 52, 0, 8);
  macTag(sessionKey, b.subarray(0, ACCEPT_AUTHED_BYTES)).copy(b, ACCEPT_AUTHED_BYTES);
  return b;
}

export function encodeRekey(sessionId: Uint8Array): Buffer {
  const b = Buffer.alloc(REKEY_BYTES);
  b.writeUInt16BE(WIRE_MAGIC, 0);
  b[2] = WIRE_VERSION;
  b[3] = MSG_REKEY;
  Buffer.from(sessionId).copy(b, 4);
  return b;
}

// ─── Decoding ──────────────────────────────────────────────────────────────────────────────────

const utf8 = new TextDecoder('utf-8', { fatal: true });

function need(buf: Buffer, off: number, n: number): void {
  if (off + n > buf.length) throw new WireError('truncated');
}

function readU64(buf: Buffer, off: number, what: string): number {
  const v = buf.readBigUInt64BE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError(`${what} out of range`);
  return Number(v);
}

function readStr(buf: Buffer, off: number, what: string): [string, number] {
  need(buf, off, 1);
  const len = buf[off]!;
  if (len > MAX_STR_BYTES) throw new WireError(`${what} too long`);
  need(buf, off + 1, len);
  let s: string;
  try {
    s = utf8.decode(buf.subarray(off + 1, off + 1 + len));
  } catch {
    throw new WireError(`${what} is not UTF-8`);
  }
  if (CONTROL.test(s)) throw new WireError(`${what} contains control characters`);
  return [s, off + 1 + len];
}

/**
 * Parse any billboard-beacon datagram. Throws WireError on anything malformed: wrong magic/version/type,
 * truncated or trailing bytes, bad UTF-8, control characters, over-long arrays, out-of-range numbers.
 * Does NOT check signatures or MACs.
 */
export function decodeDatagram(buf: Buffer): Decoded {
  if (buf.length > MAX_DATAGRAM) throw new WireError('oversized');
  if (buf.length < 4) throw new WireError('truncated');
  if (buf.readUInt16BE(0) !== WIRE_MAGIC) throw new WireError('bad magic');
  if (buf[2] !== WIRE_VERSION) throw new WireError(`unsupported version ${buf[2]}`);
  const type = buf[3];
  if (type === MSG_ACCEPT) return decodeAccept(buf);
  if (type === MSG_REKEY) {
    if (buf.length !== REKEY_BYTES) throw new WireError('rekey has the wrong length');
    return { type: 'rekey', sessionId: buf.subarray(4, 12) };
  }
  if (type !== MSG_SIGNED && type !== MSG_MAC) throw new WireError(`unknown message type ${type}`);
  const [payload, off] = decodeBeaconCore(buf);
  if (type === MSG_SIGNED) {
    if (buf.length !== off + SIGNED_TRAILER_BYTES) throw new WireError('signed beacon has the wrong length');
    const eph = buf.subarray(off, off + 32);
    const publicKey = buf.subarray(off + 32, off + 64);
    if (!createHash('sha256').update(publicKey).digest().equals(buf.subarray(53, 85))) {
      throw new WireError('key fingerprint does not match the carried key');
    }
    return {
      type: 'signed',
      payload,
      publicKey,
      ephemeral: eph.equals(ZERO32) ? undefined : eph,
      signed: buf.subarray(0, off + 64),
      signature: buf.subarray(off + 64),
    };
  }
  if (buf.length !== off + MAC_TRAILER_BYTES) throw new WireError('mac beacon has the wrong length');
  return { type: 'mac', payload, sessionId: buf.subarray(off, off + 8), authed: buf.subarray(0, off + 8), tag: buf.subarray(off + 8) };
}

function decodeAccept(buf: Buffer): Decoded {
  if (buf.length !== ACCEPT_BYTES) throw new WireError('accept has the wrong length');
  return {
    type: 'accept',
    sessionId: buf.subarray(4, 12),
    listenerEphemeral: buf.subarray(12, 44),
    seq: readU64(buf, 44, 'seq'),
    ephemeralPrefix: buf.subarray(52, 60),
    authed: buf.subarray(0, ACCEPT_AUTHED_BYTES),
    tag: buf.subarray(ACCEPT_AUTHED_BYTES),
  };
}

/** The header and body of a SIGNED or MAC beacon (the inverse of encodeBeaconCore), and the offset after them. */
function decodeBeaconCore(buf: Buffer): [BeaconPayload, number] {
  need(buf, 0, HEADER_BYTES);
  if (buf[4] !== 0) throw new WireError('reserved flags set');
  const seq = readU64(buf, 5, 'seq');
  if (seq < 1) throw new WireError('seq must be ≥ 1');
  const ts = readU64(buf, 13, 'ts');
  const uuid = uuidString(buf, 21);
  const bootId = uuidString(buf, 37);
  const keyFp = 'SHA256:' + buf.toString('base64', 53, 85).replace(/=+$/, '');
  const [name, afterName] = readStr(buf, HEADER_BYTES, 'name');
  if (name.length === 0) throw new WireError('empty name');
  const [hostname, afterHost] = readStr(buf, afterName, 'hostname');
  const [osName, afterOs] = readStr(buf, afterHost, 'os');
  const [macs, afterMacs] = readMacs(buf, afterOs);
  const [ips, off] = readIps(buf, afterMacs);
  return [{ v: WIRE_VERSION, uuid, name, macs, ips, os: osName, hostname, bootId, seq, ts, keyFp }, off];
}

function readMacs(buf: Buffer, off: number): [string[], number] {
  need(buf, off, 1);
  const nMacs = buf[off++]!;
  if (nMacs > MAX_MACS) throw new WireError('too many MACs');
  need(buf, off, nMacs * 6);
  const macs: string[] = [];
  for (let i = 0; i < nMacs; i++, off += 6) {
    const h = buf.toString('hex', off, off + 6);
    macs.push(`${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`);
  }
  return [macs, off];
}

function readIps(buf: Buffer, off: number): [string[], number] {
  need(buf, off, 1);
  const nIps = buf[off++]!;
  if (nIps > MAX_IPS) throw new WireError('too many IPs');
  const ips: string[] = [];
  for (let i = 0; i < nIps; i++) {
    need(buf, off, 1);
    const fam = buf[off++];
    if (fam !== 4 && fam !== 6) throw new WireError('bad IP family');
    const len = fam === 4 ? 4 : 16;
    need(buf, off, len);
    ips.push(ipString(buf, off, len));
    off += len;
  }
  return [ips, off];
}

/** Constant-time check of a MAC beacon's tag under `key`. */
export function checkMac(key: Uint8Array | KeyObject, authed: Uint8Array, tag: Uint8Array): boolean {
  const want = macTag(key, authed);
  return tag.length === want.length && timingSafeEqual(want, tag);
}
