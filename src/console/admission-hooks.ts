import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../model/config.js';

/** contrib/billboard-admit as shipped with this billboard (dist/console/ and src/console/ sit two levels down) */
export const SHIPPED_HOOK = new URL('../../contrib/billboard-admit', import.meta.url);

/** the shipped hook's sha256, read once: it is part of this install, and a scan asks for it every time */
let shipped: { sha256: string } | { error: string } | undefined;

/**
 * The sha256 values a host's /etc/libvirt/hooks/qemu may have: the shipped hook's and the config's
 * admission.hookSha256. Undefined when policy.admission is off (no host is expected to ask, nothing is judged).
 * The engine asks at each scan, so a config reloaded meanwhile decides; an unreadable shipped hook is said once.
 */
export function acceptedAdmissionHooks(config: Pick<Config, 'policy' | 'admission'>, warn: (msg: string) => void): string[] | undefined {
  if (config.policy.admission === 'off') return undefined;
  const accepted = [...config.admission.hookSha256];
  if (!shipped) {
    try {
      shipped = { sha256: createHash('sha256').update(readFileSync(SHIPPED_HOOK)).digest('hex') };
    } catch (e) {
      shipped = { error: (e as Error).message };
      warn(`cannot read the shipped admission hook (${shipped.error}): only admission.hookSha256 counts as installed`);
    }
  }
  if ('sha256' in shipped) accepted.push(shipped.sha256);
  return accepted;
}
