import { constants, fchmodSync, fstatSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';
import { BillboardError, errorLine } from '../model/errors.js';

/** what no log line ever carries, wherever the logger writes (a file, or journald through stdout) */
export const LOG_REDACT = { paths: ['passphrase', '*.passphrase', 'key', '*.privateKey', 'privateKey'], censor: '[redacted]' };

/**
 * Logs go to a file, never to stdout/stderr (the TUI owns the terminal; scripts own stdout).
 * Secrets are redacted by path as a second line of defence; code never logs them on purpose.
 * The log names VMs, hosts and operators: it is created 0600, an existing one is narrowed to 0600, and one
 * that is a symlink, not a regular file, or owned by another user is refused (CONFIG, exit 2).
 */
export function fileLogger(path: string, level: string): Logger {
  if (level === 'silent') return pino({ level: 'silent' });
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch {
    return pino({ level: 'silent' });
  }
  const fd = openLogFile(path);
  return pino(
    {
      level,
      redact: LOG_REDACT,
    },
    pino.destination({ fd, sync: false }),
  );
}

/** Open the log for appending, checked on the opened file (so the file checked is the file written). */
export function openLogFile(path: string, uid = process.getuid?.()): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symlink' : errorLine(e);
    throw new BillboardError('CONFIG', `cannot use log file ${path}: ${why}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BillboardError('CONFIG', `cannot use log file ${path}: it is not a regular file`);
    if (uid !== undefined && st.uid !== uid) {
      throw new BillboardError('CONFIG', `cannot use log file ${path}: it is owned by uid ${st.uid}, not by this user (uid ${uid})`);
    }
    if (st.mode & 0o077) fchmodSync(fd, 0o600);
    return fd;
  } catch (e) {
    closeSync(fd);
    if (e instanceof BillboardError) throw e;
    throw new BillboardError('CONFIG', `cannot use log file ${path}: ${errorLine(e)}`);
  }
}
