import type { AdmissionHookSeen } from '../../model/types.js';
import type { FindingDraft } from '../state.js';

/**
 * ADMISSION_BYPASSED (high): a host's /etc/libvirt/hooks/qemu, as its latest scan read it, is missing, not executable
 * (libvirt skips it) or not one of the accepted hooks (the shipped contrib/billboard-admit, or a wrapper whose hash
 * the config lists). Domains then start there without asking billboard. A host whose driver cannot tell ('unknown':
 * libvirt-driver and test:/// hosts, an unreadable file) raises nothing, and keeps what it had: unknown is no proof
 * that a bypass ended.
 * @returns the draft, undefined when the hook is accepted, or 'unknown' when this scan says nothing either way
 */
export function admissionBypassed(
  host: string,
  seen: AdmissionHookSeen | undefined,
  accepted: readonly string[],
): FindingDraft | undefined | 'unknown' {
  if (!seen || seen.state === 'unknown') return 'unknown';
  if (seen.state === 'present' && accepted.includes(seen.sha256)) return undefined;
  const what =
    seen.state === 'present'
      ? `was changed (sha256 ${seen.sha256.slice(0, 16)}…, not the billboard-admit hook)`
      : seen.state === 'missing'
        ? 'is missing'
        : 'is not executable (libvirt skips it)';
  return {
    code: 'ADMISSION_BYPASSED',
    severity: 'high',
    key: `ADMISSION_BYPASSED:${host}`,
    vm: '',
    hosts: [host],
    evidence: `${host}'s admission hook /etc/libvirt/hooks/qemu ${what}: domains start there without asking billboard`,
  };
}
