import { describe, expect, it } from 'vitest';
import { estimateConvergence } from '../../src/migration/convergence.js';
import { advance, precopyParamsFor, precopyStats, startPrecopy } from '../../src/migration/precopy-model.js';

const MiB = 1024 * 1024;

describe('convergence estimate', () => {
  it('says a migration copying faster than the guest dirties converges', () => {
    const e = estimateConvergence({ dirtyRateBps: 10 * MiB, bandwidthBps: 32 * MiB, remainingBytes: 40 * MiB, maxDowntimeMs: 300 });
    expect(e.converges).toBe(true);
    expect(e.advice).toMatch(/converging/);
  });

  it('detects non-convergence and suggests a bandwidth and a downtime that would converge', () => {
    const input = {
      dirtyRateBps: 14 * MiB,
      bandwidthBps: 16 * MiB,
      remainingBytes: 20 * MiB,
      expectedDowntimeMs: 1250,
      maxDowntimeMs: 300,
    };
    const e = estimateConvergence(input);
    expect(e.converges).toBe(false);
    expect(e.advice).toMatch(/not converging/);
    expect(e.suggestedBandwidthMiBs).toBeGreaterThan(16);
    expect(e.suggestedMaxDowntimeMs).toBeGreaterThan(300);
    // applying either suggestion makes the estimate converge
    expect(estimateConvergence({ ...input, bandwidthBps: e.suggestedBandwidthMiBs! * MiB, expectedDowntimeMs: undefined }).converges).toBe(
      true,
    );
    expect(estimateConvergence({ ...input, maxDowntimeMs: e.suggestedMaxDowntimeMs! }).converges).toBe(true);
  });

  it('trusts libvirt when its expected downtime is already within the limit', () => {
    expect(
      estimateConvergence({ dirtyRateBps: 20 * MiB, bandwidthBps: 16 * MiB, expectedDowntimeMs: 100, maxDowntimeMs: 300 }).converges,
    ).toBe(true);
  });

  it('does not guess before the first pass has measured a dirty rate', () => {
    const e = estimateConvergence({ bandwidthBps: 16 * MiB, remainingBytes: 100 * MiB, expectedDowntimeMs: 5000 });
    expect(e.converges).toBe(true);
    expect(e.advice).toMatch(/no dirty rate/);
  });
});

describe('pre-copy model (simulated mode)', () => {
  it('converges under a 32 MiB/s cap after several passes, with a downtime within the limit', () => {
    let s = startPrecopy(precopyParamsFor(131072, 32, 300, 14));
    let lastRemaining = Infinity;
    let wentBackwards = false;
    for (let t = 0; t < 60_000 && s.phase !== 'done'; t += 200) {
      s = advance(s, 200);
      const st = precopyStats(s, t);
      if ((st.memoryRemainingBytes ?? 0) > lastRemaining) wentBackwards = true;
      lastRemaining = st.memoryRemainingBytes ?? 0;
    }
    expect(s.phase).toBe('done');
    expect(s.iteration).toBeGreaterThanOrEqual(2);
    expect(wentBackwards).toBe(true); // a new pass restarts the remaining count: progress is not monotonic
    const fin = precopyStats(s, 0);
    expect(fin.type).toBe('completed');
    expect(fin.totalDowntimeMs).toBeGreaterThan(0);
    expect(fin.totalDowntimeMs).toBeLessThanOrEqual(300);
    expect(fin.source).toBe('simulated');
    expect(fin.dataProcessedBytes).toBeGreaterThan(128 * MiB);
  });

  it('never converges when the guest dirties faster than the cap, and the estimate says so', () => {
    let s = startPrecopy(precopyParamsFor(131072, 8, 300, 14));
    for (let t = 0; t < 120_000; t += 200) s = advance(s, 200);
    expect(s.phase).toBe('pre-copy');
    expect(s.iteration).toBeGreaterThan(3);
    const st = precopyStats(s, 0);
    const e = estimateConvergence({
      dirtyRateBps: st.dirtyRateBps,
      bandwidthBps: st.bandwidthBps,
      remainingBytes: st.memoryRemainingBytes,
      expectedDowntimeMs: st.expectedDowntimeMs,
      maxDowntimeMs: 300,
    });
    expect(e.converges).toBe(false);
    // the suggested bandwidth makes the model converge
    let s2 = startPrecopy(precopyParamsFor(131072, e.suggestedBandwidthMiBs, 300, 14));
    for (let t = 0; t < 120_000 && s2.phase !== 'done'; t += 200) s2 = advance(s2, 200);
    expect(s2.phase).toBe('done');
  });
});
