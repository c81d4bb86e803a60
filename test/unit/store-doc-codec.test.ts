import { describe, expect, it } from 'vitest';
import { nextEntry } from '../../src/store/audit-chain.js';
import { decodeDoc, encodeDoc, type StoreDoc } from '../../src/store/doc-codec.js';
import type { AuditEntry, Registration } from '../../src/model/types.js';

function doc(n: number): StoreDoc {
  const registrations: Registration[] = [];
  const audit: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    registrations.push({ uuid: `${i}`.padStart(8, '0') + '-0000-4000-8000-000000000000', name: `vm-${i}\nwith "newline", comma,`, macs: ['52:54:00:00:00:01'], state: 'pending', origin: 'operator', createdAt: i, createdBy: 'ü-user' });
    audit.push(nextEntry(audit[audit.length - 1], 'ü-user', 'register', registrations[i]!.uuid, { note: 'a,\nb' }, i));
  }
  return { format: 1, createdAt: '2026-01-01T00:00:00.000Z', registrations, audit, findings: [{ id: 'F-1' } as never], jobs: [] };
}

describe('store document codec', () => {
  it('round-trips, including strings with newlines, quotes, commas and non-ASCII', async () => {
    for (const n of [0, 1, 3, 1000]) {
      const d = doc(n);
      const copy = JSON.parse(JSON.stringify(d));
      const back = await decodeDoc(encodeDoc(d));
      expect(back).toEqual(copy);
    }
  });

  it('is plain JSON (any JSON tool reads it) with one record per line', () => {
    const d = doc(3);
    const text = encodeDoc(d).toString('utf8');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(d)));
    const lines = text.split('\n');
    expect(lines[1]).toBe('"registrations":[');
    expect(lines.filter((l) => l.startsWith('{"uuid"'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('{"seq"'))).toHaveLength(3);
  });

  it('reads any other JSON layout of the same document (e.g. edited by hand, or compact)', async () => {
    const d = doc(5);
    const expected = JSON.parse(JSON.stringify(d));
    expect(await decodeDoc(Buffer.from(JSON.stringify(d)))).toEqual(expected);
    expect(await decodeDoc(Buffer.from(JSON.stringify(d, null, 2)))).toEqual(expected);
  });

  it('refuses a truncated or corrupt document', async () => {
    const bytes = encodeDoc(doc(10));
    await expect(decodeDoc(bytes.subarray(0, bytes.length - 40))).rejects.toThrow();
    const bad = Buffer.from(bytes);
    bad[bytes.indexOf('{"seq":4') + 1] = 0x78; // {xseq":4… is not JSON
    await expect(decodeDoc(bad)).rejects.toThrow();
  });

  it('freezes records once encoded, so cached bytes cannot go stale', async () => {
    const d = doc(2);
    encodeDoc(d);
    expect(Object.isFrozen(d.registrations[0])).toBe(true);
    expect(Object.isFrozen(d.registrations[0]!.macs)).toBe(true);
    expect(Object.isFrozen(d.audit[1]!.details)).toBe(true);
    expect(() => {
      (d.registrations[0] as { name: string }).name = 'x';
    }).toThrow(TypeError);
    const back = await decodeDoc(encodeDoc(d));
    expect(Object.isFrozen(back.audit[0])).toBe(true);
    // a replaced record is re-encoded; the others come from the cache
    const next = { ...d, registrations: [{ ...d.registrations[0]!, state: 'approved' as const }, d.registrations[1]!] };
    expect(JSON.parse(encodeDoc(next).toString()).registrations[0].state).toBe('approved');
  });
});
