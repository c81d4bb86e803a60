import { currentActive, displayName, type VmDetector } from '../state.js';

/**
 * MIGRATION_GHOST (critical): during a migration window the identity is live on a host that is neither source nor
 * destination; or, after commitment, a scan made after the commit still shows it live on the source.
 */
export const migrationGhost: VmDetector = (vm, ctx) => {
  if (ctx.windows.length === 0 && !ctx.lastMove) return undefined;
  const active = currentActive(vm, ctx);
  const name = displayName(vm, ctx.registration);
  const parts: string[] = [];
  const ghostHosts = new Set<string>();
  for (const w of ctx.windows) {
    for (const i of active) {
      if (i.host !== w.source && i.host !== w.destination) {
        ghostHosts.add(i.host);
        parts.push(`live on ${i.host} during migration ${w.job} (${w.source} → ${w.destination})`);
      }
    }
  }
  const committed: { job: string; source: string; destination: string; committedAt: number }[] = [];
  for (const w of ctx.windows) if (w.committedAt !== undefined) committed.push({ ...w, committedAt: w.committedAt });
  if (ctx.lastMove && !ctx.windows.some((w) => w.job === ctx.lastMove!.job)) committed.push(ctx.lastMove);
  for (const c of committed) {
    const left = active.find((i) => i.host === c.source && i.host !== c.destination && (ctx.scannedAt(i.host) ?? 0) > c.committedAt);
    if (left) {
      ghostHosts.add(c.source);
      parts.push(`still ${left.state} on source ${c.source} after migration ${c.job} committed to ${c.destination}`);
    }
  }
  if (parts.length === 0) return undefined;
  return {
    code: 'MIGRATION_GHOST',
    severity: 'critical',
    vm: vm.uuid,
    vmName: name,
    hosts: [...ghostHosts].sort(),
    evidence: `${name} (${vm.uuid}) ${parts.join('; ')}`,
  };
};
