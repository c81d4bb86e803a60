import { MAX_BANDWIDTH_MIBS, MAX_DOWNTIME_MS } from './limits.js';
import type { ConvergenceEstimate, JobStats } from '../model/types.js';

const MiB = 1024 * 1024;
/** libvirt's default max downtime when none is set */
export const DEFAULT_MAX_DOWNTIME_MS = 300;
/** margin: the copy rate must beat the dirty rate by this factor to converge in a reasonable number of passes */
const HEADROOM = 1.25;

export interface ConvergenceInput {
  /** bytes/s of memory the guest dirties */
  dirtyRateBps?: number;
  /** bytes/s the migration achieves (or is capped at) */
  bandwidthBps?: number;
  /** bytes still to send in this pass */
  remainingBytes?: number;
  /** libvirt's own prediction of the final pause */
  expectedDowntimeMs?: number;
  /** the job's max downtime */
  maxDowntimeMs?: number;
}

/**
 * Will pre-copy converge? Pre-copy ends when what is left can be sent within the allowed downtime. Each pass
 * resends what the guest dirtied during the previous one, so passes shrink only while bandwidth > dirty rate:
 * with bandwidth ≤ dirty rate the remainder never drops below ~dirtyRate × downtime and the migration iterates
 * forever (unless the downtime allowance already covers the dirty working set). Pure: unit-tested.
 */
export function estimateConvergence(i: ConvergenceInput): ConvergenceEstimate {
  const maxDowntime = i.maxDowntimeMs ?? DEFAULT_MAX_DOWNTIME_MS;
  const bw = i.bandwidthBps ?? 0;
  const dirty = i.dirtyRateBps;
  if (!bw || bw <= 0) return { converges: true, advice: 'no bandwidth measured yet' };
  // what can be sent within the allowed pause at this bandwidth
  const sendableInDowntime = (bw * maxDowntime) / 1000;
  if (i.expectedDowntimeMs !== undefined && i.expectedDowntimeMs <= maxDowntime) {
    return { converges: true, advice: `converging: expected downtime ${Math.round(i.expectedDowntimeMs)} ms ≤ max ${maxDowntime} ms` };
  }
  if (dirty === undefined) return { converges: true, advice: 'no dirty rate measured yet (first pass)' };
  if (dirty * HEADROOM < bw) {
    const passes =
      i.remainingBytes && sendableInDowntime > 0
        ? Math.ceil(Math.log(Math.max(1, i.remainingBytes / sendableInDowntime)) / Math.log(bw / dirty))
        : undefined;
    const more = passes !== undefined ? `, about ${passes} more pass(es)` : '';
    return {
      converges: true,
      advice: `converging: copies ${mib(bw)} MiB/s vs guest dirtying ${mib(dirty)} MiB/s${more}`,
    };
  }
  // not converging: raise bandwidth above the dirty rate with headroom, or allow a pause long enough to send
  // what one pass leaves behind (the guest dirties ~dirty × pass time, bounded by what remains)
  // suggestions stay within what `tune` accepts (the hypervisor's own limits)
  const suggestedBandwidthMiBs = Math.min(MAX_BANDWIDTH_MIBS, Math.max(1, Math.ceil((dirty * HEADROOM * 1.2) / MiB)));
  const leftover = i.remainingBytes !== undefined && i.remainingBytes > 0 ? i.remainingBytes : dirty;
  const suggestedMaxDowntimeMs = Math.min(MAX_DOWNTIME_MS, Math.max(1, Math.ceil((leftover / bw) * 1000 * 1.1)));
  return {
    converges: false,
    advice:
      `not converging: guest dirties ${mib(dirty)} MiB/s, migration copies ${mib(bw)} MiB/s — ` +
      `raise bandwidth to ≥ ${suggestedBandwidthMiBs} MiB/s or max downtime to ≥ ${suggestedMaxDowntimeMs} ms`,
    suggestedBandwidthMiBs,
    suggestedMaxDowntimeMs,
  };
}

/** The estimate for one job-stats sample. */
export function convergenceOf(s: JobStats, maxDowntimeMs?: number): ConvergenceEstimate {
  return estimateConvergence({
    dirtyRateBps: s.dirtyRateBps,
    bandwidthBps: s.bandwidthBps,
    remainingBytes: s.memoryRemainingBytes ?? s.dataRemainingBytes,
    expectedDowntimeMs: s.expectedDowntimeMs,
    maxDowntimeMs,
  });
}

function mib(bps: number): string {
  const v = bps / MiB;
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
