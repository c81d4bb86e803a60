import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { BillboardError } from '../model/errors.js';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One writer per store: an exclusive lock file next to it holding the owner's pid. A lock whose pid is dead
 * (on this host) is stale and taken over; a live one is refused with its holder named.
 * Returns the release function (also run at process exit).
 */
export function acquireLock(storePath: string): () => void {
  const path = `${storePath}.lock`;
  const me: LockInfo = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: process.argv.slice(1, 3).map((a) => a.split('/').pop()).join(' '),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      fsyncSync(fd);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        if (readLock(path)?.pid === process.pid) {
          try {
            unlinkSync(path);
          } catch {
            /* already gone */
          }
        }
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new BillboardError('STORE_OPEN', `cannot lock ${storePath}: ${(e as Error).message}`);
      }
    }
    const holder = readLock(path);
    if (holder && (holder.host !== me.host || alive(holder.pid))) {
      throw new BillboardError(
        'STORE_LOCKED',
        `store ${storePath} is in use by pid ${holder.pid} on ${holder.host} (${holder.command || 'billboard'}, since ${holder.since}); only one billboard may open it at a time`,
        { pid: holder.pid },
      );
    }
    // Stale (dead holder) or unreadable (crashed mid-write): move it aside atomically, so that two
    // processes recovering at once cannot both win, then try again.
    try {
      renameSync(path, `${path}.stale.${process.pid}`);
      unlinkSync(`${path}.stale.${process.pid}`);
    } catch {
      /* someone else recovered it first; retry */
    }
  }
  throw new BillboardError('STORE_LOCKED', `could not lock ${storePath}: another process keeps taking the lock`);
}
