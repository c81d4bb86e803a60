// billboard-beacon: the guest agent, and the wire codec it shares with the listener.
//
// This file must stay SELF-CONTAINED: it is copied alone into a guest that has Node, so it imports nothing but
// `node:` builtins (type-only imports vanish at compile time). The listener imports the codec from here through
// ./wire.js. The protocol is specified in docs/beacon-protocol.md; keep the two in step.

import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

// Why no JWK export of a freshly generated key: on Node 20, `generateKeyPairSync(...)` followed by
// `key.export({ format: 'jwk' })` can deadlock the thread for good. The JWK export holds the key's mutex while it
// allocates JS strings; if that allocation triggers a GC which finalizes the (already unreachable) key-generation
// job sharing the same key data, the job's destructor waits on that mutex (seen with gdb: futex wait in
// ~KeyGenJob under ExportJWKEdKey). The process then sleeps forever: no crash, no exit message. The bench's load
// generator did exactly this ("vanished"), and the agent and the listener's verify workers make ephemeral keys
// the same way. So: raw public keys come from SPKI DER (the last 32 bytes), and new pairs get their public half
// encoded by the generation job itself.

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

/** Same value as model/fingerprint.ts keyFingerprint (duplicated here so the agent stays one file). */
export function fingerprintOfRaw(raw: Uint8Array): string {
  return 'SHA256:' + createHash('sha256').update(raw).digest('base64').replace(/=+$/, '');
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

function uuidBytes(s: string, what: string): Buffer {
  const hex = s.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(hex)) {
    throw new WireError(`${what} is not a UUID: ${JSON.stringify(s)}`);
  }
  return Buffer.from(hex.replace(/-/g, ''), 'hex');
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

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;
/** control, bidi and zero-width characters: src/model/text.ts hasUnsafeChars, copied (this file imports nothing) */
// eslint-disable-next-line no-control-regex, no-misleading-character-class
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]/g;
const UNSAFE = new RegExp(UNSAFE_ALL.source);
const UUID_TEMPLATE = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx';

/**
 * Why a VM name is refused, or undefined: the rule of nameProblem in src/model/text.ts, which the listener
 * applies (a beacon whose name breaks it is malformed). Copied because this file imports nothing; a unit test
 * checks the two agree.
 */
