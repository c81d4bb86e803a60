// The beacon listener: UDP in, classified BeaconEvents out. Threat model and wire format: docs/beacon-protocol.md.
//
// Per datagram, on the main thread: per-source token bucket → decode → either
//   SIGNED: hand to the verify pool (bounded; full → 'overload'); on a good signature from a registered key that
//           asked for a session, keep the session and answer ACCEPT;
//   MAC:    look up the session (unknown → answer REKEY, count 'sessionMiss'), check the HMAC (~µs, no worker);
// then replay / clone / key checks, and emit 'beacon'. Malformed, rate-limited and overload datagrams are only
// counted: an outsider can produce them at will, so they must cost nothing downstream.

import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { BillboardError } from '../model/errors.js';
import type { BeaconClass, BeaconCounters, BeaconEvent, BeaconPayload, BeaconVerdict } from '../model/types.js';
import { IdentityTracker } from './identity-tracker.js';
import { SourceRateLimiter, type RateLimit } from './rate-limit.js';
import { VerifyPool, type VerifyResult } from './verify-pool.js';
import { checkMac, decodeDatagram, encodeAccept, encodeRekey, fingerprintOfRaw, type Decoded } from './wire.js';

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
  /** the registered public key (base64 raw Ed25519) for a uuid, or undefined */
  keyLookup: (uuid: string) => string | undefined;
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
}

/** BeaconCounters plus the listener's own gauges. `received` = every class + sessionMiss + queued. */
export type ListenerCounters = BeaconCounters & {
  /** MAC beacons naming a session this listener does not have (after a restart, or forged): answered with REKEY */
  sessionMiss: number;
  /** sessions established (ACCEPT sent) */
  handshakes: number;
  /** live sessions now */
  sessions: number;
  /** datagrams received but not judged yet: signatures in flight, and beacons waiting behind them */
  queued: number;
};

interface Session {
  id: Buffer;
  listenerEphemeral: Buffer;
  /** the agent's X25519 key: a repeated hello with the same key gets the same session back */
  agentEphemeral: Buffer;
  key: Buffer;
  publicKey: string;
  keyFp: string;
  index: string;
}

/**
 * Per-identity FIFO while signatures of that identity are being verified: a MAC beacon that arrives behind a
 * signed one waits for it, so beacons are judged in arrival order and a slow signature never makes the next
 * beacon's seq look like a replay. A lane exists only while it has items.
 */
interface LaneItem {
  ready: boolean;
  run: () => void;
}
const MAX_LANE = 64;

