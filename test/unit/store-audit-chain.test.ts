import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/model/types.js';
import { GENESIS, canonicalJson, entryHash, nextEntry, verifyChain } from '../../src/store/audit-chain.js';

/** A chain of n entries, one second apart, with varied actors/actions. */
function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      nextEntry(
        out[out.length - 1],
        i % 2 ? 'alice' : 'bob',
        ['register', 'approve', 'stop'][i % 3]!,
        `vm-${i}`,
        { n: i, note: `x${i}` },
        1_700_000_000_000 + i * 1000,
      ),
    );
  }
  return out;
}

describe('canonicalJson', () => {
  it('sorts keys at every level, so key order never changes a hash', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('drops undefined fields (as JSON does) and escapes strings', () => {
    expect(canonicalJson({ a: undefined, b: 'q"\n' })).toBe('{"b":"q\\"\\n"}');
    expect(canonicalJson(undefined)).toBe('null');
  });
});

describe('entry hash', () => {
  it('is SHA-256 over the canonical entry including prevHash (and nothing else)', () => {
    const e = nextEntry(undefined, 'root', 'register', '1111', { name: 'web-01' }, Date.UTC(2026, 0, 1));
    const expected = createHash('sha256')
      .update(
        canonicalJson({
          seq: 1,
          time: '2026-01-01T00:00:00.000Z',
          actor: 'root',
          action: 'register',
          target: '1111',
          details: { name: 'web-01' },
          prevHash: GENESIS,
        }),
      )
      .digest('hex');
    expect(e.hash).toBe(expected);
    expect(entryHash(e)).toBe(expected);
    expect(e).toMatchObject({ seq: 1, prevHash: GENESIS, time: '2026-01-01T00:00:00.000Z' });
  });

  it('links each entry to the previous one and numbers them from 1', () => {
    const c = chain(5);
    expect(c.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < c.length; i++) expect(c[i]!.prevHash).toBe(c[i - 1]!.hash);
  });

  it('changes when any field changes, including details deep inside', () => {
    const e = nextEntry(undefined, 'root', 'approve', 't', { bound: { macs: ['a'] } }, 0);
    const variants: Omit<AuditEntry, 'hash'>[] = [
      { ...e, actor: 'roop' },
      { ...e, action: 'reject' },
      { ...e, target: 'u' },
      { ...e, time: '1970-01-01T00:00:00.001Z' },
      { ...e, seq: 2 },
      { ...e, prevHash: '1'.repeat(64) },
      { ...e, details: { bound: { macs: ['b'] } } },
    ];
    for (const v of variants) expect(entryHash(v)).not.toBe(e.hash);
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain and reports the head hash', () => {
    const c = chain(20);
    expect(verifyChain(c)).toEqual({ ok: true, entries: 20, head: c[19]!.hash });
    expect(verifyChain([])).toEqual({ ok: true, entries: 0, head: GENESIS });
  });

  it('names the entry whose content was altered (one character of the actor)', () => {
    const c = chain(10);
    c[6] = { ...c[6]!, actor: c[6]!.actor.replace(/.$/, 'X') };
    const v = verifyChain(c);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.brokenAt).toBe(7);
    expect(v.reason).toMatch(/entry #7 .*altered/);
  });

  it('names the entry when details are altered', () => {
    const c = chain(4);
    c[1] = { ...c[1]!, details: { ...c[1]!.details, note: 'rewritten' } };
    expect(verifyChain(c)).toMatchObject({ ok: false, brokenAt: 2 });
  });

  it('catches a rehashed forgery by the broken link to the next entry', () => {
    const c = chain(6);
    const forged = { ...c[2]!, actor: 'mallory' };
    c[2] = { ...forged, hash: entryHash(forged) };
    const v = verifyChain(c);
    expect(v).toMatchObject({ ok: false, brokenAt: 4 });
    if (!v.ok) expect(v.reason).toMatch(/prevHash/);
  });

  it('catches a removed entry and a reordering', () => {
    const removed = chain(6);
    removed.splice(3, 1);
    expect(verifyChain(removed)).toMatchObject({ ok: false, brokenAt: 5 });
    const swapped = chain(6);
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    const v = verifyChain(swapped);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(/removed or reordered/);
  });
});
