import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

/**
 * Logs go to a file, never to stdout/stderr (the TUI owns the terminal; scripts own stdout).
 * Secrets are redacted by path as a second line of defence; code never logs them on purpose.
 */
export function fileLogger(path: string, level: string): Logger {
  if (level === 'silent') return pino({ level: 'silent' });
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  } catch {
    return pino({ level: 'silent' });
  }
  return pino(
    {
      level,
      redact: { paths: ['passphrase', '*.passphrase', 'key', '*.privateKey', 'privateKey'], censor: '[redacted]' },
    },
    pino.destination({ dest: path, mkdir: true, sync: false }),
  );
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
