import type { AdmissionHookSeen } from './types.js';

// A host's admission hook in words, for `hosts` and the Hosts view: what its settings make it do when the service
// does not answer (a changed or missing hook is ADMISSION_BYPASSED; this is what an installed one will do).

/** one cell: `deny after 3 s`, `allow after 3 s`, `refuses all`, `missing`, `not executable`, `present`, or '-' */
export function hookCell(h: AdmissionHookSeen | undefined): string {
  if (!h || h.state === 'unknown') return '-';
  if (h.state !== 'present') return h.state === 'missing' ? 'missing' : 'not executable';
  const s = h.settings;
  if (!s) return 'present';
  return 'problem' in s ? 'refuses all' : `${s.unreachable} after ${s.timeoutS} s`;
}

/** one line for a host's details, or undefined when the scan cannot tell */
export function hookLine(h: AdmissionHookSeen | undefined): string | undefined {
  if (!h || h.state === 'unknown') return undefined;
  if (h.state !== 'present') return `admission hook: ${hookCell(h)} (libvirt asks nobody before a start)`;
  const s = h.settings;
  const what = !s
    ? 'its settings were not read'
    : 'problem' in s
      ? s.problem
      : `when billboard does not answer in ${s.timeoutS} s it answers ${s.unreachable}`;
  return `admission hook: sha256 ${h.sha256.slice(0, 12)}, ${what}`;
}
