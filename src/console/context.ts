import type { Logger } from 'pino';
import type { ResolvedConfig } from '../model/config.js';
import type { StoreApi } from '../store/api.js';
import type { ConsoleEvent } from './api.js';
import type { EngineService, MigrationService, ScannerService } from './services.js';

/** What a command handler may use. Subsystems are optional: a command whose subsystem is absent answers NOT_AVAILABLE. */
export interface ConsoleContext {
  actor: string;
  readOnly: boolean;
  mode: 'script' | 'tui';
  config: ResolvedConfig;
  store: StoreApi;
  engine?: EngineService;
  scanner?: ScannerService;
  migrations?: MigrationService;
  log: Logger;
  now: () => number;
}

export interface HandlerOutput {
  data: unknown;
  /** human-readable form for `script` without --json and for the TUI status line */
  text: string;
}

export type Handler = (
  cmd: import('./grammar.js').ParsedCommand,
  ctx: ConsoleContext,
  emit: (ev: ConsoleEvent) => void,
) => Promise<HandlerOutput>;
