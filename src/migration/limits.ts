import { BillboardError } from '../model/errors.js';

/**
 * The hypervisor's own bounds on the two migration parameters an operator sets, so that a value outside them is
 * refused here with a clear line instead of reaching virsh (as `1e+300`) or being clamped silently by QEMU.
 *
 * - Bandwidth (MiB/s): libvirt's QEMU driver refuses more than INT64_MAX / 1 MiB (QEMU_DOMAIN_MIG_BANDWIDTH_MAX on
 *   a 64-bit host; QEMU's `max-bandwidth` is an int64 of bytes per second). 0 would mean "unlimited" to libvirt, so
 *   the smallest cap is 1.
 * - Max downtime (ms): QEMU's `downtime-limit` is at most MAX_MIGRATE_DOWNTIME, 2,000 s.
 */
export const MAX_BANDWIDTH_MIBS = Math.floor(Number.MAX_SAFE_INTEGER / 1024); // 8,796,093,022,207 = INT64_MAX >> 20
export const MAX_DOWNTIME_MS = 2_000_000;

export interface MigrationParams {
  bandwidthMiBs?: number;
  maxDowntimeMs?: number;
}

const LIMITS: Record<keyof MigrationParams, { max: number; what: string }> = {
  bandwidthMiBs: { max: MAX_BANDWIDTH_MIBS, what: 'bandwidth (MiB/s)' },
  maxDowntimeMs: { max: MAX_DOWNTIME_MS, what: 'max downtime (ms)' },
};

/** Throws USAGE unless every given value is a whole number within the hypervisor's bounds. */
export function checkMigrationParams(p: MigrationParams): void {
  for (const key of Object.keys(LIMITS) as (keyof MigrationParams)[]) {
    const v = p[key];
    if (v === undefined) continue;
    const { max, what } = LIMITS[key];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) {
      throw new BillboardError('USAGE', `${what} must be a whole number from 1 to ${max}, got ${String(v).slice(0, 32)}`);
    }
  }
}
