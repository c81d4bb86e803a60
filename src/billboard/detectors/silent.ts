import { at, displayName, type VmDetector } from '../state.js';

/**
 * SILENT (medium): running per scan but no beacon for missedBeforeSilent intervals. Only VMs registered WITH a
 * key are expected to beacon (agentless VMs never do); a paused guest cannot, a migrating one is excused.
 */
export const silent: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (!reg?.publicKey || (reg.state !== 'approved' && reg.state !== 'pending')) return undefined;
  if (ctx.windows.length) return undefined;
  if (vm.beacon && ctx.now - vm.beacon.at <= ctx.silentAfterMs) return undefined;
  const running = [...vm.instances.values()].filter((i) => i.state === 'running' && ctx.hostUp(i.host));
  if (running.length === 0 || vm.activeSince === undefined) return undefined;
  const lastHeard = Math.max(vm.beacon?.at ?? 0, vm.activeSince);
  if (ctx.now - lastHeard <= ctx.silentAfterMs) return undefined;
  const name = displayName(vm, reg);
  const hosts = [...new Set(running.map((i) => i.host))].sort();
  const last = vm.beacon ? `last beacon at ${at(vm.beacon.at)} from ${vm.beacon.from}` : 'never beaconed';
  return {
    code: 'SILENT',
    severity: 'medium',
    vm: vm.uuid,
    vmName: name,
    hosts,
    evidence: `${name} (${vm.uuid}) running on ${hosts.join(', ')} but ${last}`,
  };
};
