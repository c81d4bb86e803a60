import { BillboardError } from '../../model/errors.js';
import type { ConsoleContext } from '../context.js';
import type { EngineService, MigrationService, ScannerService } from '../services.js';

export function needEngine(ctx: ConsoleContext): EngineService {
  if (!ctx.engine) throw new BillboardError('NOT_AVAILABLE', 'the Billboard engine is not running in this session');
  return ctx.engine;
}

export function needScanner(ctx: ConsoleContext): ScannerService {
  if (!ctx.scanner) throw new BillboardError('NOT_AVAILABLE', 'host scanning is not running in this session');
  return ctx.scanner;
}

export function needMigrations(ctx: ConsoleContext): MigrationService {
  if (!ctx.migrations) throw new BillboardError('NOT_AVAILABLE', 'migrations are not available in this session');
  return ctx.migrations;
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
