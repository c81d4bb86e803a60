// The beacon listener: UDP in, classified BeaconEvents out. Threat model and wire format: docs/beacon-protocol.md.
//
// Per datagram, on the main thread: per-source token bucket → decode (and the name rule) → either
//   SIGNED: hand to the verify pool (bounded; full → 'overload'); on a good signature from an APPROVED identity
//           that asked for a session, keep its one session and answer an authenticated ACCEPT;
//   MAC:    find the session by (session id, uuid, key) and check the HMAC (cheap: no worker, never waits); any
//           mismatch is a session miss: counted, answered with a rate-limited REKEY, never evidence;
// then replay / clone / key checks, and emit 'beacon'. Malformed, rate-limited, overload and late datagrams are
// only counted: an outsider can produce them at will, so they must cost nothing downstream.

import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { BillboardError } from '../model/errors.js';
import { hasUnsafeChars, nameProblem, safeText } from '../model/text.js';
import type { BeaconClass, BeaconCounters, BeaconEvent, BeaconPayload, BeaconVerdict } from '../model/types.js';
import { IdentityTracker } from './identity-tracker.js';
import { SourceRateLimiter, type RateLimit } from './rate-limit.js';
import { ReplayMarks, type ReplayMarkStore } from './replay-marks.js';
import { VerifyPool, type VerifyResult } from './verify-pool.js';
import { checkMac, decodeDatagram, encodeAccept, encodeRekey, fingerprintOfRaw, type Decoded } from './wire.js';

/** what the registry says about one (uuid, key), asked once per beacon and handed along */
interface RegistryAnswer {
  known: boolean;
  registered: boolean;
  approved: boolean;
  key: string | undefined;
}

export interface ListenerLog {
  warn(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
}

export interface BeaconListenerOptions {
  /** "host:port" or "[v6]:port"; port 0 = ephemeral */
  listen: string;
  /** accepted |listener clock − beacon ts| */
  maxSkewMs: number;
  /** verify workers; default os.availableParallelism() */
  workers?: number;
  /** what the registry holds for a uuid: its key and whether it is approved (a bare key string counts as approved) */
  keyLookup: (uuid: string) => RegisteredKey | string | undefined;
  /** where replay marks are kept across restarts (the store); without it, replay state lives in memory only */
  marks?: ReplayMarkStore;
  /** how often changed replay marks are saved; default 1000 ms */
  marksEveryMs?: number;
  log?: ListenerLog;
  /** per source address; default 1000/s, burst 2000 (generous: VMs behind one NAT share an address) */
  rateLimit?: RateLimit;
  /** signatures queued or in flight before 'overload'; default 8192 */
  maxQueue?: number;
  /** live sessions kept (oldest dropped first); default 131072 */
  maxSessions?: number;
  /** identities tracked for replay/clone detection; default 200000 */
  maxIdentities?: number;
  /** SO_RCVBUF bytes; default 4 MiB (the kernel caps it at net.core.rmem_max) */
  recvBufferSize?: number;
  /** REKEY answers per destination address; default 100/s, burst 200 */
  rekeyRate?: RateLimit;
  /**
   * Signatures of identities the registry does not hold, across all sources; default 2000/s, burst 4000. Anyone can
   * send those from as many addresses as they like, and each costs a verification: past this rate they are counted
   * as rate-limited unverified, so registered identities keep the verify workers.
   */
  unknownRate?: RateLimit;
}

/** A registration's key, and whether the operator approved it: only approved identities get sessions. */
export interface RegisteredKey {
  publicKey?: string;
  approved: boolean;
}

/** BeaconCounters plus the listener's own gauges. `received` = every class + sessionMiss + late + queued. */
export type ListenerCounters = BeaconCounters & {
  /** MAC beacons naming no session of their identity, or failing its MAC (a restart, a forgery, a spoofed ACCEPT):
   *  answered with a rate-limited REKEY, never emitted */
  sessionMiss: number;
  /** REKEY answers held back by the per-address REKEY rate */
  rekeyLimited: number;
  /** authentic beacons judged after a newer beacon of the same identity that arrived later: not emitted */
  late: number;
  /** sessions established (ACCEPT sent) */
  handshakes: number;
  /** live sessions now */
  sessions: number;
  /** datagrams received but not judged yet: signatures in flight */
  queued: number;
};

interface Session {
  id: Buffer;
  listenerEphemeral: Buffer;
  /** the agent's X25519 key: a repeated hello with the same key gets the same session back */
  agentEphemeral: Buffer;
  key: Buffer;
  uuid: string;
  publicKey: string;
  keyFp: string;
  /** uuid + key: the identity, which holds at most one session */
  identity: string;
}

const CLASSES: BeaconClass[] = [
  'valid',
  'unknown-key',
  'bad-signature',
  'replay',
  'clone-suspect',
  'malformed',
  'rate-limited',
  'overload',
];

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]+):(\d+)$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BillboardError('CONFIG', `beacon.listen must be HOST:PORT, got ${JSON.stringify(listen)}`);
  }
  return { host: m[1]!, port };
}

