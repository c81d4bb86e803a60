import { describe, expect, it } from 'vitest';
import { nextEntry } from '../../src/store/audit-chain.js';
import { AuditTrail } from '../../src/store/audit-trail.js';
import { decodeDoc, encodeDoc, parseAuditLine, type StoreDoc } from '../../src/store/doc-codec.js';
import { docToJson } from '../support/store-files.js';
import type { AuditEntry, Registration } from '../../src/model/types.js';

function doc(n: number): StoreDoc {
  const registrations: Registration[] = [];
  const audit: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    registrations.push({
      uuid: `${i}`.padStart(8, '0') + '-0000-4000-8000-000000000000',
      name: `vm-${i}\nwith "newline", comma,`,
      macs: ['52:54:00:00:00:01'],
      state: 'pending',
      origin: 'operator',
      createdAt: i,
      createdBy: 'ü-user',
    });
    audit.push(nextEntry(audit[audit.length - 1], 'ü-user', 'register', registrations[i]!.uuid, { note: 'a,\nb' }, i));
  }
  return {
    format: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    registrations,
    audit: AuditTrail.of(audit, parseAuditLine),
    findings: [{ id: 'F-1' } as never],
    jobs: [],
    beacons: new Map([['00000000-0000-4000-8000-000000000000', { bootId: 'b', seq: 7, at: 1 }]]),
  };
}
const plainJson = (d: StoreDoc) => JSON.parse(JSON.stringify(docToJson(d)));

describe('store document codec', () => {
  it('round-trips, including strings with newlines, quotes, commas and non-ASCII', async () => {
    for (const n of [0, 1, 3, 1000]) {
      const d = doc(n);
      const copy = plainJson(d);
      const back = await decodeDoc(encodeDoc(d));
      expect(plainJson(back)).toEqual(copy);
    }
  });

  it('is plain JSON (any JSON tool reads it) with one record per line', () => {
    const d = doc(3);
    const text = encodeDoc(d).toString('utf8');
    expect(JSON.parse(text)).toEqual(plainJson(d));
    const lines = text.split('\n');
    expect(lines[1]).toBe('"registrations":[');
    expect(lines.filter((l) => l.startsWith('{"uuid"'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('{"seq"'))).toHaveLength(3);
  });

  it('reads any other JSON layout of the same document (e.g. edited by hand, or compact)', async () => {
    const d = doc(5);
    const expected = plainJson(d);
    expect(plainJson(await decodeDoc(Buffer.from(JSON.stringify(expected))))).toEqual(expected);
    expect(plainJson(await decodeDoc(Buffer.from(JSON.stringify(expected, null, 2))))).toEqual(expected);
  });

  it('refuses a truncated or corrupt document', async () => {
    const bytes = encodeDoc(doc(10));
    await expect(decodeDoc(bytes.subarray(0, bytes.length - 40))).rejects.toThrow();
    const bad = Buffer.from(bytes);
    bad[bytes.indexOf('{"uuid":"00000004') + 1] = 0x78; // {xuuid":… is not JSON
    await expect(decodeDoc(bad)).rejects.toThrow();
    const notAnEntry = Buffer.from(bytes);
    notAnEntry[bytes.indexOf('{"seq":4')] = 0x5b; // [seq… is not one entry
    await expect(decodeDoc(notAnEntry)).rejects.toThrow();
  });

  it('leaves audit entries unparsed until asked for, then parses each once', async () => {
    const d = doc(50);
    const back = await decodeDoc(encodeDoc(d));
    expect(back.audit.length).toBe(50);
    expect(Buffer.isBuffer(back.audit.raw(10))).toBe(true);
    expect(back.audit.last()).toEqual(plainJson(d).audit[49]);
    expect(Buffer.isBuffer(back.audit.raw(10))).toBe(true); // the last one only
    expect(Buffer.isBuffer(back.audit.raw(49))).toBe(false);
    const e10 = back.audit.at(10);
    expect(back.audit.at(10)).toBe(e10);
    // a corrupt line inside an entry is found when that entry is read, not before
    const bytes = encodeDoc(d);
    bytes[bytes.indexOf('{"seq":7,') + 2] = 0x22; // {""eq":7 … no longer JSON
    const bad = await decodeDoc(bytes);
    expect(() => bad.audit.at(6)).toThrow(SyntaxError);
    expect(bad.audit.at(5).seq).toBe(6);
  });

  it('an audit trail is an immutable view: appending leaves the older trail as it was', () => {
    const d = doc(3);
    const longer = d.audit.append(nextEntry(d.audit.last(), 'a', 'ack', 'F-1', {}, 9));
    expect(d.audit.length).toBe(3);
    expect(longer.length).toBe(4);
    // a rolled-back write: the shorter trail appends again, replacing the dropped entry
    const other = d.audit.append(nextEntry(d.audit.last(), 'b', 'stop', 'x', {}, 10));
    expect(other.at(3).actor).toBe('b');
    expect(other.slice().map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('freezes records once encoded, so cached bytes cannot go stale', async () => {
    const d = doc(2);
    encodeDoc(d);
    expect(Object.isFrozen(d.registrations[0])).toBe(true);
    expect(Object.isFrozen(d.registrations[0]!.macs)).toBe(true);
    expect(Object.isFrozen(d.audit.at(1).details)).toBe(true);
    expect(() => {
      (d.registrations[0] as { name: string }).name = 'x';
    }).toThrow(TypeError);
    const back = await decodeDoc(encodeDoc(d));
    expect(Object.isFrozen(back.audit.at(0))).toBe(true);
    // a replaced record is re-encoded; the others come from the cache
    const next = { ...d, registrations: [{ ...d.registrations[0]!, state: 'approved' as const }, d.registrations[1]!] };
    expect(JSON.parse(encodeDoc(next).toString()).registrations[0].state).toBe('approved');
  });
});
