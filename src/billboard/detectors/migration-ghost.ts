import { currentActive, displayName, type VmDetector } from '../state.js';

/**
 * MIGRATION_GHOST (critical): during a migration window the identity is live on a host that is neither source nor
 * destination; or, after commitment, a scan made after the commit still shows it live on the source. The post-commit
 * window closes at the first scan after commitment that shows the source discharged (MigrationWatch.scanned): a
 * later appearance there is a new move (UNAUTHORIZED_MIGRATION, or DUPLICATE_UUID if live on both), not a leftover.
 */
export const migrationGhost: VmDetector = (vm, ctx) => {
  if (ctx.windows.length === 0 && !ctx.lastMove) return undefined;
  const active = currentActive(vm, ctx);
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
  const moves = [...ctx.windows, ...(ctx.lastMove && !ctx.windows.some((w) => w.job === ctx.lastMove!.job) ? [ctx.lastMove] : [])];
  for (const c of moves) {
    if (c.committedAt === undefined || c.dischargedAt !== undefined) continue;
    const committedAt = c.committedAt;
    const left = active.find((i) => i.host === c.source && i.host !== c.destination && (ctx.scannedAt(i.host) ?? 0) > committedAt);
    if (left) {
      ghostHosts.add(c.source);
      parts.push(`still ${left.state} on source ${c.source} after migration ${c.job} committed to ${c.destination}`);
    }
  }
  if (parts.length === 0) return undefined;
  const name = displayName(vm, ctx.registration);
  return {
    code: 'MIGRATION_GHOST',
    severity: 'critical',
    vm: vm.uuid,
    vmName: name,
    hosts: [...ghostHosts].sort(),
    evidence: `${name} (${vm.uuid}) ${parts.join('; ')}`,
  };
};
