import type { CompletedMove, MigrationWindow } from './state.js';

const NO_WINDOWS: readonly MigrationWindow[] = Object.freeze([]);

/**
 * What the migration manager told the engine to expect: open windows (the VM may be live on source and destination)
 * and the last completed move per identity (the destination is an authorized place; a leftover on the source is a
 * ghost until a scan shows it discharged).
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
      this.moves.set(w.uuid, { job: w.job, uuid: w.uuid, source: w.source, destination: w.destination, committedAt: w.committedAt ?? now });
    }
    return w.uuid;
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

  /** identities whose migration checks depend on a scan of `host` (any open window, and moves away from it) */
  watchedBy(host: string): string[] {
    const out = [...this.windows.values()].map((w) => w.uuid);
    for (const m of this.moves.values()) if (m.source === host) out.push(m.uuid);
    return out;
  }

  forget(uuid: string): void {
    this.moves.delete(uuid);
  }
}
