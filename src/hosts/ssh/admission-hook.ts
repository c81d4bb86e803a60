import { createHash } from 'node:crypto';
import { BillboardError } from '../../model/errors.js';
import type { AdmissionHookFile } from '../../model/host-driver.js';
import type { AdmissionHookSeen } from '../../model/types.js';
import { hostError } from '../errors.js';
import type { SshConnection } from './connection.js';

// What a scan reads of the host's admission hook: libvirt runs /etc/libvirt/hooks/qemu (when present and executable)
// before a domain starts or migrates in; billboard compares its sha256 with the hook it ships (ADMISSION_BYPASSED).
// The same exec reads what the hook's settings make it do when the service does not answer (`hosts` shows it).
// One small exec beside the scan; its failure is 'unknown', never a failed scan.

export const HOOKS_DIR = '/etc/libvirt/hooks';
export const QEMU_HOOK = `${HOOKS_DIR}/qemu`;

/** the settings file beside a hook (what `hosts install-hook` writes, and the hook reads) */
export const HOOK_CONF = 'billboard-admit.conf';

/**
 * The probe: one line (missing | not-executable | the sha256, empty when the file cannot be read), then, for a hook
 * that is billboard-admit or calls it, what the settings file beside it says of UNREACHABLE and TIMEOUT: the last
 * assignment of each (as the hook reads them), `no-conf` when there is none, `conf-unreadable` when this user cannot
 * read it (the hook runs as root). `path` is ours, never a host's.
 */
export function hookProbe(path: string = QEMU_HOOK): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(path)) throw new Error(`not a plain absolute path: ${path}`);
  const conf = `${path.slice(0, path.lastIndexOf('/'))}/${HOOK_CONF}`;
  const last = (key: string, as: string) => `sed -n 's/^${key}=/${as}=/p' "$c" | cut -c1-80 | tail -n 1`;
  return (
    `f=${path}; if [ ! -e "$f" ]; then echo missing; elif [ ! -x "$f" ]; then echo not-executable; ` +
    `else sha256sum <"$f" 2>/dev/null | sed 's/ .*//'; c=${conf}; ` +
    `if ! grep -q billboard-admit "$f" 2>/dev/null; then :; elif [ -r "$c" ]; then echo conf; ` +
    `${last('UNREACHABLE', 'unreachable')}; ${last('TIMEOUT', 'timeout')}; ` +
    `elif [ -e "$c" ]; then echo conf-unreadable; else echo no-conf; fi; fi`
  );
}

export function parseHookProbe(out: string): AdmissionHookSeen {
  const [first = '', ...rest] = out.split('\n');
  const line = first.trim();
  if (/^[0-9a-f]{64}$/.test(line)) return { state: 'present', sha256: line, ...hookSettings(rest) };
  if (line === 'missing' || line === 'not-executable') return { state: line };
  return { state: 'unknown', detail: `the hook could not be read (or sha256sum is missing)` };
}

/** a value as the hook reads it: one pair of matching quotes around it is dropped */
const unquoted = (v: string) => (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0] ? v.slice(1, -1) : v);

/**
 * What the hook does when the service does not answer, read from its settings the way the hook reads them (the last
 * assignment wins; TIMEOUT is 3 when absent): a value the hook refuses makes it refuse every start, and so does an
 * absent file. Nothing of the file but these two values leaves the host.
 */
export function hookSettings(lines: readonly string[]): Pick<Extract<AdmissionHookSeen, { state: 'present' }>, 'settings'> {
  if (lines[0]?.trim() === 'no-conf') return { settings: { problem: `no ${HOOK_CONF}: the hook refuses every start` } };
  if (lines[0]?.trim() !== 'conf') return {};
  let unreachable = '';
  let timeout = '3';
  for (const l of lines.slice(1)) {
    if (l.startsWith('unreachable=')) unreachable = unquoted(l.slice('unreachable='.length));
    else if (l.startsWith('timeout=')) timeout = unquoted(l.slice('timeout='.length));
  }
  if (unreachable !== 'allow' && unreachable !== 'deny') {
    return { settings: { problem: 'UNREACHABLE is not allow or deny: the hook refuses every start' } };
  }
  const t = /^\d+$/.test(timeout) ? Number(timeout) : NaN; // `[ 010 -ge 1 ]` is 10 to the hook's sh too
  if (!(t >= 1 && t <= 60)) return { settings: { problem: 'TIMEOUT is not 1-60 seconds: the hook refuses every start' } };
  return { settings: { unreachable, timeoutS: t } };
}

