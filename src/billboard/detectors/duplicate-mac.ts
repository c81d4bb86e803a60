import type { FindingDraft } from '../state.js';

export interface MacClaim {
  uuid: string;
  name: string;
  host: string;
}

/** DUPLICATE_MAC (high): one MAC (compared lower-case) on live domains of two or more identities. */
export function duplicateMac(mac: string, claims: readonly MacClaim[]): FindingDraft | undefined {
  const uuids = new Set(claims.map((c) => c.uuid));
  if (uuids.size < 2) return undefined;
  const sorted = [...claims].sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name));
  const claimants = sorted.map((c) => `${c.name} (${c.uuid.slice(0, 8)}) on ${c.host}`).join(', ');
  return {
    code: 'DUPLICATE_MAC',
    severity: 'high',
    key: `DUPLICATE_MAC:${mac.toLowerCase()}`,
    vm: '',
    hosts: [...new Set(sorted.map((c) => c.host))],
    evidence: `MAC ${mac.toLowerCase()} used by ${uuids.size} VMs: ${claimants}`,
  };
}
