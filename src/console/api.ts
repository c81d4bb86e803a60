import type { AuditEntry, BillboardSnapshot, MigrationEvent, MigrationJob, PreCheck, Registration } from '../model/types.js';

/** One command's outcome, exactly as `script --json` prints it. */
export type CommandResult =
  { command: string; ok: true; data: unknown; text?: string } | { command: string; ok: false; error: { code: string; message: string } };

/** Streamed while a command runs (e.g. `watch`): printed as {"event": …} lines by script --json. */
export type ConsoleEvent = MigrationEvent | { type: 'info'; message: string };

/**
 * Everything a view (tui/) or a script needs, and nothing more: views never touch hosts, the store or the engine.
 * Implemented by console/console.ts over the running engine.
 */
export interface ConsoleApi {
  readonly readOnly: boolean;
  readonly actor: string;
  /** run one line of the command grammar (the `:` palette and `script` use this) */
  run(line: string, onEvent?: (ev: ConsoleEvent) => void): Promise<CommandResult>;
  /** cheap: the engine's current immutable snapshot (same object until something changes) */
  snapshot(): BillboardSnapshot;
  jobs(): readonly MigrationJob[];
  pending(): readonly Registration[];
  auditLog(last?: number): readonly AuditEntry[];
  /** pre-checks of migrating VM to each other host, for the destination picker */
  migrationChoices(vmRef: string): Promise<{ host: string; ok: boolean; checks: PreCheck[] }[]>;
  /** called (unthrottled) whenever the snapshot, jobs or registry change; returns unsubscribe */
  subscribe(listener: () => void): () => void;
  /** command names and flags for palette completion */
  complete(partial: string): string[];
  /** `help` text for the whole grammar or one command */
  help(command?: string): string;
  /** true for commands that change something (refused in read-only mode) */
  isMutating(line: string): boolean;
  /** the header's words on where this console runs: "embedded", or who is attached to which service */
  attachment?(): string;
}