export class BeaconListener extends EventEmitter {
  private sock: dgram.Socket | undefined;
  private pool: VerifyPool | undefined;
  private readonly limiter: SourceRateLimiter;
  private readonly rekeyLimiter: SourceRateLimiter;
  private readonly unknownLimiter: SourceRateLimiter;
  private readonly tracker: IdentityTracker;
  private readonly marks: ReplayMarks | undefined;
  private readonly sessions = new Map<string, Session>();
  /** uuid + key → session id: one session per identity, whatever boot id or ephemeral key its hellos carry */
  private readonly sessionIndex = new Map<string, string>();
  /** arrival number of the last datagram (the tracker tells a late beacon from a replay by it) */
  private arrivals = 0;
  private readonly c: Record<BeaconClass, number> & {
    received: number;
    sessionMiss: number;
    rekeyLimited: number;
    late: number;
    handshakes: number;
  };

  constructor(private readonly opts: BeaconListenerOptions) {
    super();
    this.limiter = new SourceRateLimiter(opts.rateLimit ?? { perSecond: 1000, burst: 2000 });
    this.rekeyLimiter = new SourceRateLimiter(opts.rekeyRate ?? { perSecond: 100, burst: 200 }, 4096);
    this.unknownLimiter = new SourceRateLimiter(opts.unknownRate ?? { perSecond: 2000, burst: 4000 }, 1);
    this.tracker = new IdentityTracker({ maxSkewMs: opts.maxSkewMs, maxIdentities: opts.maxIdentities });
    this.marks = opts.marks && new ReplayMarks(opts.marks, this.tracker, opts.marksEveryMs ?? 1000, opts.log);
    this.c = { received: 0, sessionMiss: 0, rekeyLimited: 0, late: 0, handshakes: 0 } as typeof this.c;
    for (const k of CLASSES) this.c[k] = 0;
  }

