import { describe, expect, it } from 'vitest';
import { shortIds } from '../../src/model/short-ids.js';
import { ipConflict, duplicateMac } from '../../src/billboard/detectors/index.js';
import { untrustedSourceDraft } from '../../src/billboard/untrusted.js';

const A = '11111111-2222-4333-8444-555555555555';
const B = '11111111-9999-4333-8444-555555555555';
const C = '22222222-0000-4000-8000-000000000000';

describe('shortIds', () => {
  it('8 characters where that is unique, longer where two share a prefix, never ending on a dash', () => {
    const s = shortIds([A, B, C]);
    expect(s.get(C)).toBe('22222222');
    expect(s.get(A)).toBe('11111111-2');
    expect(s.get(B)).toBe('11111111-9');
    expect(new Set(s.values()).size).toBe(3);
  });
  it('lengthens to the full UUID only for identical prefixes all the way; duplicates count once; case-insensitive', () => {
    const nearly = A.slice(0, -1) + '6';
    expect(shortIds([A, nearly]).get(A)).toBe(A);
    expect(shortIds([A, A.toUpperCase()])).toEqual(new Map([[A, '11111111']]));
    expect(shortIds([A], 4).get(A)).toBe('1111');
  });
});

describe('short UUIDs in evidence are unique among the VMs shown', () => {
  it('IP_CONFLICT', () => {
    const claim = (uuid: string, name: string) => ({ uuid, name, source: 'scan of h1', hosts: ['h1'] });
    const f = ipConflict('10.0.0.1', [claim(A, 'vm1'), claim(B, 'vm2')], 0);
    expect(f?.evidence).toContain('vm1 (11111111-2, scan of h1)');
    expect(f?.evidence).toContain('vm2 (11111111-9, scan of h1)');
    expect(ipConflict('10.0.0.1', [claim(A, 'vm1'), claim(C, 'vm3')], 0)?.evidence).toContain('vm1 (11111111, scan of h1)');
  });
  it('DUPLICATE_MAC', () => {
    const f = duplicateMac('52:54:00:00:00:01', [
      { uuid: A, name: 'vm1', host: 'h1' },
      { uuid: B, name: 'vm2', host: 'h2' },
    ]);
    expect(f?.evidence).toContain('vm1 (11111111-2) on h1, vm2 (11111111-9) on h2');
  });
});

describe('short UUIDs in a source tally', () => {
  it('the sample of identities a source claimed reads as distinct UUIDs', () => {
    const d = untrustedSourceDraft('FORGED_BEACON:from:10.0.0.9', {
      kind: 'forged',
      from: '10.0.0.9',
      firstAt: 0,
      lastAt: 0,
      datagrams: 2,
      identities: new Set([A, B]),
      sources: new Set(),
    });
    expect(d.evidence).toContain('2 identities (11111111-2, 11111111-9)');
  });
});
