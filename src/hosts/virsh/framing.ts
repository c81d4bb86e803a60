import { randomBytes } from 'node:crypto';

// The lines billboard's own shell prints around what a host says (a scan's sections, a command's pid, a migrate
// guard's verdict) start with `@@BB<nonce>:`. The nonce is fresh for every scan or command, so nothing a host's
// data holds (a domain's XML, a name, virsh's error text) can pass for one of them: it would need a nonce chosen
// after it was written.

/** A fresh framing nonce (hex): one per scan, or per framed command. */
export function framingNonce(): string {
  return randomBytes(8).toString('hex');
}

/** The marker prefix for one nonce. Throws on a nonce that is not hex: it goes into shell text and patterns. */
export function markPrefix(nonce: string): string {
  if (!/^[0-9a-f]+$/.test(nonce)) throw new Error('framing nonce must be hex');
  return `@@BB${nonce}:`;
}
