import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

// A writer's temp files sit beside the file they replace, named for it and the writer's pid:
// `.store.db.<pid>.tmp` (durableWrite) and `.store.db.<pid>.compact` (the journal's compaction).
export type TempKind = 'tmp' | 'compact';

/** The temp file this process uses beside `path`. */
export function tempPath(path: string, kind: TempKind): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${kind}`);
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
    if (n.startsWith(prefix) && /^\d+\.(tmp|compact)$/.test(n.slice(prefix.length))) await unlink(join(dir, n)).catch(() => {});
  }
}

/**
 * Replace `path` with `bytes` so that a crash at any point leaves either the old or the new file, and a
 * resolved promise means the new file is on disk: write temp, fsync it, rename over, fsync the directory.
 */
export async function durableWrite(path: string, bytes: Buffer | readonly Buffer[], mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = tempPath(path, 'tmp');
  const fh = await open(tmp, 'w', mode);
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
export async function writeAll(fh: import('node:fs/promises').FileHandle, buffers: readonly Buffer[]): Promise<void> {
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
