import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../model/config.js';

/** contrib/billboard-admit as shipped with this billboard (dist/console/ and src/console/ sit two levels down) */
export const SHIPPED_HOOK = new URL('../../contrib/billboard-admit', import.meta.url);

/** the shipped hook's sha256 once read: it is part of this install, and a scan asks for it every time */
let shipped: string | undefined;
/** a failed read is said once, not at every scan; it is never cached, so the next scan reads again */
let warned = false;

/**
 * The sha256 values a host's /etc/libvirt/hooks/qemu may have: the shipped hook's and the config's
 * admission.hookSha256. Undefined when policy.admission is off (no host is expected to ask, nothing is judged).
 * The engine asks at each scan, so a config reloaded meanwhile decides. A shipped hook that cannot be read is read
 * again at the next scan: caching the failure would mark every host running the shipped hook ADMISSION_BYPASSED
 * until a restart after one transient error.
 */
export function acceptedAdmissionHooks(config: Pick<Config, 'policy' | 'admission'>, warn: (msg: string) => void): string[] | undefined {
  if (config.policy.admission === 'off') return undefined;
  const accepted = [...config.admission.hookSha256];
  shipped ??= readShipped(warn);
  if (shipped) accepted.push(shipped);
  return accepted;
}

function readShipped(warn: (msg: string) => void): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(SHIPPED_HOOK)).digest('hex');
  } catch (e) {
    if (!warned) {
      warned = true;
      warn(
        `cannot read the shipped admission hook (${(e as Error).message}): until it can be read (tried again at each scan), ` +
          'only admission.hookSha256 counts as installed',
      );
    }
    return undefined;
  }
}
