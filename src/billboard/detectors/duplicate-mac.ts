import { shortIds } from '../../model/short-ids.js';
import type { FindingDraft } from '../state.js';

export interface MacClaim {
  uuid: string;
  name: string;
  host: string;
}

/**
 * DUPLICATE_MAC (high): one MAC (compared lower-case) on live domains of two or more identities: one of them
 * answers for the other on the LAN. Short UUIDs are unique among the claimants (shortIds).
 */
export function duplicateMac(mac: string, claims: readonly MacClaim[]): FindingDraft | undefined {
  const uuids = new Set(claims.map((c) => c.uuid));
  if (uuids.size < 2) return undefined;
  const sorted = [...claims].sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name));
  const short = shortIds(uuids);
  const claimants = sorted.map((c) => `${c.name} (${short.get(c.uuid.toLowerCase())}) on ${c.host}`).join(', ');
  return {
    code: 'DUPLICATE_MAC',
    severity: 'high',
    key: `DUPLICATE_MAC:${mac.toLowerCase()}`,
    vm: '',
    hosts: [...new Set(sorted.map((c) => c.host))],
    evidence: `MAC ${mac.toLowerCase()} used by ${uuids.size} VMs: ${claimants}`,
  };
}
