import { displayName, type VmDetector } from '../state.js';

/** DEFINITION_DRIFT (medium): a host's definition of an approved VM no longer hashes to the one bound at approval. */
export const definitionDrift: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (reg?.state !== 'approved' || !reg.definitionHash || ctx.windows.length) return undefined;
  let any = false;
  for (const i of vm.instances.values()) if (i.definitionHash && i.definitionHash !== reg.definitionHash) any = true;
  if (!any) return undefined;
  const drifted = [...vm.instances.values()].filter((i) => i.definitionHash && i.definitionHash !== reg.definitionHash);
  const name = displayName(vm, reg);
  const hosts = [...new Set(drifted.map((i) => i.host))].sort();
  const what = drifted.map((i) => `${i.host} has ${i.definitionHash.slice(0, 12)}`).join(', ');
  return {
    code: 'DEFINITION_DRIFT',
    severity: 'medium',
    vm: vm.uuid,
    vmName: name,
    hosts,
    evidence: `${name} (${vm.uuid}) definition changed since approval (bound ${reg.definitionHash.slice(0, 12)}; ${what})`,
  };
};
