import { shortIds } from '../../model/short-ids.js';
import type { FindingDraft } from '../state.js';

export interface IpClaim {
  uuid: string;
  name: string;
  /** "beacon from 10.0.0.5" or "scan of lab-a" */
  source: string;
  hosts: string[];
}

/**
 * IP_CONFLICT (high): one IP claimed at the same time by two identities. `flips` counts how often the last claimant
 * changed (arpwatch's flip-flop) and is part of the evidence. Short UUIDs are unique among the claimants (shortIds).
 */
export function ipConflict(ip: string, claims: readonly IpClaim[], flips: number): FindingDraft | undefined {
  const uuids = new Set(claims.map((c) => c.uuid));
  if (uuids.size < 2) return undefined;
  const sorted = [...claims].sort((a, b) => a.name.localeCompare(b.name));
  const short = shortIds(uuids);
  const claimants = sorted.map((c) => `${c.name} (${short.get(c.uuid.toLowerCase())}, ${c.source})`).join(', ');
  return {
    code: 'IP_CONFLICT',
    severity: 'high',
    key: `IP_CONFLICT:${ip}`,
    vm: '',
    hosts: [...new Set(sorted.flatMap((c) => c.hosts))].sort(),
    evidence: `IP ${ip} claimed by ${uuids.size} VMs: ${claimants}${flips > 1 ? `; flip-flopped ${flips} times` : ''}`,
  };
}
