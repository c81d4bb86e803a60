import { ACTIVE_STATES, beaconRecent, displayName, type VmDetector } from '../state.js';

/**
 * PHANTOM (high): beacons keep arriving but no host runs the identity — judged only once every up host has been
 * scanned after the beacon stream began (a VM that just booted is not a phantom before the next scan).
 */
export const phantom: VmDetector = (vm, ctx) => {
  if (!vm.beacon || !beaconRecent(vm, ctx)) return undefined;
  if (ctx.fullScanAt === undefined || ctx.fullScanAt < vm.beacon.since) return undefined;
  if (ctx.windows.length) return undefined;
  for (const i of vm.instances.values()) if (ACTIVE_STATES.has(i.state)) return undefined; // housed (even if its host is down)
  const name = displayName(vm, ctx.registration);
  const defined = [...vm.instances.values()].map((i) => `${i.host} (${i.state})`);
  return {
    code: 'PHANTOM',
    severity: 'high',
    vm: vm.uuid,
    vmName: name,
    hosts: [],
    evidence:
      `${name} (${vm.uuid}) beacons from ${vm.beacon.from} but no scanned host runs it` +
      (defined.length ? `; defined on ${defined.join(', ')}` : ''),
  };
};
