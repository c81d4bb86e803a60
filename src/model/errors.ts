/**
 * The one error type users see. `code` is stable (it appears in `--json` output);
 * `message` is one clear line, never a stack trace.
 */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG'
  | 'STORE_OPEN'
  | 'STORE_LOCKED'
  | 'STORE_AUTH'
  | 'STORE_EXISTS'
  | 'STORE_WRITE'
  | 'AUDIT_FAILED'
  | 'AUDIT_BROKEN'
  | 'AUDIT_HEAD_MISMATCH'
  | 'NOT_FOUND'
  | 'AMBIGUOUS'
  | 'NOT_AVAILABLE'
  | 'READ_ONLY'
  | 'PERMISSION'
  | 'CONFLICT'
  | 'REFUSED'
  | 'HOST_ERROR'
  | 'HOST_DOWN'
  | 'UNSUPPORTED'
  | 'TIMEOUT'
  | 'INTERNAL';

export class BillboardError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'BillboardError';
  }
}

/** One line for a user, whatever was thrown. */
export function errorLine(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}

/** Exit code for errors raised while starting up (config, store). */
export function exitCodeFor(e: unknown): number {
  if (e instanceof BillboardError) {
    return ['USAGE', 'CONFIG', 'STORE_OPEN', 'STORE_LOCKED', 'STORE_AUTH', 'STORE_EXISTS'].includes(e.code) ? 2 : 1;
  }
  return 1;
}
