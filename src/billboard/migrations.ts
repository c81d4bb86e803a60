import { ACTIVE_STATES, type CompletedMove, type MigrationWindow, type VmState } from './state.js';

const NO_WINDOWS: readonly MigrationWindow[] = Object.freeze([]);

/**
 * What the migration manager told the engine to expect: open windows (the VM may be live on source and destination)
 * and the last completed move per identity (the destination is an authorized place for it).
 *
 * After commitment the source must be discharged: until a scan made after the commit shows it no longer running
 * there, a live instance on the source is a MIGRATION_GHOST. That first scan closes the ghost window for good (a
 * later return to the source is a migration of its own: UNAUTHORIZED_MIGRATION, or DUPLICATE_UUID if live on both).
 */
export class MigrationWatch {
  private readonly windows = new Map<string, MigrationWindow>();
  private readonly moves = new Map<string, CompletedMove>();

  begin(w: { job: string; uuid: string; source: string; destination: string }, now: number): void {
    this.windows.set(w.job, { job: w.job, uuid: w.uuid, source: w.source, destination: w.destination, startedAt: now });
  }

  /** @returns the identity whose job committed */
  commit(job: string, now: number): string | undefined {
    const w = this.windows.get(job);
    if (w) w.committedAt = now;
    return w?.uuid;
  }

  /** @returns the identity whose job ended */
  end(job: string, outcome: 'completed' | 'failed' | 'aborted', now: number): string | undefined {
    const w = this.windows.get(job);
    if (!w) return undefined;
    this.windows.delete(job);
    if (outcome === 'completed') {
      const { job: id, uuid, source, destination, committedAt = now, dischargedAt } = w;
      this.moves.set(w.uuid, { job: id, uuid, source, destination, committedAt, ...(dischargedAt !== undefined ? { dischargedAt } : {}) });
    }
    return w.uuid;
  }

  /**
   * A scan of `host` ingested at `now` (after the table took it in): every committed window or move away from `host`
   * whose identity is not live there now is discharged. @returns the identities whose migration checks depend on
   * this scan (open windows, and moves away from `host` that were still waiting for it)
   */
  scanned(host: string, now: number, vmOf: (uuid: string) => Readonly<VmState> | undefined): string[] {
    const runsThere = (uuid: string): boolean => {
      const state = vmOf(uuid)?.instances.get(host)?.state;
      return state !== undefined && ACTIVE_STATES.has(state);
    };
    const waiting = (m: MigrationWindow | CompletedMove): boolean =>
      m.source === host && m.committedAt !== undefined && m.dischargedAt === undefined;
    const discharge = (m: MigrationWindow | CompletedMove): void => {
      if (now > m.committedAt! && !runsThere(m.uuid)) m.dischargedAt = now;
    };
    const out: string[] = [];
    for (const w of this.windows.values()) {
      if (waiting(w)) discharge(w);
      out.push(w.uuid);
    }
    for (const m of this.moves.values()) {
      if (!waiting(m)) continue;
      discharge(m);
      out.push(m.uuid);
    }
    return out;
  }

  windowsOf(uuid: string): readonly MigrationWindow[] {
    return this.windows.size ? [...this.windows.values()].filter((w) => w.uuid === uuid) : NO_WINDOWS;
  }

  migrating(uuid: string): boolean {
    if (this.windows.size === 0) return false;
    for (const w of this.windows.values()) if (w.uuid === uuid) return true;
    return false;
  }

  lastMove(uuid: string): CompletedMove | undefined {
    return this.moves.size ? this.moves.get(uuid) : undefined;
  }

  forget(uuid: string): void {
    this.moves.delete(uuid);
  }
}
