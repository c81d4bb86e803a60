import { createHash } from 'node:crypto';

/** OpenSSH-style fingerprint of a raw Ed25519 public key given as base64: "SHA256:<base64 without padding>". */
export function keyFingerprint(publicKeyB64: string): string {
  const raw = Buffer.from(publicKeyB64, 'base64');
  return 'SHA256:' + createHash('sha256').update(raw).digest('base64').replace(/=+$/, '');
}

/** Canonical lower-case UUID, or undefined when `s` is not one. */
export function canonicalUuid(s: string): string | undefined {
  const t = s.trim().toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(t) ? t : undefined;
}

/** Canonical lower-case MAC aa:bb:cc:dd:ee:ff, or undefined. */
export function canonicalMac(s: string): string | undefined {
  const t = s.trim().toLowerCase().replace(/-/g, ':');
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(t) ? t : undefined;
}
