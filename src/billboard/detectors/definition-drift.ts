import { displayName, type InstanceState, type VmDetector } from '../state.js';

/**
 * DEFINITION_DRIFT (medium): a host's definition of an approved VM no longer hashes to the one bound at approval,
 * either the one it runs or the one it saved for its next start (a `virsh edit` of a running domain shows only in
 * its inactive XML until then, and a changed disk or NIC waiting for a reboot is a change all the same). A hash bound
 * under an earlier normal form (the first, before <cpu> expansions and device addresses were left out; the second,
 * before the listen addresses libvirt fills in on <graphics>) still matches a running definition nobody changed, so
 * an upgrade raises nothing.
 */
export const definitionDrift: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (reg?.state !== 'approved' || !reg.definitionHash || ctx.windows.length) return undefined;
  const bound = reg.definitionHash;
  const runs = (i: InstanceState) =>
    i.definitionHash && i.definitionHash !== bound && i.legacyDefinitionHash !== bound && i.previousDefinitionHash !== bound;
  const saved = (i: InstanceState) => i.savedDefinitionHash !== undefined && i.savedDefinitionHash !== bound;
  const drifted = [...vm.instances.values()].filter((i) => runs(i) || saved(i));
  if (!drifted.length) return undefined;
  const name = displayName(vm, reg);
  const hosts = [...new Set(drifted.map((i) => i.host))].sort();
  const what = drifted
    .map((i) =>
      runs(i)
        ? `${i.host} has ${i.definitionHash.slice(0, 12)}`
        : `${i.host} saved ${i.savedDefinitionHash!.slice(0, 12)} for its next start`,
    )
    .join(', ');
  return {
    code: 'DEFINITION_DRIFT',
    severity: 'medium',
    vm: vm.uuid,
    vmName: name,
    hosts,
    evidence: `${name} (${vm.uuid}) definition changed since approval (bound ${reg.definitionHash.slice(0, 12)}; ${what})`,
  };
};
