import { SEVERITY_ORDER, type Finding, type RegistrationState, type Severity, type VmStatus } from '../model/types.js';

/**
 * The one-word status of a table row, most important first: the operator's verdict (revoked/rejected), then a
 * ghost (the identity live where it must not be), migrating, suspect (serious findings), silent, registration
 * state, stopped, ok.
 */
export function deriveStatus(p: {
  registration?: RegistrationState;
  findings: readonly Finding[];
  migrating: boolean;
  live: boolean;
}): VmStatus {
  if (p.registration === 'revoked') return 'revoked';
  if (p.registration === 'rejected') return 'rejected';
  if (p.findings.length === 0) {
    if (p.migrating) return 'migrating';
    if (p.registration === undefined) return 'unregistered';
    if (p.registration === 'pending') return 'pending';
    return p.live ? 'ok' : 'stopped';
  }
  const codes = new Set(p.findings.map((f) => f.code));
  if (codes.has('DUPLICATE_UUID') || codes.has('MIGRATION_GHOST')) return 'ghost';
  if (p.migrating) return 'migrating';
  if (p.findings.some((f) => f.code !== 'UNREGISTERED' && f.code !== 'SILENT' && SEVERITY_ORDER[f.severity] <= SEVERITY_ORDER.high)) {
    return 'suspect';
  }
  if (codes.has('SILENT')) return 'silent';
  if (p.registration === undefined) return 'unregistered';
  if (p.registration === 'pending') return 'pending';
  if (!p.live) return 'stopped';
  if (codes.has('DEFINITION_DRIFT') || codes.has('PHANTOM')) return 'suspect';
  return 'ok';
}

export function worstSeverity(findings: readonly Finding[]): Severity | undefined {
  let w: Severity | undefined;
  for (const f of findings) if (!w || SEVERITY_ORDER[f.severity] < SEVERITY_ORDER[w]) w = f.severity;
  return w;
}
