import { MIGRATABLE_STATES } from '../model/domain-states.js';
import type { VmRow } from '../model/types.js';

export interface ActivationInput {
  destination: string;
  vmName: string;
  /** the registration binds a beacon key: identity is re-verified by beacon, not by scan alone */
  keyed: boolean;
  keyFp?: string;
  /** the VM's last verified beacon before commitment */
  baseline?: VmRow['lastBeacon'];
  commitAt: number;
  /** false for simulated jobs: their agents are local processes, not the instance the scan shows */
  matchAddress: boolean;
}

/**
 * `pending`: not yet, and why (for the timeout message); `activated`: the evidence; `failed`: what waiting cannot
 * fix (the instance on the destination is not the one that left).
 */
export type Activation =
  { verdict: 'pending'; why: string } | { verdict: 'activated'; evidence: string } | { verdict: 'failed'; why: string };

/** "::ffff:10.0.0.5" and "10.0.0.5" are one IPv4 address */
function addr(a: string): string {
  return a.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * Activation: after commitment, the VM runs where it was sent and only there, and the instance there is the one that
 * left the source. A copy anywhere else is a ghost, not a completed move. An agentless VM is activated on the scan
 * alone (nothing can re-verify it); a keyed VM needs a beacon since commitment, signed with its registered key, from
 * the instance on the destination, newer than the last one before the move and with the same boot id: a new boot id
 * is a reboot or a copy. Pure: re-evaluated on every table change until it is no longer pending.
 */
export function activation(row: Readonly<VmRow> | undefined, a: Readonly<ActivationInput>): Activation {
  const pending = (why: string): Activation => ({ verdict: 'pending', why });
  if (!row) return pending(`${a.vmName} is not on the Billboard`);
  const dest = row.instances.find((i) => i.host === a.destination && i.state === 'running');
  if (!dest) return pending(`${a.vmName} is not running on ${a.destination}`);
  const others = row.instances.filter((i) => i.host !== a.destination && MIGRATABLE_STATES.has(i.state));
  const elsewhere = [...new Set(others.map((i) => i.host))];
  if (elsewhere.length) return pending(`${a.vmName} also runs on ${elsewhere.join(', ')} (MIGRATION_GHOST)`);
  if (!a.keyed) {
    return { verdict: 'activated', evidence: 'activated on scan alone (agentless VM: no beacon key to re-verify its identity)' };
  }

  const b = row.lastBeacon;
  if (!b || b.at < a.commitAt) return pending(`no beacon from ${a.vmName} since commitment`);
  if (a.keyFp && b.keyFp !== a.keyFp) return pending(`the last beacon is not signed with the registered key`);
  const where = a.matchAddress
    ? beaconPlace(row, dest.ips, b, a.destination)
    : ({ ok: true, text: `from ${b.from} (simulated migration: the beacon address is not matched)` } as const);
  if (!where.ok) return pending(where.why);
  const base = a.baseline;
  if (!base) {
    return {
      verdict: 'activated',
      evidence:
        `activated: running on ${a.destination} only, beacon with the registered key ${where.text}` +
        ' (no beacon before the move to compare boot id)',
    };
  }
  if (b.seq <= base.seq && b.bootId === base.bootId) return pending(`no beacon newer than seq ${base.seq} yet`);
  if (b.bootId !== base.bootId) {
    const why = `boot id changed (${base.bootId} → ${b.bootId}): a reboot or a copy, not the same running instance`;
    return { verdict: 'failed', why };
  }
  return {
    verdict: 'activated',
    evidence: `activated: running on ${a.destination} only, beacon ${where.text}, same key and boot id, seq ${base.seq} → ${b.seq}`,
  };
}

/**
 * Whether the beacon came from the instance on the destination: its source address is one of that instance's
 * addresses; or, behind NAT (a source no instance has, e.g. the host's masquerade address), the signed beacon claims
 * one of them. A beacon from an address of an instance on another host is never the destination's.
 */
function beaconPlace(
  row: Readonly<VmRow>,
  destIps: readonly string[],
  b: NonNullable<VmRow['lastBeacon']>,
  destination: string,
): { ok: true; text: string } | { ok: false; why: string } {
  const known = destIps.map(addr);
  const from = addr(b.from);
  if (!known.length) return { ok: true, text: `from ${b.from} (${destination} reports no addresses for the instance to match)` };
  if (known.includes(from)) return { ok: true, text: `from ${b.from}, an address of the instance on ${destination}` };
  const notHere = {
    ok: false as const,
    why: `the last beacon came from ${b.from}, not from the instance on ${destination} (${destIps.join(', ')})`,
  };
  if (row.instances.some((i) => i.host !== destination && i.ips.map(addr).includes(from))) return notHere;
  const claimed = (b.ips ?? []).map(addr).filter((ip) => known.includes(ip));
  if (!claimed.length) return notHere;
  return {
    ok: true,
    text: `from ${b.from} (not an instance address: NAT), claiming ${claimed.join(', ')} of the instance on ${destination}`,
  };
}
