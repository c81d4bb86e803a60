import { at, displayName, type VmDetector } from '../state.js';

/**
 * FORGED_BEACON (critical): recent beacons with a bad signature, a key that is not the registered one, or for a
 * revoked identity. The incident is recorded by the engine at ingest; the finding lasts while it is recent.
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
  };
};
