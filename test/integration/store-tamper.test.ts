// Tamper-evidence: decrypt the store with the right key, change one byte of one audit entry, re-encrypt
// with the same key (so the file itself is valid), and `audit verify` must fail naming that entry.
// The store's document is rebuilt (snapshot + appended changes), edited in its documented plain-JSON
// layout, and sealed again as a new snapshot (store-file.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey, readParams } from '../../src/store/crypto.js';
import { encodeDoc } from '../../src/store/doc-codec.js';
import { readDocument } from '../../src/store/journal-adapter.js';
import { sealFile } from '../support/store-files.js';
import { PASSPHRASE, requireDist, runBillboard, tempLab, type TempLab } from './script-harness.js';

const labs: TempLab[] = [];
beforeAll(requireDist);
afterAll(() => labs.forEach((l) => l.cleanup()));

/** Rewrite the store's plaintext with `edit`, sealed again with the same key and KDF parameters. */
async function rewritePlaintext(path: string, edit: (plain: Buffer) => Buffer): Promise<void> {
  const file = readFileSync(path);
  const params = readParams(file, path);
  const key = await deriveKey({ kind: 'passphrase', passphrase: PASSPHRASE }, params);
  const { doc } = await readDocument(file, key, path);
  writeFileSync(path, await sealFile(edit(Buffer.from(encodeDoc(doc))), key, params));
}

/** Byte offset of the first character of `field`'s string value inside the audit entry with this seq. */
function fieldOffset(plain: Buffer, seq: number, field: string): number {
  const text = plain.toString('latin1');
  const auditAt = text.indexOf('"audit":[');
  expect(auditAt).toBeGreaterThan(0);
  const entryAt = text.indexOf(`{"seq":${seq},`, auditAt);
  expect(entryAt, `entry #${seq}`).toBeGreaterThan(auditAt);
  const valueAt = text.indexOf(`"${field}":"`, entryAt);
  expect(valueAt).toBeGreaterThan(entryAt);
  return valueAt + field.length + 4;
}

async function threeEntries(): Promise<TempLab> {
  const l = tempLab();
  labs.push(l);
  const r = await runBillboard(
    ['script', '--json', '--actor', 'alice'],
    l.env,
    'register web-01 --uuid 11111111-2222-3333-4444-555555555555\nregister db-01 --uuid 22222222-2222-3333-4444-555555555555\napprove web-01 --note ok\naudit verify\n',
  );
  expect(r.code).toBe(0);
  expect(r.json()[3]).toMatchObject({ ok: true, data: { entries: 3 } });
  return l;
}

describe('audit tamper evidence', () => {
  it.each([1, 2, 3])('one byte of the actor of entry #%i changed: audit verify fails naming that entry', async (seq) => {
    const l = await threeEntries();
    await rewritePlaintext(l.storePath, (plain) => {
      const at = fieldOffset(plain, seq, 'actor');
      expect(String.fromCharCode(plain[at]!)).toBe('a');
      plain[at] = 'A'.charCodeAt(0); // alice → Alice
      return plain;
    });
    const r = await runBillboard(['script', '--json'], l.env, 'audit verify\naudit\n');
    expect(r.code).toBe(1);
    const [verify, log] = r.json();
    expect(verify).toMatchObject({ command: 'audit verify', ok: false, error: { code: 'AUDIT_BROKEN' } });
    expect(verify!.error.message).toMatch(new RegExp(`entry #${seq}\\b`));
    expect(verify!.error.message).toMatch(/altered/);
    // the store itself still opens: the log shows the forged entry, so the operator can see it
    expect(log!.ok).toBe(true);
    expect(log!.data[seq - 1].actor).toBe('Alice');
  });

  it("one byte of an entry's details changed (the approval note) is caught too", async () => {
    const l = await threeEntries();
    await rewritePlaintext(l.storePath, (plain) => {
      const text = plain.toString('latin1');
      const at = text.indexOf('"reason":"ok"', text.indexOf('"audit":['));
      expect(at).toBeGreaterThan(0);
      plain[at + '"reason":"'.length] = 'O'.charCodeAt(0);
      return plain;
    });
    const r = await runBillboard(['script', '--json'], l.env, 'audit verify\n');
    expect(r.json()[0]).toMatchObject({ ok: false, error: { code: 'AUDIT_BROKEN', message: expect.stringMatching(/entry #3\b/) } });
  });

  it('a deleted entry is caught at the entry after the gap', async () => {
    const l = await threeEntries();
    await rewritePlaintext(l.storePath, (plain) => {
      const doc = JSON.parse(plain.toString('utf8'));
      doc.audit.splice(1, 1);
      return Buffer.from(JSON.stringify(doc));
    });
    const r = await runBillboard(['script', '--json'], l.env, 'audit verify\n');
    expect(r.json()[0]).toMatchObject({
      ok: false,
      error: { code: 'AUDIT_BROKEN', message: expect.stringMatching(/#2\b.*(removed|reordered)/) },
    });
  });

  it('an untouched re-encryption still verifies (the check is on content, not on the file)', async () => {
    const l = await threeEntries();
    await rewritePlaintext(l.storePath, (plain) => plain);
    const r = await runBillboard(['script', '--json'], l.env, 'audit verify\n');
    expect(r.json()[0]).toMatchObject({ ok: true, data: { entries: 3 } });
  });
});
