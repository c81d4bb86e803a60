import { createHash, createHmac } from 'node:crypto';

// OpenSSH known_hosts checking, as StrictHostKeyChecking=yes does it: the key the server offers must
// be listed for this host (plain "host", "[host]:port", patterns, or hashed "|1|salt|hash" entries).
// Unknown and changed keys are refused; the error carries the offered key's SHA256 fingerprint. Pure.

export interface KnownHostEntry {
  marker?: '@revoked' | '@cert-authority';
  hosts: string; // the raw host field
  keyType: string;
  key: Buffer; // raw public key blob
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as KnownHostEntry['marker'];
    if (parts.length < 3) continue;
    const [hosts, keyType, b64] = parts;
    const key = Buffer.from(b64, 'base64');
    if (!key.length) continue;
    out.push({ marker, hosts, keyType, key });
  }
  return out;
}

/** How OpenSSH names a host in known_hosts: "host" on port 22, "[host]:port" otherwise. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, s: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
    'i',
  );
  return re.test(s);
}

function hashedMatch(field: string, name: string): boolean {
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (!m) return false;
  const salt = Buffer.from(m[1], 'base64');
  const want = Buffer.from(m[2], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** Does the known_hosts host field match this host/port? (negated patterns veto) */
export function hostFieldMatches(field: string, host: string, port: number): boolean {
  const name = hostEntryName(host, port);
  if (field.startsWith('|1|')) return hashedMatch(field, name);
  let matched = false;
  for (const p of field.split(',')) {
    const neg = p.startsWith('!');
    const pat = neg ? p.slice(1) : p;
    if (globMatch(pat, name)) {
      if (neg) return false;
      matched = true;
    }
  }
  return matched;
}

/** Key type of a raw SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** OpenSSH fingerprint: "SHA256:" + unpadded base64 of SHA-256 of the key blob. */
export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export type HostKeyVerdict =
  | { ok: true; fingerprint: string; keyType: string }
  | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; fingerprint: string; keyType: string; message: string };

export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, blob: Buffer, knownHostsFile: string): HostKeyVerdict {
  const fingerprint = sshFingerprint(blob);
  const keyType = keyTypeOf(blob);
  const name = hostEntryName(host, port);
  const forHost = entries.filter((e) => e.marker !== '@cert-authority' && hostFieldMatches(e.hosts, host, port));
  if (forHost.some((e) => e.marker === '@revoked' && e.key.equals(blob))) {
    return {
      ok: false,
      reason: 'revoked',
      fingerprint,
      keyType,
      message: `host key ${keyType} ${fingerprint} for ${name} is marked @revoked in ${knownHostsFile}; refusing to connect`,
    };
  }
  if (forHost.some((e) => !e.marker && e.key.equals(blob))) return { ok: true, fingerprint, keyType };
  if (forHost.some((e) => !e.marker)) {
    return {
      ok: false,
      reason: 'changed',
      fingerprint,
      keyType,
      message:
        `HOST KEY CHANGED for ${name}: server offered ${keyType} ${fingerprint}, which is not the key in ${knownHostsFile}; ` +
        'refusing to connect (possible man-in-the-middle)',
    };
  }
  return {
    ok: false,
    reason: 'unknown',
    fingerprint,
    keyType,
    message:
      `host key for ${name} is not in ${knownHostsFile} (server offered ${keyType} ${fingerprint}); ` +
      'refusing to connect (strict host key checking)',
  };
}

/** Key types listed for this host, to offer them first in the handshake (as OpenSSH does). */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker || !hostFieldMatches(e.hosts, host, port)) continue;
    const algos = e.keyType === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [e.keyType];
    for (const a of algos) if (!types.includes(a)) types.push(a);
  }
  return types;
}