export async function probeHook(conn: Pick<SshConnection, 'exec'>, timeoutMs: number, path = QEMU_HOOK): Promise<AdmissionHookSeen> {
  try {
    const r = await conn.exec(hookProbe(path), { timeoutMs, what: 'admission hook probe', maxBytes: 4096 });
    return r.code === 0 ? parseHookProbe(r.stdout) : { state: 'unknown', detail: `probe exited ${r.code ?? r.signal}` };
  } catch (e) {
    return { state: 'unknown', detail: (e as Error).message };
  }
}

/** One file of the hook's installation; written beside the others in the hooks folder. */
export type HookFile = AdmissionHookFile;

/** what the install script prints when the host already has a different qemu hook and it may not be replaced */
export const EXISTING_MARK = 'billboard-existing-hook:';

/**
 * A sh script (and its stdin) that installs `files` into `dir`: each written to a temp name (umask 077), chmod-ed, then renamed into
 * place, the qemu hook last so it never runs without its settings. A qemu hook that differs from ours is kept
 * (exit 3, its sha256 printed) unless `replace`, which first copies it to qemu.before-billboard.EPOCH.
 */
export function installHookScript(dir: string, files: readonly HookFile[], replace: boolean): { script: string; input: string } {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(dir)) throw new Error(`not a plain absolute path: ${dir}`);
  const hook = files.find((f) => f.name === 'qemu');
  const ordered = [...files.filter((f) => f.name !== 'qemu'), ...(hook ? [hook] : [])];
  const lines = ['set -e', 'umask 077', `d=${dir}`, 'mkdir -p "$d"'];
  if (hook) {
    const sum = createHash('sha256').update(hook.content).digest('hex');
    lines.push(
      `if [ -e "$d/qemu" ]; then old=$(sha256sum <"$d/qemu" | sed 's/ .*//'); if [ "$old" != ${sum} ]; then`,
      replace ? '  cp -p "$d/qemu" "$d/qemu.before-billboard.$(date +%s)"; echo "replaced:$old"' : `  echo "${EXISTING_MARK}$old"; exit 3`,
      'fi; fi',
    );
  }
  for (const f of ordered) {
    // the content comes on stdin, one base64 line per file: a key never shows in a process's command line
    lines.push(`IFS= read -r b64; printf '%s' "$b64" | base64 -d >"$d/.${f.name}.tmp"`, `chmod ${f.mode.toString(8)} "$d/.${f.name}.tmp"`);
    lines.push(`mv -f "$d/.${f.name}.tmp" "$d/${f.name}"`);
  }
  lines.push('echo installed');
  return { script: lines.join('\n'), input: ordered.map((f) => `${Buffer.from(f.content).toString('base64')}\n`).join('') };
}

/** Install over the host's SSH connection. @returns the sha256 of a qemu hook it replaced; CONFLICT when one is kept */
export async function installHook(
  conn: Pick<SshConnection, 'exec'>,
  host: string,
  dir: string,
  files: readonly HookFile[],
  o: { replace: boolean; timeoutMs: number },
): Promise<{ replaced?: string }> {
  const { script, input } = installHookScript(dir, files, o.replace);
  const r = await conn.exec(script, { timeoutMs: o.timeoutMs, what: 'hook install', maxBytes: 4096, input });
  const existing = r.stdout.split('\n').find((l) => l.startsWith(EXISTING_MARK));
  if (existing) {
    const sum = existing.slice(EXISTING_MARK.length);
    throw new BillboardError(
      'CONFLICT',
      `${host} already has ${dir}/qemu (sha256 ${sum.slice(0, 16)}…), not billboard's: chain it (docs/admission.md) or ` +
        'pass --replace (it is kept as qemu.before-billboard.TIME); nothing was written',
    );
  }
  if (r.code !== 0 || !/^installed$/m.test(r.stdout)) {
    throw hostError('HOST_ERROR', host, `hook install failed (exit ${r.code ?? r.signal}): ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
  const replaced = /^replaced:([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  return replaced ? { replaced } : {};
}
