import type { Logger } from 'pino';
import type { ResolvedConfig, Role } from '../model/config.js';
import type { StoreApi } from '../store/api.js';
import type { ConsoleEvent } from './api.js';
import type { AlertService } from './health.js';
import type { CommandSpec, ParsedCommand } from './grammar.js';
import type { EngineService, MigrationService, ScannerService } from './services.js';

/** What a command handler may use. Subsystems are optional: a command whose subsystem is absent answers NOT_AVAILABLE. */
export interface ConsoleContext {
  actor: string;
  /** an operator attached to the service: what their role allows (console/permissions.ts); absent when embedded */
  role?: Role;
  readOnly: boolean;
  mode: 'script' | 'tui';
  config: ResolvedConfig;
  store: StoreApi;
  engine?: EngineService;
  scanner?: ScannerService;
  migrations?: MigrationService;
  /** alert sinks and the session's health (`alerts test`, `health`) */
  alerts?: AlertService;
  log: Logger;
  now: () => number;
}

export interface HandlerOutput {
  data: unknown;
  /** human-readable form for `script` without --json and for the TUI status line */
  text: string;
}

export type Handler = (cmd: ParsedCommand, ctx: ConsoleContext, emit: (ev: ConsoleEvent) => void) => Promise<HandlerOutput>;

/** One command, defined once: its words (what the grammar parses, completes and explains) and what it does. */
export interface Command extends CommandSpec {
  run: Handler;
}

/** Define a command (spec and handler side by side); the vocabulary (vocabulary.ts) lists them all. */
export function command(c: Command): Command {
  return c;
}
