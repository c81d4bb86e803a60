// The agent's sequence numbers, kept so that they survive restarts and crashes without ever being reused.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { checkOwnFile } from './own-file.js';

/**
 * Write-ahead sequence reservation. The file holds the highest seq this agent may have used; before using a seq
 * above it, the agent reserves a further block (write a new temp file, fsync, rename, fsync dir). After a crash
 * the agent resumes above the reservation, so a seq is never reused, at the cost of a gap. The temp file has a
 * random name and is created exclusively without following links (mode 0600), so nothing planted in the folder
 * is written through or inherited.
 */
export class SeqStore {
  private seq = 0;
  private reserved = 0;
  constructor(
    readonly file: string,
    private readonly block = 1000,
  ) {}

  open(): void {
    let text: string | undefined;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new Error(`state file ${this.file} is a symbolic link: refusing it`, { cause: e });
      if (code !== 'ENOENT') throw new Error(`cannot read state file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    if (fd !== undefined) {
      try {
        checkOwnFile(fs.fstatSync(fd), this.file, 'state file');
        text = fs.readFileSync(fd, 'utf8');
      } finally {
        fs.closeSync(fd);
      }
    }
    if (text !== undefined) {
      let r: unknown;
      try {
        r = (JSON.parse(text) as { reserved?: unknown }).reserved;
      } catch {
        r = undefined;
      }
      if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) {
        throw new Error(`state file ${this.file} is corrupt; remove it only if no other copy of this agent ran with this key`);
      }
      this.seq = r;
      this.reserved = r;
    }
  }

  next(): number {
    if (this.seq >= Number.MAX_SAFE_INTEGER)
      throw new Error(`state file ${this.file}: sequence numbers are used up (2^53-1); make a new key`);
    if (this.seq >= this.reserved) this.reserve(Math.min(this.seq + this.block, Number.MAX_SAFE_INTEGER));
    return ++this.seq;
  }

  private reserve(upto: number): void {
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${randomBytes(8).toString('hex')}.tmp`);
    const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    const fd = fs.openSync(tmp, flags, 0o600);
    try {
      try {
        fs.fchmodSync(fd, 0o600); // the umask may have narrowed it, never widened; make it exact
        fs.writeSync(fd, JSON.stringify({ v: 1, reserved: upto }) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    try {
      const dfd = fs.openSync(path.dirname(this.file), 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // some filesystems refuse fsync on a directory; the rename is still ordered after the data fsync
    }
    this.reserved = upto;
  }
}
