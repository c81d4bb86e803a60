import { currentActive, displayName, type VmDetector } from '../state.js';

/**
 * UNAUTHORIZED_MIGRATION (high): an approved VM bound to a home host runs elsewhere (and not at home) with no
 * migration window covering that host and no completed migration that took it there. A window's source stops
 * covering it once a scan after commitment showed it discharged there (coming back is a move of its own).
 */
export const unauthorizedMigration: VmDetector = (vm, ctx) => {
  const reg = ctx.registration;
  if (reg?.state !== 'approved' || !reg.homeHost) return undefined;
  const home = vm.instances.get(reg.homeHost);
  if (home && vm.instances.size === 1) return undefined; // the common case: at home, nowhere else
  const hosts = [...new Set(currentActive(vm, ctx).map((i) => i.host))];
  if (hosts.length === 0 || hosts.includes(reg.homeHost)) return undefined;
  const covered = (h: string): boolean =>
    ctx.windows.some((w) => (w.source === h && w.dischargedAt === undefined) || w.destination === h) || ctx.lastMove?.destination === h;
  const elsewhere = hosts.filter((h) => !covered(h)).sort();
  if (elsewhere.length === 0) return undefined;
  const name = displayName(vm, reg);
  return {
    code: 'UNAUTHORIZED_MIGRATION',
    severity: 'high',
    vm: vm.uuid,
    vmName: name,
    hosts: elsewhere,
    evidence:
      `${name} (${vm.uuid}) approved on home host ${reg.homeHost} now runs on ${elsewhere.join(', ')} ` + 'without an authorized migration',
  };
};
