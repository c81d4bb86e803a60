import { anyActive, displayName, type FindingDraft, type VmDetector } from '../state.js';

/**
 * DUPLICATE_UUID (critical): the same identity live on two hosts at once, or its beacons coming from two boot ids
 * that interleave (a clone). A shut-off definition elsewhere is not a ghost; a migration's source + destination
 * pair is expected while its window is open, until a scan after commitment showed the source discharged. A host
 * that went down keeps counting with what it last reported: losing sight of a clone is not the clone going away
 * (the finding stays until a scan shows it gone).
 * Evidence: 'scan' when hosts show it twice; else the interleaving boot ids, 'authenticated' only when they came
 * under the registered key (anyone can sign two boot ids under a key of their own).
 */
export const duplicateUuid: VmDetector = (vm, ctx) => {
  if (vm.instances.size < 2 && !vm.clone) return undefined;
  const name = displayName(vm, ctx.registration);
  const hosts = [...new Set(anyActive(vm).map((i) => i.host))].sort();
  const down = hosts.filter((h) => !ctx.hostUp(h));
  const explainedByMigration =
    hosts.length === 2 &&
    ctx.windows.some((w) => w.dischargedAt === undefined && hosts.includes(w.source) && hosts.includes(w.destination));
  const parts: string[] = [];
  const byScan = hosts.length >= 2 && !explainedByMigration;
  if (byScan) {
    // a copy's state is part of the evidence: one that starts running after being paused changes the finding
    const paused = new Set(
      anyActive(vm)
        .filter((i) => i.state !== 'running')
        .map((i) => i.host),
    );
    const shown = hosts.map((h) => (paused.has(h) ? `${h} (${vm.instances.get(h)!.state})` : h));
    parts.push(`running on ${hosts.length} hosts: ${shown.join(', ')}${down.length ? ` (${down.join(', ')} down: as last scanned)` : ''}`);
  }
  const clone = vm.clone && ctx.now - vm.clone.at <= ctx.incidentWindowMs ? vm.clone : undefined;
  if (clone) {
    parts.push(`beacons from two boot ids interleaving (${clone.reason})`);
  }
  if (parts.length === 0) return undefined;
  const d: FindingDraft = {
    code: 'DUPLICATE_UUID',
    severity: 'critical',
    vm: vm.uuid,
    vmName: name,
    hosts,
    evidence: `${name} (${vm.uuid}) ${parts.join('; ')}`,
    evidenceSource: byScan ? 'scan' : clone?.authenticated ? 'authenticated' : 'unauthenticated',
  };
  return d;
};
