import { describe, expect, it } from 'vitest';
import { IdentityTracker } from '../../src/beacon/identity-tracker.js';
import { SourceRateLimiter } from '../../src/beacon/rate-limit.js';
import type { BeaconPayload } from '../../src/model/types.js';

const NOW = 1_767_225_600_000;
const base: BeaconPayload = {
  v: 1,
  uuid: '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e',
  name: 'web-01',
  macs: [],
  ips: [],
  os: '',
  hostname: '',
  bootId: 'b0000000-0000-4000-8000-000000000001',
  seq: 1,
  ts: NOW,
  keyFp: 'SHA256:x',
};
const b = (seq: number, bootId = base.bootId, ts = NOW): BeaconPayload => ({ ...base, seq, bootId, ts });
const BOOT2 = 'b0000000-0000-4000-8000-000000000002';

describe('IdentityTracker', () => {
  it('accepts increasing seq and calls a repeated or lower seq a replay', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    expect(t.check(b(10), 'K', NOW).verdict).toBe('ok');
    expect(t.check(b(11), 'K', NOW).verdict).toBe('ok');
    expect(t.check(b(11), 'K', NOW)).toMatchObject({ verdict: 'replay', reason: expect.stringMatching(/not above 11/) });
    expect(t.check(b(5), 'K', NOW).verdict).toBe('replay');
    expect(t.check(b(12), 'K', NOW).verdict).toBe('ok'); // a replay does not move the state
  });

  it('calls a timestamp outside ±maxSkew a replay, NaN included', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    expect(t.check(b(1, base.bootId, NOW - 6000), 'K', NOW).verdict).toBe('replay');
    expect(t.check(b(2, base.bootId, NOW + 6000), 'K', NOW).verdict).toBe('replay');
    expect(t.check(b(3, base.bootId, NaN), 'K', NOW).verdict).toBe('replay');
    expect(t.check(b(4, base.bootId, NOW - 4000), 'K', NOW).verdict).toBe('ok');
  });

  it('keeps separate state per key: the same uuid under another key is another identity', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    expect(t.check(b(10), 'K1', NOW).verdict).toBe('ok');
    expect(t.check(b(10), 'K2', NOW).verdict).toBe('ok');
  });

  it('treats a new boot id with a higher seq as a reboot, and interleaving boot ids as a clone', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    expect(t.check(b(100), 'K', NOW).verdict).toBe('ok');
    expect(t.check(b(1001, BOOT2), 'K', NOW).verdict).toBe('ok'); // reboot: seq persisted, jumped a block
    expect(t.check(b(101), 'K', NOW)).toMatchObject({ verdict: 'clone-suspect', reason: expect.stringMatching(/interleaving/) });
    expect(t.check(b(1002, BOOT2), 'K', NOW).verdict).toBe('clone-suspect');
  });

  it('flags a new boot id that starts at or below the highest seq (copied disk)', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    t.check(b(1005), 'K', NOW);
    expect(t.check(b(1001, BOOT2), 'K', NOW)).toMatchObject({ verdict: 'clone-suspect', reason: expect.stringMatching(/copied disk/) });
  });

  it('calls an older beacon judged after a newer one that arrived later late, and a copy arriving later a replay', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    expect(t.check(b(10), 'K', NOW, 1).verdict).toBe('ok');
    // arrival 2 (a signed beacon, still in a verify worker) is overtaken by arrival 3 (a MAC beacon)
    expect(t.check(b(12), 'K', NOW, 3).verdict).toBe('ok');
    expect(t.check(b(11), 'K', NOW, 2).verdict).toBe('late');
    // the same seq arriving again after arrival 3 was judged: a replay
    expect(t.check(b(11), 'K', NOW, 4).verdict).toBe('replay');
    expect(t.check(b(13), 'K', NOW, 5).verdict).toBe('ok');
  });

  it('restores an identity from a persisted mark: what was seen before is a replay, a new boot below it a clone', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000 });
    t.check(b(40), 'K', NOW, 1);
    const m = t.mark(base.uuid, 'K')!;
    expect(m).toEqual({ bootId: base.bootId, seq: 40, at: NOW });
    const after = new IdentityTracker({ maxSkewMs: 5000 });
    after.restore(base.uuid, 'K', m, NOW);
    expect(after.has(base.uuid, 'K')).toBe(true);
    expect(after.check(b(40), 'K', NOW, 1).verdict).toBe('replay');
    expect(after.check(b(39, BOOT2), 'K', NOW, 2).verdict).toBe('clone-suspect');
    expect(after.check(b(41), 'K', NOW, 3).verdict).toBe('clone-suspect'); // back to the first boot after BOOT2
    const fresh = new IdentityTracker({ maxSkewMs: 5000 });
    fresh.restore(base.uuid, 'K', m, NOW);
    expect(fresh.check(b(41), 'K', NOW, 1).verdict).toBe('ok');
  });

  it('stays bounded: least recently seen identities are forgotten', () => {
    const t = new IdentityTracker({ maxSkewMs: 5000, maxIdentities: 100 });
    for (let i = 0; i < 1000; i++) t.check(b(1), `K${i}`, NOW);
    expect(t.size).toBe(100);
  });
});

describe('SourceRateLimiter', () => {
  it('lets a burst through, then the sustained rate, per source', () => {
    const r = new SourceRateLimiter({ perSecond: 10, burst: 5 });
    let ok = 0;
    for (let i = 0; i < 20; i++) if (r.take('a', 0)) ok++;
    expect(ok).toBe(5);
    expect(r.take('b', 0)).toBe(true); // another source is not starved
    expect(r.take('a', 100)).toBe(true); // 100 ms at 10/s = one token
    expect(r.take('a', 100)).toBe(false);
  });

  it('bounds the table of sources', () => {
    const r = new SourceRateLimiter({ perSecond: 1, burst: 1 }, 50);
    for (let i = 0; i < 500; i++) r.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(r.size).toBe(50);
  });
});
