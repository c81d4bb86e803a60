import { NO_BEACON_COUNTERS, type AuditEntry, type BillboardSnapshot, type MigrationJob, type Registration } from '../model/types.js';
import type { CommandResult, ConsoleApi, ConsoleEvent } from './api.js';
import type { ConsoleContext } from './context.js';
import { pendingRows } from './commands/registrations.js';
import { runLine } from './dispatch.js';
import { complete, helpText, isMutatingLine } from './vocabulary.js';

const EMPTY_SNAPSHOT: BillboardSnapshot = Object.freeze({
  version: 0,
  at: 0,
  rows: [],
  findings: [],
  hosts: [],
  beacons: NO_BEACON_COUNTERS,
});

/** ConsoleApi over a running context: what the TUI and scripts see. */
export class Console implements ConsoleApi {
  private listeners = new Set<() => void>();
  private readonly onChange = () => this.notify();

  constructor(readonly ctx: ConsoleContext) {
    ctx.engine?.on('change', this.onChange);
  }

  get readOnly() {
    return this.ctx.readOnly;
  }

  get actor() {
    return this.ctx.actor;
  }

  async run(line: string, onEvent?: (ev: ConsoleEvent) => void): Promise<CommandResult> {
    const r = await runLine(line, this.ctx, (ev) => {
      onEvent?.(ev);
      this.notify();
    });
    this.notify();
    return r;
  }

  snapshot(): BillboardSnapshot {
    return this.ctx.engine?.snapshot() ?? EMPTY_SNAPSHOT;
  }

  jobs(): readonly MigrationJob[] {
    return this.ctx.migrations?.jobs() ?? [];
  }

  pending(): readonly Registration[] {
    return pendingRows(this.ctx.store.registrations());
  }

  auditLog(last?: number): readonly AuditEntry[] {
    return this.ctx.store.auditLog(last);
  }

  async migrationChoices(vmRef: string) {
    return this.ctx.migrations ? this.ctx.migrations.choices(vmRef) : [];
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** subsystems call this when jobs or hosts change outside an engine 'change' */
  notify(): void {
    for (const l of this.listeners) l();
  }

  complete(partial: string): string[] {
    return complete(partial);
  }

  help(command?: string): string {
    return helpText(command);
  }

  isMutating(line: string): boolean {
    return isMutatingLine(line);
  }

  attachment(): string {
    return this.ctx.role ? `${this.ctx.actor} (${this.ctx.role})` : 'embedded';
  }

  dispose(): void {
    this.ctx.engine?.off('change', this.onChange);
    this.listeners.clear();
  }
}
