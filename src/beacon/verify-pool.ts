// A bounded pool of worker threads that check Ed25519 signatures (and, for a good signature carrying a session
// hello, do the listener's half of the X25519 exchange), so the listener's main thread never waits on a signature
// check, which costs far more than a MAC check. Jobs are batched per event-loop turn (one postMessage per worker
// per turn, not per datagram).
//
// The worker runs from an inline source string (`eval: true`) so the same code works from dist/ and under vitest,
// where this file is .ts and a sibling .js worker file does not exist.

import { Worker } from 'node:worker_threads';

export interface VerifyJob {
  /** the whole datagram (copied: it crosses a thread boundary) */
  data: Uint8Array;
  /** offset of the 32-byte Ed25519 public key; the signature covers [0, pubOff + 32) and follows it */
  pubOff: number;
  /** offset of the agent's X25519 ephemeral key, or -1 when no session should be set up */
  ephOff: number;
}

export interface VerifyResult {
  ok: boolean;
  /** the worker died before answering: nothing is known about the signature */
  lost?: boolean;
  /** present when ok and a session was requested: the listener's half of the exchange */
  session?: { id: Buffer; listenerEphemeral: Buffer; key: Buffer };
}

// Keep in step with deriveSessionKey in wire.ts (a unit test checks they agree).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const KEY_CACHE_MAX = 65536;
const keys = new Map(); // base64 raw key -> KeyObject: building one costs about as much as the verify
const INFO = Buffer.from('billboard-beacon/1 session', 'ascii');
function edKey(raw) {
  const id = Buffer.from(raw).toString('base64');
  let k = keys.get(id);
  if (!k) {
    if (keys.size >= KEY_CACHE_MAX) keys.delete(keys.keys().next().value);
    k = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
    keys.set(id, k);
  }
  return k;
}
parentPort.on('message', (batch) => {
  const out = [];
  for (const [id, data, pubOff, ephOff] of batch) {
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let ok = false;
    let session;
    try {
      const pub = buf.subarray(pubOff, pubOff + 32);
      ok = crypto.verify(null, buf.subarray(0, pubOff + 32), edKey(pub), buf.subarray(pubOff + 32, pubOff + 96));
      if (ok && ephOff >= 0) {
        const agentEph = buf.subarray(ephOff, ephOff + 32);
        // public half encoded by the generation job: a JWK export here can deadlock this worker (wire.ts)
        const mine = crypto.generateKeyPairSync('x25519', { publicKeyEncoding: { type: 'spki', format: 'der' } });
        const peer = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: agentEph.toString('base64url') }, format: 'jwk' });
        const shared = crypto.diffieHellman({ privateKey: mine.privateKey, publicKey: peer });
        const lEph = Buffer.from(mine.publicKey.subarray(12));
        const sid = crypto.randomBytes(8);
        const key = Buffer.from(crypto.hkdfSync('sha256', shared, Buffer.concat([agentEph, lEph]), Buffer.concat([INFO, sid, pub]), 32));
        session = [sid, lEph, key];
      }
    } catch {
      // a bad point or key: no session (and, if verify itself threw, not ok)
    }
    out.push([id, ok, session]);
  }
  parentPort.postMessage(out);
});
`;

type Pending = (r: VerifyResult) => void;

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
  batch: [number, Uint8Array, number, number][];
  /** when this worker last had work outstanding and made no progress since (ms), or 0 when idle */
  waitingSince: number;
  /** report this worker's jobs lost and put a fresh worker in its place */
  replace: (e: Error) => void;
}

/** A worker with answers outstanding and none for this long is taken as hung (a deadlock in native code shows no
 *  other symptom), terminated and replaced; its jobs are reported lost. */
const STALL_MS = 10_000;

export class VerifyPool {
  private slots: Slot[] = [];
  private nextId = 1;
  private flushScheduled = false;
  private stopped = false;
  private queued = 0;

  constructor(
    readonly size: number,
    /** total jobs queued or in flight across all workers; submit() refuses beyond this */
    readonly maxQueue: number,
    private readonly onWorkerError?: (e: Error) => void,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
    this.watchdog = setInterval(() => this.checkStalls(), 1000);
    this.watchdog.unref();
  }

  private readonly watchdog: NodeJS.Timeout;

  private checkStalls(): void {
    const now = Date.now();
    for (const s of this.slots) {
      if (s.waitingSince > 0 && now - s.waitingSince > STALL_MS) {
        s.replace(new Error(`verify worker gave no answer for ${STALL_MS / 1000}s; replaced`));
        void s.worker.terminate();
      }
    }
  }

  /** Jobs queued or in flight. */
  get depth(): number {
    return this.queued;
  }

  /** Queue a job; false (and `done` is never called) when the pool is full or stopped. */
  submit(job: VerifyJob, done: Pending): boolean {
    if (this.stopped || this.queued >= this.maxQueue) return false;
    // One identity always goes to the same worker: a worker answers in order, so one agent's beacons are judged
    // in the order they arrived (spreading them would let seq N+1 finish first and N look like a replay).
    const best = this.slots[job.data[job.pubOff]! % this.slots.length]!;
    const id = this.nextId++;
    best.inFlight.set(id, done);
    best.batch.push([id, job.data, job.pubOff, job.ephOff]);
    this.queued++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
    this.queued = 0;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const s of this.slots) {
      if (s.batch.length === 0) continue;
      if (s.waitingSince === 0) s.waitingSince = Date.now();
      s.worker.postMessage(s.batch);
      s.batch = [];
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const slot: Slot = { worker, inFlight: new Map(), batch: [], waitingSince: 0, replace: () => {} };
    worker.on('message', (results: [number, boolean, [Uint8Array, Uint8Array, Uint8Array] | undefined][]) => {
      slot.waitingSince = slot.inFlight.size > results.length ? Date.now() : 0;
      for (const [id, ok, session] of results) {
        const done = slot.inFlight.get(id);
        if (!done) continue;
        slot.inFlight.delete(id);
        this.queued--;
        done({
          ok,
          session: session
            ? { id: Buffer.from(session[0]), listenerEphemeral: Buffer.from(session[1]), key: Buffer.from(session[2]) }
            : undefined,
        });
      }
    });
    const replace = (e: Error): void => {
      if (this.stopped || !this.slots.includes(slot)) return;
      this.onWorkerError?.(e);
      // jobs on a dead worker are lost: report them as not verified, and start a fresh worker in its place
      const lost = [...slot.inFlight.values()];
      this.queued -= slot.inFlight.size;
      slot.inFlight.clear();
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn();
      for (const done of lost) done({ ok: false, lost: true });
    };
    slot.replace = replace;
    worker.on('error', replace);
    worker.on('exit', (code) => {
      if (!this.stopped && this.slots.includes(slot)) replace(new Error(`verify worker exited with code ${code}`));
    });
    return slot;
  }
}
