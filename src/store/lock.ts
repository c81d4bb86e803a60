import { closeSync, constants, fstatSync, ftruncateSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { tryLock } from 'fs-native-extensions';
import { BillboardError, errorLine } from '../model/errors.js';

// One writer per store: an exclusive kernel lock (an open-file-description lock, fcntl F_OFD_SETLK on
// Linux, through fs-native-extensions) on `<store>.lock`. The kernel decides who holds it and drops it the
// moment the holder's process ends, however it ends: there is no stale lock to detect or take over, and
// no window where two processes both believe they recovered one. The file also names its holder (pid,
// host, command, since) for the "in use" message; that text is only information, never the lock.

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

function readInfo(fd: number): LockInfo | undefined {
  try {
    const buf = Buffer.alloc(1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const info = JSON.parse(buf.subarray(0, n).toString('utf8')) as LockInfo;
    return Number.isSafeInteger(info.pid) && typeof info.host === 'string' ? info : undefined;
  } catch {
    return undefined;
  }
}

function inUse(storePath: string, holder: LockInfo | undefined): BillboardError {
  // The text may still be a previous holder's (the new one has the lock but has not written it yet).
  const current = holder && (holder.host !== hostname() || alive(holder.pid)) ? holder : undefined;
  return new BillboardError(
    'STORE_LOCKED',
    current
      ? `store ${storePath} is in use by pid ${current.pid} on ${current.host} (${current.command || 'billboard'}, ` +
          `since ${current.since}); only one billboard may open it at a time`
      : `store ${storePath} is in use by another billboard process that is just starting; only one billboard may open it at a time`,
    current ? { pid: current.pid } : undefined,
  );
}

/**
 * Take the store's writer lock or throw STORE_LOCKED naming the holder. Returns the release function (also
 * run at process exit; the kernel releases the lock anyway when the process ends).
 */
export function acquireLock(storePath: string): () => void {
  const path = `${storePath}.lock`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      throw new BillboardError('STORE_OPEN', `cannot lock ${storePath}: ${path}: ${errorLine(e)}`);
    }
    try {
      if (!fstatSync(fd).isFile()) throw new BillboardError('STORE_OPEN', `cannot lock ${storePath}: ${path} is not a regular file`);
      if (!tryLock(fd)) throw inUse(storePath, readInfo(fd));
      // A releasing holder unlinks the file while it still holds the lock: a lock taken on that unlinked
      // file guards nothing, so make sure the path still names the file we locked.
      const mine = fstatSync(fd);
      const now = statSync(path, { throwIfNoEntry: false });
      if (!now || now.ino !== mine.ino || now.dev !== mine.dev) {
        closeSync(fd);
        continue;
      }
      const info: LockInfo = {
        pid: process.pid,
        host: hostname(),
        since: new Date().toISOString(),
        command: process.argv
          .slice(1, 3)
          .map((a) => a.split('/').pop())
          .join(' '),
      };
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(info), 0);
    } catch (e) {
      closeSync(fd);
      if (e instanceof BillboardError) throw e;
      throw new BillboardError('STORE_OPEN', `cannot lock ${storePath}: ${errorLine(e)}`);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      try {
        unlinkSync(path); // while still held: the next holder creates a fresh file
      } catch {
        /* already gone */
      }
      closeSync(fd);
    };
    process.on('exit', release);
    return release;
  }
  throw new BillboardError('STORE_LOCKED', `could not lock ${storePath}: the lock file keeps being replaced`);
}
