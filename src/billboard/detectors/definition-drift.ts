import { displayName, type VmDetector } from '../state.js';

/**
 * DEFINITION_DRIFT (medium): a host's definition of an approved VM no longer hashes to the one bound at approval.
 * A hash bound under the first normal form (before <cpu> expansions and device addresses were left out) still
 * matches a definition nobody changed, so an upgrade raises nothing.
 */
export const definitionDrift: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (reg?.state !== 'approved' || !reg.definitionHash || ctx.windows.length) return undefined;
  const bound = reg.definitionHash;
  const drifted = [...vm.instances.values()].filter(
    (i) => i.definitionHash && i.definitionHash !== bound && i.legacyDefinitionHash !== bound,
  );
  if (!drifted.length) return undefined;
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
