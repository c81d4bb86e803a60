// resolveRegistration (issue 13.2): a full UUID always wins; a reference that matches a name and a UUID prefix is
// AMBIGUOUS and the message names both; names compare exactly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { KeySource } from '../../src/store/crypto.js';
import { createStore } from '../../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'bb-store-resolve-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const key: KeySource = { kind: 'keyfile', key: Buffer.alloc(32, 6), file: '/k' };
let n = 0;
const fresh = () => createStore(join(root, `s${++n}`, 'store.db'), key);
const DB = '3f2a0000-1111-4222-8333-444444444444';
const WEB = 'aaaa0000-1111-4222-8333-444444444444';
const ROGUE = 'bbbb0000-1111-4222-8333-444444444444';

describe('resolveRegistration', () => {
  it("a rogue named like another VM's short UUID is AMBIGUOUS, naming both, never silently one of them", async () => {
    const s = await fresh();
    await s.register({ uuid: DB, name: 'db-01', origin: 'operator' }, 'a');
    await s.register({ uuid: ROGUE, name: '3f2a', origin: 'beacon' }, 'beacon');
    const e = (() => {
      try {
        s.resolveRegistration('3f2a');
      } catch (err) {
        return err as { code: string; message: string };
      }
      throw new Error('resolved');
    })();
    expect(e.code).toBe('AMBIGUOUS');
    expect(e.message).toContain(`db-01 (${DB}, by UUID prefix)`);
    expect(e.message).toContain(`3f2a (${ROGUE}, by name)`);
    expect(e.message).toMatch(/use the full UUID/);
    // the full UUIDs still reach each one
    expect(s.resolveRegistration(DB).name).toBe('db-01');
    expect(s.resolveRegistration(ROGUE).name).toBe('3f2a');
    await s.close();
  });

  it('a full UUID always wins over a name that spells it', async () => {
    const s = await fresh();
    await s.register({ uuid: WEB, name: 'web-01', origin: 'operator' }, 'a');
    await s.register({ uuid: ROGUE, name: WEB, origin: 'beacon' }, 'beacon');
    expect(s.resolveRegistration(WEB).uuid).toBe(WEB);
    expect(s.resolveRegistration(WEB.toUpperCase()).uuid).toBe(WEB);
    await s.close();
  });

  it('names compare exactly: case, spaces and look-alikes do not match', async () => {
    const s = await fresh();
    await s.register({ uuid: WEB, name: 'web-01', origin: 'operator' }, 'a');
    expect(s.resolveRegistration('web-01').uuid).toBe(WEB);
    for (const ref of ['Web-01', 'WEB-01', ' web-01', 'web-01 ', 'web\u201101']) {
      expect(() => s.resolveRegistration(ref), ref).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    }
    await s.close();
  });

  it('a unique prefix resolves; a prefix shared by several is AMBIGUOUS listing them', async () => {
    const s = await fresh();
    await s.register({ uuid: WEB, name: 'web-01', origin: 'operator' }, 'a');
    await s.register({ uuid: 'aaaa1111-1111-4222-8333-444444444444', name: 'web-02', origin: 'operator' }, 'a');
    expect(s.resolveRegistration('aaaa0').name).toBe('web-01');
    expect(() => s.resolveRegistration('aaaa')).toThrow(
      expect.objectContaining({ code: 'AMBIGUOUS', message: expect.stringMatching(/web-01 .*web-02/) }),
    );
    await s.close();
  });
});
