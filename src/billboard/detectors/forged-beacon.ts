import { at, displayName, type VmDetector } from '../state.js';

/**
 * FORGED_BEACON (critical): recent beacons with a bad signature, a key that is not the registered one, or for a
 * revoked identity. The incident is recorded by the engine at ingest; the finding lasts while it is recent.
 * Anyone can send a bad signature or sign with a key of their own, so such evidence is 'unauthenticated': it says
 * someone impersonates the identity, not that the VM misbehaves, and nothing acts on it automatically. Only a
 * revoked identity's own key still beaconing is 'authenticated'.
 */
export const forgedBeacon: VmDetector = (vm, ctx) => {
  const f = vm.forged;
  if (!f || ctx.now - f.at > ctx.incidentWindowMs) return undefined;
  const name = displayName(vm, ctx.registration);
  return {
    code: 'FORGED_BEACON',
    severity: 'critical',
    vm: vm.uuid,
    vmName: name,
    hosts: [...new Set([...vm.instances.values()].map((i) => i.host))].sort(),
    evidence: `${name} (${vm.uuid}): ${f.reason}; ${f.count} beacon(s), last from ${f.from} at ${at(f.at)}`,
    evidenceSource: f.authenticated ? 'authenticated' : 'unauthenticated',
  };
};
