import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// A writer's temp files sit beside the file they replace, named for it and a random tag:
// `.store.db.<random>.tmp` (durableWrite) and `.store.db.<random>.compact` (the journal's compaction).
// The name cannot be guessed, and the file is created exclusively (O_EXCL, O_NOFOLLOW, 0600): a file or
// symlink planted in the folder is never written through, and the new file has no other owner or mode.
export type TempKind = 'tmp' | 'compact';

/** A fresh temp file name beside `path`. */
export function tempPath(path: string, kind: TempKind): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.${kind}`);
}

/** Create `tmp` for writing: it must not exist (not even as a symlink); mode 0600 unless told otherwise. */
export function createTemp(tmp: string, mode = 0o600): Promise<FileHandle> {
  return open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
}

/**
 * Remove the temp files of writers that died mid-write (any pid): never part of the file, and safe to remove
 * once the caller holds the file's lock (no other writer can be using them).
 */
export async function removeTempFiles(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    // random tags, and the pid tags of older versions
    if (n.startsWith(prefix) && /^([0-9a-f]{24}|\d+)\.(tmp|compact)$/.test(n.slice(prefix.length)))
      await unlink(join(dir, n)).catch(() => {});
  }
}

/**
 * Replace `path` with `bytes` so that a crash at any point leaves either the old or the new file, and a
 * resolved promise means the new file is on disk: write temp, fsync it, rename over, fsync the directory.
 */
export async function durableWrite(path: string, bytes: Buffer | readonly Buffer[], mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPath(path, 'tmp');
  const fh = await createTemp(tmp, mode);
  try {
    if (Buffer.isBuffer(bytes)) await fh.writeFile(bytes);
    else await writeAll(fh, bytes);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/** fsync a folder: makes a rename in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** writev every buffer, in order, resuming after short writes. */
export async function writeAll(fh: FileHandle, buffers: readonly Buffer[]): Promise<void> {
  let list = buffers.filter((b) => b.length);
  while (list.length) {
    const batch = list.slice(0, 512); // IOV_MAX is 1024 on Linux
    let { bytesWritten } = await fh.writev(batch);
    let i = 0;
    while (i < batch.length && bytesWritten >= batch[i]!.length) bytesWritten -= batch[i++]!.length;
    const rest = i < batch.length ? [batch[i]!.subarray(bytesWritten), ...batch.slice(i + 1)] : [];
    list = [...rest, ...list.slice(batch.length)];
  }
}
