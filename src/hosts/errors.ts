import { BillboardError, type ErrorCode } from '../model/errors.js';
import { safeText } from '../model/text.js';

// Every driver failure leaves hosts/ as a BillboardError with one of these codes and a single line
// that names the host, so the console can print it as is: the line carries host text (virsh's and sshd's
// errors, names from domain XML), so control, escape, bidi and zero-width characters in it are shown escaped.

export type HostErrorCode = Extract<ErrorCode, 'HOST_ERROR' | 'HOST_DOWN' | 'TIMEOUT' | 'UNSUPPORTED' | 'NOT_FOUND'>;

const MAX_LINE = 300;

/** Collapse whitespace/newlines so the message stays one line, show what a terminal would act on escaped, bound it. */
export function oneLine(s: string): string {
  return safeText(s.replace(/\s+/g, ' ').trim(), MAX_LINE);
}

export function hostError(code: HostErrorCode, host: string, message: string, details?: Record<string, unknown>): BillboardError {
  return new BillboardError(code, `${host}: ${oneLine(message)}`, { host, ...details });
}

/** `what` ran out of its `ms` budget (one wording for every timeout a host call can hit). */
export function timeoutError(host: string, what: string, ms: number): BillboardError {
  return hostError('TIMEOUT', host, `${what} timed out after ${(ms / 1000).toFixed(1)}s`);
}

/** The most useful line of virsh's stderr: the last "error: …" line without the prefix, else the last line. */
export function virshErrorText(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errs = lines.filter((l) => l.startsWith('error:')).map((l) => l.slice(6).trim());
  // virsh prints a generic line first ("Failed to …") and the cause last; keep both when short.
  if (errs.length >= 2) return `${errs[0]}: ${errs[errs.length - 1]}`;
  return errs[0] ?? lines[lines.length - 1] ?? '';
}

/** Map a virsh failure (its stderr) to the code users see. */
export function classifyVirshError(text: string): HostErrorCode {
  const t = text.toLowerCase();
  if (/not supported by the connection driver|this function is not supported|unsupported configuration|operation not supported/.test(t)) {
    return 'UNSUPPORTED';
  }
  if (/failed to get domain|domain not found|no domain with matching/.test(t)) return 'NOT_FOUND';
  if (
    /failed to connect to the hypervisor|cannot recv data|end of file while reading|connection reset|no connection driver available/.test(t)
  ) {
    return 'HOST_DOWN';
  }
  if (/timed out|timeout/.test(t)) return 'TIMEOUT';
  return 'HOST_ERROR';
}

/** A virsh command exited non-zero: one line naming host and command. */
export function virshFailure(host: string, command: string, exitCode: number | null, stderr: string): BillboardError {
  const text = virshErrorText(stderr) || `exit status ${exitCode ?? 'unknown'}`;
  return hostError(classifyVirshError(text), host, `virsh ${command} failed: ${text}`, { exitCode });
}

/** What isolate says where the hypervisor cannot set link state (the libvirt test driver). */
export function isolateUnsupported(host: string, uuid: string, why: string): BillboardError {
  return hostError(
    'UNSUPPORTED',
    host,
    `cannot isolate ${uuid}: this hypervisor cannot set interface link state (${oneLine(why)}); use suspend or stop instead`,
  );
}

/** Wrap anything thrown below into a host error, keeping BillboardErrors as they are. */
export function asHostError(host: string, e: unknown, fallback: HostErrorCode = 'HOST_ERROR'): BillboardError {
  if (e instanceof BillboardError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return hostError(fallback, host, msg);
}
