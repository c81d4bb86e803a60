import type { Inventory } from '../model/types.js';
import { admissionBypassed } from './detectors/admission-bypassed.js';
import { hostSubject } from './subjects.js';

/** What judging a host's hook needs of the findings ledger. */
export interface HostFindingSink {
  raise(d: NonNullable<Exclude<ReturnType<typeof admissionBypassed>, 'unknown'>>, uuids: readonly string[], now: number): string;
  settle(subject: string, next: Set<string> | undefined, now: number, fresh: boolean): void;
}

/**
 * After a scan: raise or resolve ADMISSION_BYPASSED for the scanned host. `accepted` undefined means admission is off:
 * no hook is expected, and a finding raised while it was on (before a reload or a restart) is resolved. The scan is
 * fresh evidence about its own host, so it also settles a finding reloaded from the store.
 */
export function judgeAdmissionHook(sink: HostFindingSink, inv: Inventory, accepted: readonly string[] | undefined, now: number): void {
  if (!accepted) return sink.settle(hostSubject(inv.host), undefined, now, true);
  const d = admissionBypassed(inv.host, inv.admissionHook, accepted);
  if (d === 'unknown') return;
  sink.settle(hostSubject(inv.host), d ? new Set([sink.raise(d, [], now)]) : undefined, now, true);
}
