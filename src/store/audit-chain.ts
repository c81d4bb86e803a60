import { createHash } from 'node:crypto';
import type { AuditEntry } from '../model/types.js';
import type { AuditVerdict } from './api.js';

export const GENESIS = '0'.repeat(64);

/** JSON with object keys sorted at every level: the same entry always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  const { seq, time, actor, action, target, details, prevHash } = e;
  return createHash('sha256').update(canonicalJson({ seq, time, actor, action, target, details, prevHash })).digest('hex');
}

export function nextEntry(
  prev: AuditEntry | undefined,
  actor: string,
  action: string,
  target: string,
  details: Record<string, unknown>,
  now = Date.now(),
): AuditEntry {
  const base = {
    seq: prev ? prev.seq + 1 : 1,
    time: new Date(now).toISOString(),
    actor,
    action,
    target,
    details,
    prevHash: prev ? prev.hash : GENESIS,
  };
  return { ...base, hash: entryHash(base) };
}

/** Recompute the chain; name the first entry whose hash, link or sequence does not hold. */
export function verifyChain(entries: readonly AuditEntry[]): AuditVerdict {
  let prevHash = GENESIS;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const fail = (reason: string): AuditVerdict => ({ ok: false, entries: entries.length, brokenAt: e.seq ?? i + 1, reason });
    if (e.seq !== i + 1) return fail(`entry #${i + 1} has seq ${e.seq}: an entry was removed or reordered`);
    if (e.prevHash !== prevHash) return fail(`entry #${e.seq} does not link to entry #${e.seq - 1} (prevHash mismatch)`);
    if (entryHash(e) !== e.hash) return fail(`entry #${e.seq} (${e.action} ${e.target}) was altered: its hash does not match its content`);
    prevHash = e.hash;
  }
  return { ok: true, entries: entries.length, head: prevHash };
}
