import { anyActive, beaconRecent, displayName, type VmDetector } from '../state.js';

/**
 * UNREGISTERED: seen by a scan or a recent beacon without an approved registration.
 * medium when live and unknown, low while a pending request waits for the operator or when only a shut-off
 * definition exists, high when the operator already rejected/revoked it and it still runs.
 */
export const unregistered: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (reg?.state === 'approved') return undefined;
  const live = anyActive(vm);
  const recent = beaconRecent(vm, ctx);
  if (vm.instances.size === 0 && !recent) return undefined;
  const name = displayName(vm, reg);
  const hosts = [...new Set([...vm.instances.values()].map((i) => i.host))].sort();
  const seen: string[] = [];
  if (live.length) seen.push(`running on ${[...new Set(live.map((i) => i.host))].sort().join(', ')}`);
  else if (vm.instances.size) seen.push(`defined (not running) on ${hosts.join(', ')}`);
  if (recent && vm.beacon) seen.push(`beaconing from ${vm.beacon.from}`);
  const isLive = live.length > 0 || recent;
  let severity: 'high' | 'medium' | 'low';
  let why: string;
  if (!reg) {
    severity = isLive ? 'medium' : 'low';
    why = 'no registration';
  } else if (reg.state === 'pending') {
    severity = 'low';
    why = 'registration pending operator approval';
  } else {
    severity = isLive ? 'high' : 'low';
    why = `registration ${reg.state}${reg.reason ? ` (${reg.reason})` : ''}`;
  }
  return { code: 'UNREGISTERED', severity, vm: vm.uuid, vmName: name, hosts, evidence: `${name} (${vm.uuid}) ${seen.join(', ')}: ${why}` };
};