const CLASSES: BeaconClass[] = ['valid', 'unknown-key', 'bad-signature', 'replay', 'clone-suspect', 'malformed', 'rate-limited', 'overload'];

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
  private readonly tracker: IdentityTracker;
  private readonly sessions = new Map<string, Session>();
  /** uuid + key + boot id → session id, so a re-key replaces the old session instead of piling up */
  private readonly sessionIndex = new Map<string, string>();
  private readonly lanes = new Map<string, LaneItem[]>();
  private readonly c: Record<BeaconClass, number> & { received: number; sessionMiss: number; handshakes: number };

  constructor(private readonly opts: BeaconListenerOptions) {
    super();
    this.limiter = new SourceRateLimiter(opts.rateLimit ?? { perSecond: 1000, burst: 2000 });
    this.tracker = new IdentityTracker({ maxSkewMs: opts.maxSkewMs, maxIdentities: opts.maxIdentities });
    this.c = { received: 0, sessionMiss: 0, handshakes: 0 } as typeof this.c;
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
    this.sessions.clear();
    this.sessionIndex.clear();
    this.lanes.clear();
    this.limiter.clear();
    this.tracker.clear();
  }

  counters(): ListenerCounters {
    let queued = 0;
    for (const lane of this.lanes.values()) queued += lane.length; // every signature in flight holds a lane slot
    return { ...this.c, sessions: this.sessions.size, queued };
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
    if (d.type === 'signed') this.onSigned(d, msg, from, now);
    else if (d.type === 'mac') this.onMac(d, from, now);
    else this.c.malformed++; // ACCEPT/REKEY travel the other way
  }

  private onSigned(d: Extract<Decoded, { type: 'signed' }>, msg: Buffer, from: dgram.RemoteInfo, now: number): void {
    const publicKey = d.publicKey.toString('base64');
    const index = `${d.payload.uuid} ${publicKey} ${d.payload.bootId}`;
    const existing = this.sessions.get(this.sessionIndex.get(index) ?? '');
    const wantSession =
      d.ephemeral !== undefined && !existing?.agentEphemeral.equals(d.ephemeral) && this.isRegistered(d.payload.uuid, publicKey);
    const pubOff = d.signed.length - 32;
    const laneId = `${d.payload.uuid} ${publicKey}`;
    const lane = this.lanes.get(laneId);
    if (lane && lane.length >= MAX_LANE) {
      this.c.overload++;
      return;
    }
    const item: LaneItem = { ready: false, run: () => {} };
    const accepted = this.pool?.submit(
      { data: new Uint8Array(msg), pubOff, ephOff: wantSession ? pubOff - 32 : -1 }, // new Uint8Array: exact-size copy
      (r) => {
        item.run = () => this.onVerified(d, publicKey, from, now, r);
        item.ready = true;
        this.drainLane(laneId);
      },
    );
    if (!accepted) {
      this.c.overload++;
      return;
    }
    if (lane) lane.push(item);
    else this.lanes.set(laneId, [item]);
  }

  private drainLane(laneId: string): void {
    const lane = this.lanes.get(laneId);
    if (!lane) return;
    while (lane.length > 0 && lane[0]!.ready) lane.shift()!.run();
    if (lane.length === 0) this.lanes.delete(laneId);
  }

  private onVerified(d: Extract<Decoded, { type: 'signed' }>, publicKey: string, from: dgram.RemoteInfo, receivedAt: number, r: VerifyResult): void {
    if (r.lost) {
      this.c.overload++;
      return;
    }
    if (!r.ok) {
      this.emitEvent('bad-signature', d.payload, publicKey, from, receivedAt, 'Ed25519 signature does not verify under the carried key');
      return;
    }
    const verdict = this.classify(d.payload, publicKey, from, receivedAt);
    if (verdict !== 'valid' || !d.ephemeral || !this.sock) return;
    const index = `${d.payload.uuid} ${publicKey} ${d.payload.bootId}`;
    let s = this.sessions.get(this.sessionIndex.get(index) ?? '');
    if (!s?.agentEphemeral.equals(d.ephemeral)) {
      if (!r.session) return;
      s = {
        id: r.session.id,
        listenerEphemeral: r.session.listenerEphemeral,
        agentEphemeral: Buffer.from(d.ephemeral),
        key: r.session.key,
        publicKey,
        keyFp: d.payload.keyFp,
        index,
      };
      this.addSession(r.session.id.toString('hex'), s);
      this.c.handshakes++;
    }
    // (re)send ACCEPT: a repeated hello means the agent did not get the last one
    this.sock.send(encodeAccept(s.id, s.listenerEphemeral, d.payload.seq, d.ephemeral), from.port, from.address);
  }

  private onMac(d: Extract<Decoded, { type: 'mac' }>, from: dgram.RemoteInfo, now: number): void {
    const sid = d.sessionId.toString('hex');
    const s = this.sessions.get(sid);
    if (!s) {
      // Not an attack signal by itself (this listener may have restarted): ask the agent to sign its next beacon.
      // The REKEY is smaller than the datagram that caused it, and rate-limited with it: no amplification.
      this.c.sessionMiss++;
      this.sock?.send(encodeRekey(d.sessionId), from.port, from.address);
      return;
    }
    if (s.keyFp !== d.payload.keyFp || !checkMac(s.key, d.authed, d.tag)) {
      this.emitEvent('bad-signature', d.payload, s.publicKey, from, now, 'session MAC does not verify');
      return;
    }
    // (no signature in flight anywhere — the usual case — means no lane to wait in: skip building the key)
    const lane = this.lanes.size === 0 ? undefined : this.lanes.get(`${d.payload.uuid} ${s.publicKey}`);
    if (!lane) {
      this.classify(d.payload, s.publicKey, from, now);
    } else if (lane.length >= MAX_LANE) {
      this.c.overload++;
    } else {
      lane.push({ ready: true, run: () => this.classify(d.payload, s.publicKey, from, now) });
    }
  }

  private isRegistered(uuid: string, publicKey: string): boolean {
    const reg = this.opts.keyLookup(uuid);
    return reg !== undefined && (reg === publicKey || Buffer.from(reg, 'base64').toString('base64') === publicKey);
  }

  /** Authenticated beacon → replay / unknown-key / clone-suspect / valid (that precedence), emitted. */
  private classify(p: BeaconPayload, publicKey: string, from: dgram.RemoteInfo, receivedAt: number): BeaconVerdict {
    const t = this.tracker.check(p, publicKey, receivedAt);
    if (t.verdict === 'replay') return this.emitEvent('replay', p, publicKey, from, receivedAt, t.reason);
    if (!this.isRegistered(p.uuid, publicKey)) {
      const reg = this.opts.keyLookup(p.uuid);
      const reason =
        reg === undefined
          ? 'no registered key for this uuid'
          : `carried key ${p.keyFp} differs from the registered key ${fingerprintOfRaw(Buffer.from(reg, 'base64'))}`;
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
    const old = this.sessionIndex.get(s.index);
    if (old !== undefined) this.sessions.delete(old);
    while (this.sessions.size >= (this.opts.maxSessions ?? 131_072)) {
      const [oldestId, oldest] = this.sessions.entries().next().value!;
      this.sessions.delete(oldestId);
      if (this.sessionIndex.get(oldest.index) === oldestId) this.sessionIndex.delete(oldest.index);
    }
    this.sessions.set(sid, s);
    this.sessionIndex.set(s.index, sid);
  }
}
