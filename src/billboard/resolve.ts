import { BillboardError } from '../model/errors.js';
import { canonicalUuid } from '../model/fingerprint.js';
import { safeText } from '../model/text.js';
import type { VmRow } from '../model/types.js';

/**
 * A VM reference among the rows: a full UUID always wins; otherwise a name (exact, else case-insensitive) or a
 * unique UUID prefix. A reference that matches both a name and a UUID prefix is AMBIGUOUS, listing both, so that a
 * VM named like another VM's short UUID can never stand in for it. Throws USAGE / NOT_FOUND / AMBIGUOUS.
 */
export function resolveRow(rows: readonly VmRow[], byUuid: (uuid: string) => VmRow | undefined, ref: string): VmRow {
  const r = ref.trim();
  if (!r) throw new BillboardError('USAGE', 'expected a VM name, UUID or UUID prefix');
  const full = canonicalUuid(r);
  const exact = full !== undefined ? byUuid(full) : undefined;
  if (exact) return exact;
  const lower = r.toLowerCase();
  let named = rows.filter((row) => row.name === r);
  if (named.length === 0) named = rows.filter((row) => row.name.toLowerCase() === lower);
  const byPrefix = /^[0-9a-f-]+$/.test(lower) ? rows.filter((row) => row.uuid.startsWith(lower)) : [];
  const shown = (list: readonly VmRow[]): string =>
    list
      .slice(0, 5)
      .map((x) => `${safeText(x.name, 64)} (${x.uuid})`)
      .join(', ');
  const said = safeText(r, 80);
  if (named.length && byPrefix.some((p) => !named.includes(p))) {
    throw new BillboardError(
      'AMBIGUOUS',
      `"${said}" is the name of ${shown(named)} and a UUID prefix of ${shown(byPrefix)}: use the full UUID`,
    );
  }
  if (named.length === 1) return named[0];
  if (named.length > 1) throw new BillboardError('AMBIGUOUS', `${named.length} VMs are named "${said}": use a UUID (${shown(named)})`);
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1) throw new BillboardError('AMBIGUOUS', `UUID prefix "${said}" matches ${byPrefix.length} VMs: type more of it`);
  throw new BillboardError('NOT_FOUND', `no VM "${said}" (try: vms)`);
}
