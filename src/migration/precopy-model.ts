import type { JobStats } from '../model/types.js';
import { DEFAULT_MAX_DOWNTIME_MS } from './convergence.js';

// A model of QEMU's pre-copy for hosts that cannot migrate (libvirt's test driver). It follows the real algorithm:
// pass 1 sends all RAM; each later pass resends what the guest dirtied during the previous pass (bounded by its
// writable working set); when what is left fits in the allowed downtime, the guest is paused and the rest sent.
// Pure and deterministic: advance(state, dtMs) → state. The stage machine reads it exactly like libvirt stats.

const MiB = 1024 * 1024;

export interface PrecopyParams {
  memoryBytes: number;
  /** bytes/s the guest dirties */
  dirtyRateBps: number;
  /** the guest's writable working set: a pass never has more than this to resend */
  workingSetBytes: number;
  /** bytes/s; the link speed when the job has no cap */
  bandwidthBps: number;
  maxDowntimeMs: number;
  /** pages are resent in whole pages */
  pageSize?: number;
}

export interface PrecopyState {
  params: PrecopyParams;
  elapsedMs: number;
  iteration: number;
  /** bytes left in the current pass */
  remainingBytes: number;
  /** bytes dirtied so far during the current pass (the next pass's size) */
  dirtiedBytes: number;
  processedBytes: number;
  phase: 'pre-copy' | 'stop-and-copy' | 'done';
  /** ms spent paused (stop-and-copy) */
  downtimeMs: number;
}

export function startPrecopy(params: PrecopyParams): PrecopyState {
  return {
    params,
    elapsedMs: 0,
    iteration: 1,
    remainingBytes: params.memoryBytes,
    dirtiedBytes: 0,
    processedBytes: 0,
    phase: 'pre-copy',
    downtimeMs: 0,
  };
}

export function expectedDowntimeMs(s: PrecopyState): number {
  const left = s.phase === 'pre-copy' ? Math.min(s.params.workingSetBytes, Math.max(s.dirtiedBytes, s.remainingBytes)) : s.remainingBytes;
  return (left / s.params.bandwidthBps) * 1000;
}

/** Advance the model by dtMs of wall time. */
export function advance(s0: PrecopyState, dtMs: number): PrecopyState {
  const s = { ...s0 };
  const p = s.params;
  let t = dtMs;
  while (t > 0 && s.phase !== 'done') {
    if (s.phase === 'stop-and-copy') {
      // guest paused: nothing dirties, the remainder goes at full bandwidth
      const need = (s.remainingBytes / p.bandwidthBps) * 1000;
      const step = Math.min(t, need);
      const sent = (p.bandwidthBps * step) / 1000;
      s.remainingBytes = Math.max(0, s.remainingBytes - sent);
      s.processedBytes += sent;
      s.downtimeMs += step;
      s.elapsedMs += step;
      t -= step;
      if (s.remainingBytes <= 0.5) s.phase = 'done';
      continue;
    }
    const need = (s.remainingBytes / p.bandwidthBps) * 1000;
    const step = Math.min(t, need);
    const sent = (p.bandwidthBps * step) / 1000;
    s.remainingBytes = Math.max(0, s.remainingBytes - sent);
    s.processedBytes += sent;
    s.dirtiedBytes = Math.min(p.workingSetBytes, s.dirtiedBytes + (p.dirtyRateBps * step) / 1000);
    s.elapsedMs += step;
    t -= step;
    if (s.remainingBytes <= 0.5) {
      // end of a pass: either what was dirtied fits in the downtime (pause and finish) or start the next pass
      const next = s.dirtiedBytes;
      if ((next / p.bandwidthBps) * 1000 <= p.maxDowntimeMs) {
        s.phase = 'stop-and-copy';
      } else {
        s.iteration += 1;
      }
      s.remainingBytes = next;
      s.dirtiedBytes = 0;
      if (s.phase === 'stop-and-copy' && next <= 0.5) s.phase = 'done';
    }
  }
  return s;
}

/** libvirt-shaped stats for the model's state (what domjobinfo would say). */
export function precopyStats(s: PrecopyState, at: number): JobStats {
  const p = s.params;
  const done = s.phase === 'done';
  return {
    at,
    type: done ? 'completed' : 'unbounded',
    operation: 'Outgoing migration',
    elapsedMs: Math.round(s.elapsedMs),
    dataProcessedBytes: Math.round(s.processedBytes),
    dataRemainingBytes: Math.round(s.remainingBytes),
    dataTotalBytes: p.memoryBytes,
    memoryProcessedBytes: Math.round(s.processedBytes),
    memoryRemainingBytes: Math.round(s.remainingBytes),
    memoryTotalBytes: p.memoryBytes,
    bandwidthBps: p.bandwidthBps,
    // like QEMU, the dirty rate is known only after the first pass
    dirtyRateBps: s.iteration >= 2 ? p.dirtyRateBps : undefined,
    pageSize: p.pageSize ?? 4096,
    iteration: s.iteration,
    expectedDowntimeMs: done ? undefined : Math.round(expectedDowntimeMs(s)),
    totalDowntimeMs: done ? Math.max(1, Math.round(s.downtimeMs)) : undefined,
    source: 'simulated',
  };
}

/** The model's parameters for a VM of `memoryKiB`: a lightly loaded guest on a 1 GiB/s link unless capped. */
export function precopyParamsFor(memoryKiB: number, bandwidthMiBs?: number, maxDowntimeMs?: number, dirtyRateMiBs = 14): PrecopyParams {
  const memoryBytes = memoryKiB * 1024;
  return {
    memoryBytes,
    dirtyRateBps: dirtyRateMiBs * MiB,
    workingSetBytes: Math.min(memoryBytes, 64 * MiB),
    bandwidthBps: (bandwidthMiBs ?? 1024) * MiB,
    maxDowntimeMs: maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS,
  };
}