export function agentNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'a name cannot be empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_STR_BYTES) return `a name is at most ${MAX_STR_BYTES} bytes`;
  if (UNSAFE.test(name)) return 'a name cannot hold control, escape, bidi or zero-width characters';
  if (/["'`\\]/.test(name)) return 'a name cannot hold quotes or backslashes';
  if (name.trim() !== name) return 'a name cannot start or end with a space';
  if (looksLikeUuidRef(name)) return 'a name cannot look like a UUID or a UUID prefix';
  return undefined;
}

function looksLikeUuidRef(name: string): boolean {
  const s = name.trim().toLowerCase();
  if (!s) return false;
  if (/^[0-9a-f]{32}$/.test(s)) return true;
  if (s.length > UUID_TEMPLATE.length) return false;
  for (let i = 0; i < s.length; i++) {
    if (UUID_TEMPLATE[i] === '-' ? s[i] !== '-' : !/[0-9a-f]/.test(s[i]!)) return false;
  }
  return true;
}

/**
 * The name to beacon when none was given: the hostname, with what the name rule refuses taken out; "vm-" in front
 * when what is left reads as a UUID prefix (a hostname like "cafe"), or "vm-" and the UUID's first group when
 * nothing usable is left.
 */
export function defaultName(hostname: string, uuid: string): string {
  const cleaned = truncateUtf8(hostname.replace(UNSAFE_ALL, '').replace(/["'`\\]/g, '').trim(), MAX_STR_BYTES).trim();
  for (const n of [cleaned, truncateUtf8(`vm-${cleaned}`, MAX_STR_BYTES).trim()]) {
    if (cleaned && agentNameProblem(n) === undefined) return n;
  }
  return `vm-${uuid.slice(0, 8).toLowerCase()}`;
}

function strBytes(s: string, what: string): Buffer {
  if (CONTROL.test(s)) throw new WireError(`${what} contains control characters`);
  const b = Buffer.from(s, 'utf8');
  if (b.length > MAX_STR_BYTES) throw new WireError(`${what} is longer than ${MAX_STR_BYTES} bytes`);
  return b;
}

function macBytes(s: string): Buffer {
  const t = s.trim().toLowerCase().replace(/-/g, ':');
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(t)) throw new WireError(`not a MAC address: ${JSON.stringify(s)}`);
  return Buffer.from(t.replace(/:/g, ''), 'hex');
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
  for (let i = 0; i < 8; ) {
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
export function encodeSigned(
  body: BeaconBody,
  edPrivateKey: KeyObject,
  edPublicKey: Uint8Array,
  ephemeral?: Uint8Array,
): Buffer {
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
  if (type === MSG_ACCEPT) {
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
  if (type === MSG_REKEY) {
    if (buf.length !== REKEY_BYTES) throw new WireError('rekey has the wrong length');
    return { type: 'rekey', sessionId: buf.subarray(4, 12) };
  }
  if (type !== MSG_SIGNED && type !== MSG_MAC) throw new WireError(`unknown message type ${type}`);
  need(buf, 0, HEADER_BYTES);
  if (buf[4] !== 0) throw new WireError('reserved flags set');
  const seq = readU64(buf, 5, 'seq');
  if (seq < 1) throw new WireError('seq must be ≥ 1');
  const ts = readU64(buf, 13, 'ts');
  const uuid = uuidString(buf, 21);
  const bootId = uuidString(buf, 37);
  const keyFp = 'SHA256:' + buf.toString('base64', 53, 85).replace(/=+$/, '');
  let off = HEADER_BYTES;
  let name: string, hostname: string, osName: string;
  [name, off] = readStr(buf, off, 'name');
  if (name.length === 0) throw new WireError('empty name');
  [hostname, off] = readStr(buf, off, 'hostname');
  [osName, off] = readStr(buf, off, 'os');
  need(buf, off, 1);
  const nMacs = buf[off++]!;
  if (nMacs > MAX_MACS) throw new WireError('too many MACs');
  need(buf, off, nMacs * 6);
  const macs: string[] = [];
  for (let i = 0; i < nMacs; i++, off += 6) {
    const h = buf.toString('hex', off, off + 6);
    macs.push(`${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`);
  }
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
  const payload: BeaconPayload = { v: WIRE_VERSION, uuid, name, macs, ips, os: osName, hostname, bootId, seq, ts, keyFp };
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

/** Constant-time check of a MAC beacon's tag under `key`. */
export function checkMac(key: Uint8Array | KeyObject, authed: Uint8Array, tag: Uint8Array): boolean {
  const want = macTag(key, authed);
  return tag.length === want.length && timingSafeEqual(want, tag);
}

// ─── Agent: sequence numbers that survive restarts ─────────────────────────────────────────────

/**
 * Refuse a file that someone else could have written: owned by another user, or writable by group or others.
 * Whoever can write the state file can rewind the sequence; whoever can write the key file can swap the key.
 */
export function checkOwnFile(st: fs.Stats, file: string, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new Error(`${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing it`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new Error(`${what} ${file} is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}): refusing it (chmod 600 it)`);
  }
}

/**
 * Write-ahead sequence reservation. The file holds the highest seq this agent may have used; before using a seq
 * above it, the agent reserves a further block (write a new temp file, fsync, rename, fsync dir). After a crash
 * the agent resumes above the reservation, so a seq is never reused, at the cost of a gap. The temp file has a
 * random name and is created exclusively without following links (mode 0600), so nothing planted in the folder
 * is written through or inherited.
 */
export class SeqStore {
  private seq = 0;
  private reserved = 0;
  constructor(
    readonly file: string,
    private readonly block = 1000,
  ) {}

  open(): void {
    let text: string | undefined;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new Error(`state file ${this.file} is a symbolic link: refusing it`);
      if (code !== 'ENOENT') throw new Error(`cannot read state file ${this.file}: ${(e as Error).message}`);
    }
    if (fd !== undefined) {
      try {
        checkOwnFile(fs.fstatSync(fd), this.file, 'state file');
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    }
    if (text !== undefined) {
      let r: unknown;
      try {
        r = (JSON.parse(text) as { reserved?: unknown }).reserved;
      } catch {
        r = undefined;
      }
      if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) {
        throw new Error(`state file ${this.file} is corrupt; remove it only if no other copy of this agent ran with this key`);
      }
      this.seq = r;
      this.reserved = r;
    }
  }

  next(): number {
    if (this.seq >= Number.MAX_SAFE_INTEGER) throw new Error(`state file ${this.file}: sequence numbers are used up (2^53-1); make a new key`);
    if (this.seq >= this.reserved) this.reserve(Math.min(this.seq + this.block, Number.MAX_SAFE_INTEGER));
    return ++this.seq;
  }

  private reserve(upto: number): void {
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${randomBytes(8).toString('hex')}.tmp`);
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    const fd = fs.openSync(tmp, flags, 0o600);
    try {
      try {
        fs.fchmodSync(fd, 0o600); // the umask may have narrowed it, never widened; make it exact
        fs.writeSync(fd, JSON.stringify({ v: 1, reserved: upto }) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    try {
      const dfd = fs.openSync(path.dirname(this.file), 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // some filesystems refuse fsync on a directory; the rename is still ordered after the data fsync
    }
    this.reserved = upto;
  }
}

// ─── Agent: facts read from the guest ──────────────────────────────────────────────────────────

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function guestOsName(): string {
  const rel = readTrim('/etc/os-release');
  const m = rel ? /^PRETTY_NAME=(.*)$/m.exec(rel) : null;
  if (m) return m[1]!.trim().replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  return `${os.type()} ${os.release()}`;
}

export function guestInterfaces(): { macs: string[]; ips: string[] } {
  const macs = new Set<string>();
  const ips = new Set<string>();
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      if (a.mac && a.mac !== '00:00:00:00:00:00') macs.add(a.mac.toLowerCase());
      ips.add(a.address.split('%')[0]!);
    }
  }
  return { macs: [...macs].slice(0, MAX_MACS), ips: [...ips].slice(0, MAX_IPS) };
}

// ─── Agent: argv ───────────────────────────────────────────────────────────────────────────────

const HELP = `billboard-beacon: the billboard guest agent. It proves this VM is alive and who it is by sending
signed UDP beacons to the billboard console.

Usage:
  billboard-beacon keygen --out FILE
      Make an Ed25519 agent key. FILE gets the private key (mode 0600, PEM); the public key is printed
      (base64, raw 32 bytes) with its fingerprint. Give the public key to the operator:
        billboard register NAME --uuid UUID --pubkey KEY      (or approve the VM when its first beacon arrives)

  billboard-beacon --to HOST:PORT --key FILE [options]
      Send beacons until SIGINT/SIGTERM (or --count beacons). Options:
        --uuid UUID        VM identity      (default: /sys/class/dmi/id/product_uuid, needs root)
        --name NAME        VM name          (default: the hostname)
        --mac MAC          repeatable       (default: every non-loopback interface)
        --ip IP            repeatable       (default: every non-loopback address)
        --os OS                             (default: PRETTY_NAME from /etc/os-release)
        --hostname NAME                     (default: os.hostname())
        --boot-id UUID                      (default: /proc/sys/kernel/random/boot_id)
        --interval S       seconds between beacons, jittered ±10% (default 5)
        --count N          stop after N beacons (default: run forever)
        --state FILE       where the sequence number is kept (default: KEYFILE.seq)
        --one-way          sign every beacon; never set up a session (for networks that drop replies)
        --resign-every N   full signature at least every N beacons on a session (default ${DEFAULT_RESIGN_EVERY})
        --verbose          one stderr line per beacon

Example:
  billboard-beacon keygen --out /etc/billboard/agent.key
  billboard-beacon --to 10.0.0.1:7447 --key /etc/billboard/agent.key --interval 5

Exit codes: 0 done (or stopped by a signal), 1 runtime error, 2 usage error.
Protocol: docs/beacon-protocol.md in the billboard repository.
`;

class UsageError extends Error {}

interface AgentArgs {
  to: string;
  key: string;
  uuid?: string;
  name?: string;
  macs: string[];
  ips: string[];
  os?: string;
  hostname?: string;
  bootId?: string;
  intervalS: number;
  count?: number;
  state?: string;
  oneWay: boolean;
  resignEvery: number;
  verbose: boolean;
}

const VALUE_FLAGS = new Set(['--to', '--key', '--uuid', '--name', '--mac', '--ip', '--os', '--hostname', '--boot-id', '--interval', '--count', '--state', '--resign-every', '--out']);
const BOOL_FLAGS = new Set(['--one-way', '--verbose', '--help', '-h']);

function parseFlags(args: string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i]!;
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (BOOL_FLAGS.has(a)) {
      if (value !== undefined) throw new UsageError(`${a} takes no value`);
      flags.set(a, ['']);
      continue;
    }
    if (!VALUE_FLAGS.has(a)) throw new UsageError(`unknown option ${JSON.stringify(a)}`);
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || (value.startsWith('--') && value.length > 2)) throw new UsageError(`${a} needs a value`);
    }
    flags.set(a, [...(flags.get(a) ?? []), value]);
  }
  return flags;
}

function one(flags: Map<string, string[]>, name: string): string | undefined {
  const v = flags.get(name);
  if (v && v.length > 1) throw new UsageError(`${name} given more than once`);
  return v?.[0];
}

function positiveNumber(s: string | undefined, name: string, integer: boolean): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) {
    throw new UsageError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(s)}`);
  }
  return n;
}

function parseAgentArgs(flags: Map<string, string[]>): AgentArgs {
  const to = one(flags, '--to');
  const key = one(flags, '--key');
  if (!to) throw new UsageError('--to HOST:PORT is required');
  if (!key) throw new UsageError('--key FILE is required (make one with: billboard-beacon keygen --out FILE)');
  if (flags.has('--out')) throw new UsageError('--out belongs to keygen');
  const args: AgentArgs = {
    to,
    key,
    uuid: one(flags, '--uuid'),
    name: one(flags, '--name'),
    macs: flags.get('--mac') ?? [],
    ips: flags.get('--ip') ?? [],
    os: one(flags, '--os'),
    hostname: one(flags, '--hostname'),
    bootId: one(flags, '--boot-id'),
    intervalS: positiveNumber(one(flags, '--interval'), '--interval', false) ?? 5,
    count: positiveNumber(one(flags, '--count'), '--count', true),
    state: one(flags, '--state'),
    oneWay: flags.has('--one-way'),
    resignEvery: positiveNumber(one(flags, '--resign-every'), '--resign-every', true) ?? DEFAULT_RESIGN_EVERY,
    verbose: flags.has('--verbose'),
  };
  if (args.intervalS < 0.01 || args.intervalS > 86400) throw new UsageError('--interval must be between 0.01 and 86400 seconds');
  for (const m of args.macs) macBytes(m); // WireError → usage
  for (const ip of args.ips) ipBytes(ip);
  return args;
}

/** "host:port", "[v6]:port" → parts. */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--to must be HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1]!, port };
}

// ─── Agent: keygen ─────────────────────────────────────────────────────────────────────────────

function keygen(out: string): number {
  const { privateKey, publicKey: raw } = newKeyPair('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  let fd: number;
  try {
    fd = fs.openSync(out, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    process.stderr.write(`billboard-beacon: cannot create ${out}: ${code === 'EEXIST' ? 'file exists (refusing to overwrite a key)' : (e as Error).message}\n`);
    return 1;
  }
  try {
    fs.fchmodSync(fd, 0o600); // the umask may have narrowed it, never widened; make it exact
    fs.writeSync(fd, pem);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  process.stdout.write(`public key:  ${raw.toString('base64')}\nfingerprint: ${fingerprintOfRaw(raw)}\n`);
  return 0;
}

// ─── Agent: the beacon loop ────────────────────────────────────────────────────────────────────

interface Session {
  id: Buffer;
  key: Buffer;
  used: number;
}

interface PendingHello {
  seq: number;
  privateKey: KeyObject;
  publicKey: Buffer;
  /** the first authenticated ACCEPT for this hello */
  answer?: Session;
  /** a second, different authenticated ACCEPT came too */
  conflict: boolean;
}

/**
 * The agent's side of the handshake (docs/beacon-protocol.md §4). An ACCEPT counts only if its tag verifies under
 * the session key it implies, so it comes from whoever holds the private half of the listener ephemeral key it
 * names; echoing the agent's ephemeral key (sent in clear) is not enough. The agent takes the answer at its next
 * beacon: if two different authenticated ACCEPTs answered one hello by then (someone who sees the hello raced the
 * listener with a key exchange of its own), it trusts neither, signs, and starts a new hello.
 */
export class AgentSessions {
  private session: Session | undefined;
  private pending: PendingHello | undefined;
  /** hellos voided by conflicting ACCEPTs */
  conflicts = 0;

  constructor(
    private readonly edPublic: Buffer,
    private readonly oneWay: boolean,
    private readonly resignEvery: number,
  ) {}

  /** A datagram from the listener's address. */
  onReply(d: Decoded): void {
    if (d.type === 'accept') this.onAccept(d);
    else if (d.type === 'rekey' && this.session && d.sessionId.equals(this.session.id)) this.session = undefined;
  }

  private onAccept(d: Extract<Decoded, { type: 'accept' }>): void {
    const p = this.pending;
    if (!p || d.seq < p.seq || !d.ephemeralPrefix.equals(p.publicKey.subarray(0, 8))) return;
    let key: Buffer;
    try {
      const shared = diffieHellman({ privateKey: p.privateKey, publicKey: publicKeyFromRaw(d.listenerEphemeral, 'x25519') });
      key = deriveSessionKey(shared, p.publicKey, d.listenerEphemeral, d.sessionId, this.edPublic);
    } catch {
      return; // a low-order point or garbage
    }
    if (!checkMac(key, d.authed, d.tag)) return;
    if (!p.answer) p.answer = { id: Buffer.from(d.sessionId), key, used: 0 };
    else if (!p.answer.id.equals(d.sessionId) || !p.answer.key.equals(key)) p.conflict = true;
  }

  /** How to send the beacon numbered `seq`: under a session (MAC), or signed with this ephemeral key (or none). */
  next(seq: number): { mac: Session } | { ephemeral: Buffer | undefined; conflict?: true } {
    const p = this.pending;
    let conflict = false;
    if (p?.answer) {
      this.pending = undefined;
      if (p.conflict) {
        conflict = true;
        this.conflicts++;
      } else this.session = p.answer;
    }
    if (this.session && this.session.used < this.resignEvery) {
      this.session.used++;
      return { mac: this.session };
    }
    this.session = undefined;
    if (!this.oneWay && !this.pending) {
      // one ephemeral key per handshake: repeated hellos carry it until an ACCEPT is taken, so a slow answer to an
      // earlier hello still completes the exchange
      const kp = newKeyPair('x25519');
      this.pending = { seq, privateKey: kp.privateKey, publicKey: kp.publicKey, conflict: false };
    }
    return conflict ? { ephemeral: this.pending?.publicKey, conflict: true } : { ephemeral: this.pending?.publicKey };
  }
}

function loadPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd);
      checkOwnFile(st, file, 'key file');
      if ((st.mode & 0o044) !== 0) process.stderr.write(`billboard-beacon: warning: ${file} is readable by others (chmod 600 it)\n`);
      pem = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e; // our own refusal, already one clear line
    throw new Error(`cannot read key ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`${file} is not a PEM private key (make one with: billboard-beacon keygen --out FILE)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} holds a ${key.asymmetricKeyType} key; an Ed25519 key is needed`);
  return key;
}

/** Who this guest says it is: flags first, then what the guest itself reports. */
function guestIdentity(a: AgentArgs): { uuid: string; bootId: string; hostname: string; osName: string; name: string } {
  const uuid = a.uuid ?? readTrim('/sys/class/dmi/id/product_uuid');
  if (!uuid) throw new UsageError('--uuid is required: /sys/class/dmi/id/product_uuid is not readable here');
  uuidBytes(uuid, '--uuid');
  const bootId = a.bootId ?? readTrim('/proc/sys/kernel/random/boot_id') ?? randomUUID();
  uuidBytes(bootId, '--boot-id');
  // controls become spaces (every one of them: a tab in PRETTY_NAME must not stop the agent)
  const hostname = truncateUtf8((a.hostname ?? os.hostname()).replace(CONTROL_ALL, ' '), MAX_STR_BYTES);
  const osName = truncateUtf8((a.os ?? guestOsName()).replace(CONTROL_ALL, ' '), MAX_STR_BYTES);
  if (a.name !== undefined) {
    const why = agentNameProblem(a.name);
    if (why) throw new UsageError(`--name ${JSON.stringify(a.name)} is refused: ${why}`);
  }
  const name = a.name ?? defaultName(hostname, uuid);
  if (a.name === undefined && name !== hostname) {
    process.stderr.write(`billboard-beacon: the hostname ${JSON.stringify(hostname)} is not a usable name; beaconing as ${JSON.stringify(name)} (set --name)\n`);
  }
  return { uuid: uuid.toLowerCase(), bootId: bootId.toLowerCase(), hostname, osName, name };
}

async function openSocket(host: string, verbose: boolean): Promise<{ sock: dgram.Socket; address: string }> {
  let target: { address: string; family: number };
  try {
    target = await lookup(host);
  } catch (e) {
    throw new Error(`cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', (e) => {
    if (verbose) process.stderr.write(`billboard-beacon: socket: ${e.message}\n`);
  });
  return { sock, address: target.address };
}

async function runAgent(a: AgentArgs): Promise<number> {
  const { host, port } = parseHostPort(a.to);
  const edPrivate = loadPrivateKey(a.key);
  const edPublic = rawPublicKey(edPrivate);
  const me = guestIdentity(a);
  const store = new SeqStore(a.state ?? `${a.key}.seq`);
  store.open();
  const { sock, address } = await openSocket(host, a.verbose);

  const sessions = new AgentSessions(edPublic, a.oneWay, a.resignEvery);
  sock.on('message', (msg, rinfo) => {
    if (rinfo.address !== address || rinfo.port !== port) return; // only the console answers
    let d: Decoded;
    try {
      d = decodeDatagram(msg);
    } catch {
      return;
    }
    sessions.onReply(d);
  });

  const staticIfaces = a.macs.length > 0 || a.ips.length > 0;
  const sendOne = (): void => {
    const ifaces = staticIfaces ? { macs: a.macs, ips: a.ips } : guestInterfaces();
    const body: BeaconBody = {
      uuid: me.uuid,
      name: me.name,
      macs: ifaces.macs,
      ips: ifaces.ips,
      os: me.osName,
      hostname: me.hostname,
      bootId: me.bootId,
      seq: store.next(),
      ts: Date.now(),
    };
    const how = sessions.next(body.seq);
    if ('conflict' in how && (sessions.conflicts === 1 || a.verbose)) {
      process.stderr.write('billboard-beacon: warning: two different ACCEPTs answered one hello (a spoofed answer?); signing, new hello\n');
    }
    const dgramBytes = 'mac' in how ? encodeMac(body, edPublic, how.mac.id, how.mac.key) : encodeSigned(body, edPrivate, edPublic, how.ephemeral);
    sock.send(dgramBytes, port, address);
    if (a.verbose) process.stderr.write(`billboard-beacon: seq ${body.seq} ${'mac' in how ? 'mac' : 'signed'} ${dgramBytes.length} bytes\n`);
  };

  process.stderr.write(`billboard-beacon: ${me.name} (${me.uuid}, ${fingerprintOfRaw(edPublic)}) → ${address}:${port} every ${a.intervalS}s\n`);
  return beaconLoop(a, sock, sendOne);
}

/** Send every interval (jittered) until --count or a signal; 1 when a beacon cannot be made. */
function beaconLoop(a: AgentArgs, sock: dgram.Socket, sendOne: () => void): Promise<number> {
  let sent = 0;
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      sock.close(() => resolve(code));
    };
    const onSignal = (): void => finish(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tick = (): void => {
      try {
        sendOne();
        sent++;
      } catch (e) {
        process.stderr.write(`billboard-beacon: ${(e as Error).message.split('\n')[0]}\n`);
        finish(1);
        return;
      }
      if (a.count !== undefined && sent >= a.count) {
        // give the last datagram a moment to leave before closing the socket
        timer = setTimeout(() => finish(0), 20);
        return;
      }
      const jitter = 0.9 + Math.random() * 0.2; // ±10% so a fleet does not beat in step
      timer = setTimeout(tick, a.intervalS * 1000 * jitter);
    };
    tick();
  });
}

