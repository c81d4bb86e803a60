import type fs from 'node:fs';

/**
 * Refuse a file that someone else could have written: owned by another user, or writable by group or others.
 * Whoever can write the state file can rewind the sequence; whoever can write the key file can swap the key.
 */
export function checkOwnFile(st: fs.Stats, file: string, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new Error(`${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${uid}): refusing it`);
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new Error(`${what} ${file} is writable by others (mode ${mode}): refusing it (chmod 600 it)`);
  }
}