  /** Binds the socket. `recvBufferBytes` is the SO_RCVBUF the kernel granted (Linux reports twice the request, capped
   *  at net.core.rmem_max × 2): a burst larger than that is dropped by the kernel before this process sees it. */
  async start(): Promise<{ address: string; port: number; recvBufferBytes: number }> {
    if (this.sock) throw new BillboardError('CONFLICT', 'beacon listener already started');
    const { host, port } = parseListen(this.opts.listen);
    const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: this.opts.recvBufferSize ?? 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (e: NodeJS.ErrnoException) =>
        reject(new BillboardError('CONFIG', `cannot listen for beacons on ${this.opts.listen}: ${e.code ?? e.message}`)),
      );
      sock.bind(port, host, () => {
        sock.removeAllListeners('error');
        resolve();
      });
    });
    sock.on('error', (e) => this.opts.log?.warn({ err: e.message }, 'beacon socket error'));
    sock.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.pool = new VerifyPool(this.opts.workers ?? os.availableParallelism(), this.opts.maxQueue ?? 8192, (e) =>
      this.opts.log?.warn({ err: e.message }, 'beacon verify worker failed; restarted'),
    );
    this.marks?.start();
    this.sock = sock;
    const a = sock.address();
    const recvBufferBytes = sock.getRecvBufferSize();
    this.opts.log?.info({ address: a.address, port: a.port, workers: this.pool.size, recvBufferBytes }, 'beacon listener started');
    return { address: a.address, port: a.port, recvBufferBytes };
  }

  async stop(): Promise<void> {
    const sock = this.sock;
    const pool = this.pool;
    this.sock = undefined;
    this.pool = undefined;
    if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
    if (pool) await pool.stop();
    await this.marks?.stop();
    this.sessions.clear();
    this.sessionIndex.clear();
    this.limiter.clear();
    this.rekeyLimiter.clear();
    this.tracker.clear();
  }

  counters(): ListenerCounters {
    return { ...this.c, sessions: this.sessions.size, queued: this.pool?.depth ?? 0 };
  }

  /** Save the replay marks that changed now (the listener also does it every marksEveryMs, and on stop). */
  flushMarks(): Promise<void> {
    return this.marks?.flush() ?? Promise.resolve();
  }

  private onDatagram(msg: Buffer, from: dgram.RemoteInfo): void {
    this.c.received++;
    const now = Date.now();
    if (!this.limiter.take(from.address, now)) {
      this.c['rate-limited']++;
      return;
    }
    let d: Decoded;
    try {
      d = decodeDatagram(msg);
    } catch {
      this.c.malformed++;
      return;
    }
    if (d.type !== 'signed' && d.type !== 'mac') {
      this.c.malformed++; // ACCEPT/REKEY travel the other way
      return;
    }
    if (!safePayload(d.payload)) {
      this.c.malformed++;
      return;
    }
    const arrival = ++this.arrivals;
    if (d.type === 'signed') this.onSigned(d, msg, from, now, arrival);
    else this.onMac(d, from, now, arrival);
  }

  private onSigned(d: Extract<Decoded, { type: 'signed' }>, msg: Buffer, from: dgram.RemoteInfo, now: number, arrival: number): void {
    const publicKey = d.publicKey.toString('base64');
    const reg = this.lookup(d.payload.uuid, publicKey);
    if (!reg.known && !this.unknownLimiter.take('*', now)) {
      this.c['rate-limited']++;
      return;
    }
    const existing = this.sessions.get(this.sessionIndex.get(`${d.payload.uuid} ${publicKey}`) ?? '');
    const wantSession = d.ephemeral !== undefined && !existing?.agentEphemeral.equals(d.ephemeral) && reg.approved;
    const pubOff = d.signed.length - 32;
    // One identity's signatures go to one worker, which answers in order; a MAC beacon judged meanwhile does not
    // wait for them (the tracker calls an older beacon judged after it `late`, not a replay).
    const accepted = this.pool?.submit(
      { data: new Uint8Array(msg), pubOff, ephOff: wantSession ? pubOff - 32 : -1 }, // new Uint8Array: exact-size copy
      (r) => this.onVerified(d, publicKey, from, now, arrival, r),
    );
    if (!accepted) this.c.overload++;
  }

  private onVerified(
    d: Extract<Decoded, { type: 'signed' }>,
    publicKey: string,
    from: dgram.RemoteInfo,
    receivedAt: number,
    arrival: number,
    r: VerifyResult,
  ): void {
    if (r.lost) {
      this.c.overload++;
      return;
    }
    if (!r.ok) {
      this.emitEvent('bad-signature', d.payload, publicKey, from, receivedAt, 'Ed25519 signature does not verify under the carried key');
      return;
    }
    // asked again, not carried over from before the worker: the registry may have changed while it verified
    const reg = this.lookup(d.payload.uuid, publicKey);
    const verdict = this.classify(d.payload, publicKey, reg, from, receivedAt, arrival);
    if (verdict !== 'valid' || !d.ephemeral || !this.sock) return;
    const identity = `${d.payload.uuid} ${publicKey}`;
    let s = this.sessions.get(this.sessionIndex.get(identity) ?? '');
    if (!s?.agentEphemeral.equals(d.ephemeral)) {
      // r.session is there only if the identity was approved when the hello arrived; approval may since be gone
      if (!r.session || !reg.approved) return;
      s = {
        id: r.session.id,
        listenerEphemeral: r.session.listenerEphemeral,
        agentEphemeral: Buffer.from(d.ephemeral),
        key: r.session.key,
        uuid: d.payload.uuid,
        publicKey,
        keyFp: d.payload.keyFp,
        identity,
      };
      this.addSession(r.session.id.toString('hex'), s);
      this.c.handshakes++;
    }
    // (re)send ACCEPT: a repeated hello means the agent did not get the last one
    this.sock.send(encodeAccept(s.id, s.listenerEphemeral, d.payload.seq, d.ephemeral, s.key), from.port, from.address);
  }

  private onMac(d: Extract<Decoded, { type: 'mac' }>, from: dgram.RemoteInfo, now: number, arrival: number): void {
    const sid = d.sessionId.toString('hex');
    const s = this.sessions.get(sid);
    // A session is looked up by (id, uuid, key): a session id travels in clear, so a beacon naming another
    // identity's session, or failing its MAC, proves nothing about the uuid it claims. Not evidence: ask the agent
    // to sign its next beacon instead. The REKEY is smaller than the datagram that caused it, and rate-limited.
    if (!s || s.uuid !== d.payload.uuid || s.keyFp !== d.payload.keyFp || !checkMac(s.key, d.authed, d.tag)) {
      this.c.sessionMiss++;
      if (this.rekeyLimiter.take(from.address, now)) this.sock?.send(encodeRekey(d.sessionId), from.port, from.address);
      else this.c.rekeyLimited++;
      return;
    }
    const reg = this.lookup(s.uuid, s.publicKey);
    this.classify(d.payload, s.publicKey, reg, from, now, arrival);
    // a session outlives no approval: the agent's next MAC beacon misses and it signs again
    if (!reg.approved) this.dropSession(sid, s);
  }

  /** The registry's word on (uuid, key): whether the uuid is known, whether that key is the registered one, and approved. */
  private lookup(uuid: string, publicKey: string): RegistryAnswer {
    const r = this.opts.keyLookup(uuid);
    const key = typeof r === 'string' ? r : r?.publicKey;
    const registered = key !== undefined && (key === publicKey || Buffer.from(key, 'base64').toString('base64') === publicKey);
    return { known: r !== undefined, registered, approved: registered && (typeof r === 'string' || r!.approved), key };
  }

  /** Authenticated beacon → replay / unknown-key / clone-suspect / valid (that precedence), emitted; or late. */
  private classify(
    p: BeaconPayload,
    publicKey: string,
    reg: RegistryAnswer,
    from: dgram.RemoteInfo,
    receivedAt: number,
    arrival: number,
  ): BeaconVerdict | 'late' {
    if (reg.registered) this.marks?.restore(p.uuid, publicKey, p.keyFp, receivedAt);
    const t = this.tracker.check(p, publicKey, receivedAt, arrival);
    if (t.verdict === 'late') {
      this.c.late++;
      return 'late';
    }
    if (t.verdict === 'replay') return this.emitEvent('replay', p, publicKey, from, receivedAt, t.reason);
    if (reg.registered) this.marks?.changed(p.uuid, publicKey, p.keyFp);
    else {
      const reason =
        reg.key === undefined
          ? 'no registered key for this uuid'
          : `carried key ${p.keyFp} differs from the registered key ${fingerprintOfRaw(Buffer.from(reg.key, 'base64'))}`;
      return this.emitEvent('unknown-key', p, publicKey, from, receivedAt, reason);
    }
    if (t.verdict === 'clone-suspect') return this.emitEvent('clone-suspect', p, publicKey, from, receivedAt, t.reason);
    return this.emitEvent('valid', p, publicKey, from, receivedAt);
  }

  private emitEvent(
    verdict: BeaconVerdict,
    beacon: BeaconPayload,
    publicKey: string,
    from: dgram.RemoteInfo,
    receivedAt: number,
    reason?: string,
  ): BeaconVerdict {
    this.c[verdict]++;
    const ev: BeaconEvent = { verdict, beacon, publicKey, from: { address: from.address, port: from.port }, receivedAt };
    if (reason !== undefined) ev.reason = reason;
    try {
      this.emit('beacon', ev);
    } catch (e) {
      // a consumer's bug must not take the socket down with it
      this.opts.log?.warn({ err: (e as Error).message }, 'beacon event handler threw');
    }
    return verdict;
  }

  private addSession(sid: string, s: Session): void {
    const old = this.sessionIndex.get(s.identity);
    if (old !== undefined) this.sessions.delete(old);
    while (this.sessions.size >= (this.opts.maxSessions ?? 131_072)) {
      const [oldestId, oldest] = this.sessions.entries().next().value!;
      this.dropSession(oldestId, oldest);
    }
    this.sessions.set(sid, s);
    this.sessionIndex.set(s.identity, sid);
  }

  private dropSession(sid: string, s: Session): void {
    this.sessions.delete(sid);
    if (this.sessionIndex.get(s.identity) === sid) this.sessionIndex.delete(s.identity);
  }
}

/**
 * The name rule of model/text.ts for beacon names (a name that breaks it is malformed), and other strings made
 * safe to show: the codec refuses C0/C1 controls, but bidi and zero-width characters pass it.
 */
function safePayload(p: BeaconPayload): boolean {
  if (nameProblem(p.name) !== undefined) return false;
  if (hasUnsafeChars(p.hostname)) p.hostname = safeText(p.hostname);
  if (hasUnsafeChars(p.os)) p.os = safeText(p.os);
  return true;
}