// ─── Entry point ───────────────────────────────────────────────────────────────────────────────

/** `argv` is process.argv (node, script, ...args). Resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  try {
    if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') {
      process.stdout.write(HELP);
      return args.length === 0 ? 2 : 0;
    }
    if (args[0] === 'keygen') {
      const flags = parseFlags(args.slice(1));
      const out = one(flags, '--out');
      if (!out || flags.size !== 1) throw new UsageError('usage: billboard-beacon keygen --out FILE');
      return keygen(out);
    }
    if (!args[0]!.startsWith('-')) throw new UsageError(`unknown command ${JSON.stringify(args[0])}`);
    return await runAgent(parseAgentArgs(parseFlags(args)));
  } catch (e) {
    if (e instanceof UsageError || e instanceof WireError) {
      process.stderr.write(`billboard-beacon: ${e.message}\ntry: billboard-beacon --help\n`);
      return 2;
    }
    process.stderr.write(`billboard-beacon: ${(e as Error).message?.split('\n')[0] ?? String(e)}\n`);
    return 1;
  }
}

// Run directly when this file is the entry point: the guest copy (`node billboard-beacon.mjs ...`; copy it with an
// .mjs name, since outside this package a .js file is not treated as an ES module). bin/billboard-beacon.js
// imports main() instead, and so do tests.
function isEntryPoint(): boolean {
  try {
    return !!process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(new URL(import.meta.url));
  } catch {
    return false;
  }
}
if (isEntryPoint()) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`billboard-beacon: ${(e as Error)?.message?.split('\n')[0] ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
