// An attached console's bounded buffer (src/serve/api-session.ts): the whole state a new console gets first may be
// bigger than the budget (a 10,000-VM lab's is megabytes) and is not held against it; a peer that stops reading is
// dropped once maxBuffer of deltas wait for it, and the service goes on.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { ConsoleApi } from '../../src/console/api.js';
import { NO_BEACON_COUNTERS, type BillboardSnapshot, type VmRow } from '../../src/model/types.js';
import { serveApi } from '../../src/serve/api-session.js';
import { Feed, FeedState, type FeedMessage, type FeedSource } from '../../src/serve/feed.js';

/** A stream whose peer reads only when told: what it has not read stays in writableLength, as on a socket. */
class SlowPeer extends Duplex {
  private held: [Buffer, () => void][] = [];
  private text = '';
  readonly state = new FeedState();
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.held.push([chunk, cb]);
  }
  override _read(): void {}
  /** the peer reads everything written so far, and applies the feed's messages */
  readAll(): void {
    // each callback lets the stream hand over its next buffered chunk: read until nothing is left
    while (this.held.length) {
      const [chunk, cb] = this.held.shift()!;
      this.text += chunk.toString('utf8');
      cb();
    }
    const lines = this.text.split('\n');
    this.text = lines.pop()!;
    for (const l of lines) {
      const m = JSON.parse(l) as { t: string };
      if (m.t === 'full' || m.t === 'd') this.state.apply(m as FeedMessage);
    }
  }
}

const row = (i: number, seq: number): VmRow =>
  Object.freeze({
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `vm-${i}`,
    instances: [],
    ips: [`10.0.${i >> 8}.${i & 255}`],
    openFindings: 0,
    status: 'ok',
    lastBeacon: {
      at: 1_700_000_000_000 + seq * 1000,
      from: '10.0.0.1:4000',
      bootId: 'b',
      seq,
      ips: [],
      macs: [],
      os: 'Linux',
      keyFp: 'SHA256:x',
    },
  });

function lab(n: number) {
  let version = 1;
  let rows = Array.from({ length: n }, (_, i) => row(i, 1));
  let snap: BillboardSnapshot;
  const take = () => (snap = { version, at: version, rows, findings: [], hosts: [], beacons: { ...NO_BEACON_COUNTERS, perSecond: 0 } });
  take();
  const src: FeedSource = { snapshot: () => snap, jobs: () => [], pending: () => [], auditLog: () => [], attached: () => ['alice'] };
  const feed = new Feed(src, 1);
  /** every VM beacons once more; the feed sends it */
  const beat = async () => {
    version++;
    rows = rows.map((r, i) => row(i, r.lastBeacon!.seq + 1));
    take();
    feed.poke();
    await new Promise((r) => setTimeout(r, 10));
  };
  return { feed, beat, rows: () => rows };
}

const MAX = 64 * 1024;

function attach(feed: Feed) {
  const peer = new SlowPeer();
  const drops: string[] = [];
  serveApi(
    peer,
    {} as ConsoleApi,
    feed,
    { actor: 'alice', readOnly: false, service: 't' },
    { maxBuffer: MAX, onDrop: (w) => drops.push(w) },
  );
  return { peer, drops };
}

describe('serveApi: bounded buffers for attached consoles', () => {
  it('a new console whose whole state is bigger than maxBuffer is not dropped while it reads it', async () => {
    const { feed, beat, rows } = lab(3000);
    const { peer, drops } = attach(feed);
    expect(peer.writableLength).toBeGreaterThan(MAX); // the whole state alone passes the budget
    await beat(); // a delta arrives before the peer has read the state
    expect(drops).toEqual([]);
    peer.readAll();
    await beat();
    peer.readAll();
    expect(drops).toEqual([]);
    expect(peer.destroyed).toBe(false);
    expect(peer.state.rows.get()).toEqual(rows());
    feed.close();
  });

  it('a console that never reads is dropped once maxBuffer of deltas wait behind its state', async () => {
    const { feed, beat } = lab(3000);
    const { peer, drops } = attach(feed);
    for (let i = 0; i < 40 && !drops.length; i++) await beat();
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatch(/unread: dropped/);
    expect(peer.destroyed).toBe(true);
    feed.close();
  });

  it('a console that read its state and then stops reading is dropped after maxBuffer more', async () => {
    const { feed, beat } = lab(3000);
    const { peer, drops } = attach(feed);
    peer.readAll();
    let n = 0;
    while (!drops.length && n < 40) {
      await beat();
      n++;
    }
    expect(drops).toHaveLength(1);
    // a delta of 3,000 beacons is ~30 KB: 64 KiB is passed on the third or fourth
    expect(n).toBeLessThanOrEqual(5);
    feed.close();
  });
});
