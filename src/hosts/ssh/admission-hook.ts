import type { AdmissionHookSeen } from '../../model/types.js';
import type { SshConnection } from './connection.js';

// What a scan reads of the host's admission hook: libvirt runs /etc/libvirt/hooks/qemu (when present and executable)
// before a domain starts or migrates in; billboard compares its sha256 with the hook it ships (ADMISSION_BYPASSED).
// One small exec beside the scan; its failure is 'unknown', never a failed scan.

export const QEMU_HOOK = '/etc/libvirt/hooks/qemu';

/** one line out: missing | not-executable | the sha256 (empty when the file cannot be read); `path` is ours, never a host's */
export function hookProbe(path: string = QEMU_HOOK): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(path)) throw new Error(`not a plain absolute path: ${path}`);
  return (
    `f=${path}; if [ ! -e "$f" ]; then echo missing; elif [ ! -x "$f" ]; then echo not-executable; ` +
    `else sha256sum <"$f" 2>/dev/null | sed 's/ .*//'; fi`
  );
}

export function parseHookProbe(out: string): AdmissionHookSeen {
  const line = out.trim();
  if (/^[0-9a-f]{64}$/.test(line)) return { state: 'present', sha256: line };
  if (line === 'missing' || line === 'not-executable') return { state: line };
  return { state: 'unknown', detail: `the hook could not be read (or sha256sum is missing)` };
}

export async function probeHook(conn: Pick<SshConnection, 'exec'>, timeoutMs: number, path = QEMU_HOOK): Promise<AdmissionHookSeen> {
  try {
    const r = await conn.exec(hookProbe(path), { timeoutMs, what: 'admission hook probe', maxBytes: 4096 });
    return r.code === 0 ? parseHookProbe(r.stdout) : { state: 'unknown', detail: `probe exited ${r.code ?? r.signal}` };
  } catch (e) {
    return { state: 'unknown', detail: (e as Error).message };
  }
}
