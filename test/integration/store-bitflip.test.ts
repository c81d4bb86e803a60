// A flipped bit never rolls the store back: every single flipped bit of a real store file fails the open
// loudly and leaves the file exactly as it was; the CLI says so in one line and exits 2. Only a change cut
// short at the end (never acknowledged) is dropped. Cutting the file between two changes is caught by an
// outside witness: `audit verify --expect-head HASH`.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BillboardError } from '../../src/model/errors.js';
import type { KeySource } from '../../src/store/crypto.js';
import { createStore, openStore } from '../../src/store/store.js';
import { requireDist, runBillboard, sha256File, stderrLines, tempLab, type TempLab } from './script-harness.js';

const labs: TempLab[] = [];
const root = mkdtempSync(join(tmpdir(), 'bb-bitflip-'));
beforeAll(requireDist);
afterAll(() => {
  labs.forEach((l) => l.cleanup());
  rmSync(root, { recursive: true, force: true });
});

const U1 = '11111111-2222-3333-4444-555555555555';
const U2 = '22222222-2222-3333-4444-555555555555';
const key: KeySource = { kind: 'keyfile', key: Buffer.alloc(32, 9), file: '/k' };

/** where each appended change starts (layout in src/store/store-file.ts: 80-byte snapshot head, 48-byte change head) */
function changeOffsets(file: Buffer): number[] {
  const snapEnd = 80 + Number(file.readBigUInt64BE(56));
  const out: number[] = [];
  for (let at = snapEnd; at < file.length; at += 48 + file.readUInt32BE(at)) out.push(at);
  return out;
}

describe('a flipped bit fails the open loudly', () => {
  it('every bit of a small real store file: the open fails (STORE_AUTH / STORE_OPEN) and the file is untouched', async () => {
    const path = join(root, 'store.db');
    const s = await createStore(path, key);
    await s.register({ uuid: U1, name: 'web-01', origin: 'operator' }, 'alice');
    await s.decide(U1, 'approved', 'bob');
    await s.decide(U1, 'revoked', 'bob', 'compromised');
    await s.close();
    const good = readFileSync(path);
    expect(changeOffsets(good)).toHaveLength(3);
    const codes = new Set<string>();
    for (let bit = 0; bit < good.length * 8; bit++) {
      const bad = Buffer.from(good);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      writeFileSync(path, bad);
      let code = 'opened';
      try {
        await (await openStore(path, key)).close();
      } catch (e) {
        code = e instanceof BillboardError ? e.code : String(e);
      }
      if (!/^STORE_(AUTH|OPEN)$/.test(code)) expect.fail(`bit ${bit} (byte ${bit >> 3}): ${code}`);
      codes.add(code);
      if (!readFileSync(path).equals(bad)) expect.fail(`bit ${bit}: the file was changed by a failed open`);
    }
    expect([...codes].sort()).toEqual(['STORE_AUTH', 'STORE_OPEN']);
    writeFileSync(path, good);
    const again = await openStore(path, key);
    expect(again.registration(U1)?.state).toBe('revoked');
    await again.close();
  }, 300_000);

  it("the high bit of a change's length (the rollback of issue 13.6): exit 2, one line, file untouched, still refused", async () => {
    const l = tempLab();
    labs.push(l);
    const r = await runBillboard(
      ['script', '--json'],
      l.env,
      `register web-01 --uuid ${U1}\napprove web-01\nrevoke web-01 --reason stolen\n`,
    );
    expect(r.code).toBe(0);
    const file = readFileSync(l.storePath);
    const offsets = changeOffsets(file);
    expect(offsets.length).toBeGreaterThanOrEqual(3);
    file[offsets[1]!]! ^= 0x80;
    writeFileSync(l.storePath, file);
    const before = sha256File(l.storePath);
    for (let i = 0; i < 2; i++) {
      const bad = await runBillboard(['script', '--json'], l.env, `audit verify\nregister db-01 --uuid ${U2}\n`);
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
      const lines = stderrLines(bad.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/cannot decrypt .*store\.db \(the header of change #2 at byte \d+ is damaged\)/);
      expect(sha256File(l.storePath)).toBe(before);
    }
  });

  it('a change cut short at the end is dropped; truncation between changes is caught by --expect-head', async () => {
    const l = tempLab();
    labs.push(l);
    const r = await runBillboard(['script', '--json'], l.env, `register web-01 --uuid ${U1}\napprove web-01\naudit verify\n`);
    expect(r.code).toBe(0);
    const head = r.json()[2]!.data.head as string;
    expect(head).toMatch(/^[0-9a-f]{64}$/);
    const witnessed = await runBillboard(['script'], l.env, `audit verify --expect-head ${head}\n`);
    expect(witnessed.code).toBe(0);
    expect(witnessed.stdout).toContain(head); // the whole head, to copy elsewhere
    // cut the last change off exactly at its start: the file is consistent, only the witness can tell
    const file = readFileSync(l.storePath);
    const offsets = changeOffsets(file);
    writeFileSync(l.storePath, file.subarray(0, offsets[offsets.length - 1]));
    const cut = await runBillboard(['script', '--json'], l.env, `audit verify --expect-head ${head}\n`);
    expect(cut.code).toBe(1);
    expect(cut.json()[0]).toMatchObject({ ok: false, error: { code: 'AUDIT_HEAD_MISMATCH' } });
    expect(cut.json()[0]!.error.message).toMatch(/rolled back|does not match/);
    // a change cut short (a crash while appending, never acknowledged) still opens
    writeFileSync(l.storePath, file.subarray(0, file.length - 5));
    const torn = await runBillboard(['script', '--json'], l.env, 'audit verify\n');
    expect(torn.code).toBe(0);
  });
});
