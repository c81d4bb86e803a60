// The log file (src/cli/logger.ts) holds VM names, hosts and operators: created 0600, an existing one narrowed to
// 0600, and a symlink, a non-file or another user's file refused with one CONFIG line.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileLogger } from '../../src/cli/logger.js';

const root = mkdtempSync(join(tmpdir(), 'bb-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

async function logOnce(path: string): Promise<void> {
  const log = fileLogger(path, 'info');
  log.info({ vm: 'web-01' }, 'hello');
  await new Promise<void>((r) => log.flush(() => r()));
  // the destination writes asynchronously (sync: false): wait for the line, not for a flush that may come first
  for (let i = 0; i < 200 && !readFileSync(path, 'utf8').includes('hello'); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('log file', () => {
  it('is created 0600 whatever the umask', async () => {
    const old = process.umask(0o022);
    try {
      const p = join(root, 'new', 'billboard.log');
      await logOnce(p);
      expect(mode(p)).toBe(0o600);
      expect(readFileSync(p, 'utf8')).toContain('hello');
    } finally {
      process.umask(old);
    }
  });

  it('an existing 0644 log is narrowed to 0600 and appended to', async () => {
    const p = join(root, 'old.log');
    writeFileSync(p, 'earlier line\n', { mode: 0o644 });
    chmodSync(p, 0o644);
    await logOnce(p);
    expect(mode(p)).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toMatch(/^earlier line\n.*hello/s);
  });

  it('refuses a log owned by another user, a symlink, and a folder (CONFIG), touching none of them', () => {
    const foreign = join(root, 'foreign.log');
    writeFileSync(foreign, '', { mode: 0o644 });
    chownSync(foreign, 4242, 4242);
    expect(() => fileLogger(foreign, 'info')).toThrow(
      expect.objectContaining({ code: 'CONFIG', message: expect.stringMatching(/owned by uid 4242/) }),
    );
    expect(mode(foreign)).toBe(0o644);
    const target = join(root, 'target');
    writeFileSync(target, 'keep');
    const link = join(root, 'link.log');
    symlinkSync(target, link);
    expect(() => fileLogger(link, 'info')).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringMatching(/symlink/) }));
    expect(readFileSync(target, 'utf8')).toBe('keep');
    const dir = join(root, 'dir.log');
    mkdirSync(dir);
    expect(() => fileLogger(dir, 'info')).toThrow(expect.objectContaining({ code: 'CONFIG' }));
  });
});
