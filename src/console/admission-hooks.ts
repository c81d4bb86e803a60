import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../model/config.js';

/** contrib/billboard-admit as shipped with this billboard (dist/console/ and src/console/ sit two levels down) */
export const SHIPPED_HOOK = new URL('../../contrib/billboard-admit', import.meta.url);

/**
 * The sha256 values a host's /etc/libvirt/hooks/qemu may have: the shipped hook's and the config's
 * admission.hookSha256. Undefined when policy.admission is off (no host is expected to ask, nothing is judged).
 */
export function acceptedAdmissionHooks(config: Pick<Config, 'policy' | 'admission'>, warn: (msg: string) => void): string[] | undefined {
  if (config.policy.admission === 'off') return undefined;
  const accepted = [...config.admission.hookSha256];
  try {
    accepted.push(createHash('sha256').update(readFileSync(SHIPPED_HOOK)).digest('hex'));
  } catch (e) {
    warn(`cannot read the shipped admission hook (${(e as Error).message}): only admission.hookSha256 counts as installed`);
  }
  return accepted;
}
