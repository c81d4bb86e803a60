import { at, displayName, type VmDetector } from '../state.js';

/**
 * REPLAYED_BEACON (high): the listener saw a seq/timestamp that was already used; lasts while recent. A replay is
 * by definition not produced by the key holder now, so its evidence is 'unauthenticated'.
 */
export const replayedBeacon: VmDetector = (vm, ctx) => {
  const r = vm.replayed;
  if (!r || ctx.now - r.at > ctx.incidentWindowMs) return undefined;
  const name = displayName(vm, ctx.registration);
  return {
    code: 'REPLAYED_BEACON',
    severity: 'high',
    vm: vm.uuid,
    vmName: name,
    hosts: [...new Set([...vm.instances.values()].map((i) => i.host))].sort(),
    evidence: `${name} (${vm.uuid}): ${r.reason}; ${r.count} replayed beacon(s), last from ${r.from} at ${at(r.at)}`,
    evidenceSource: 'unauthenticated',
  };
};
