import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import { readKeyFile } from '../hosts/ssh/key-file.js';
import { newSshKeyPair } from '../hosts/ssh/keys.js';
import { sshFingerprint } from '../hosts/ssh/known-hosts.js';
import { BillboardError, errorLine } from '../model/errors.js';

// The service's SSH host key: an Ed25519 key in OpenSSH format, created by `billboard init` (0600, never over an
// existing file) and read by `billboard serve` only when it is this user's and no one else may read it.

export interface HostKey {
  /** the private key, as ssh2's Server takes it */
  privateKey: Buffer;
  /** OpenSSH fingerprint, "SHA256:…" */
  fingerprint: string;
  /** the public key line, as known_hosts lists it (without the host field) */
  publicLine: string;
}

function describe(privateKey: Buffer | string): { fingerprint: string; publicLine: string } {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw parsed;
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  const blob = key.getPublicSSH();
  return { fingerprint: sshFingerprint(blob), publicLine: `${key.type} ${blob.toString('base64')}` };
}

/** A new Ed25519 key pair in OpenSSH format for the service (see newSshKeyPair). */
export function newHostKeyPair(): { private: string; public: string } {
  return newSshKeyPair('billboard-serve');
}

/**
 * Create the host key at `path` unless one is there. The key is written to a fresh 0600 file beside it, synced,
 * then linked into place (link fails on an existing name: a key, or anything planted there, is never replaced).
 */
export async function ensureHostKey(path: string): Promise<HostKey & { created: boolean }> {
  try {
    return { ...(await loadHostKey(path)), created: false };
  } catch (e) {
    if (!(e instanceof BillboardError && e.details?.missing)) throw e;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const pair = newHostKeyPair();
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(pair.private);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
  } catch (e) {
    throw new BillboardError('CONFIG', `cannot create host key ${path}: ${errorLine(e)}`);
  } finally {
    await unlink(tmp).catch(() => {});
  }
  const dir = await open(dirname(path), 'r');
  await dir.sync().finally(() => dir.close());
  return { privateKey: Buffer.from(pair.private), ...describe(pair.private), created: true };
}

/** Read the host key; a missing, unreadable, badly owned or group/world-readable file is one CONFIG line. */
export async function loadHostKey(path: string): Promise<HostKey> {
  let privateKey: Buffer;
  try {
    privateKey = await readKeyFile(path);
  } catch (e) {
    const missing = /ENOENT/.test(errorLine(e));
    const why = missing ? 'it does not exist (run `billboard init` to create it)' : errorLine(e).replace(/identity file/g, 'file');
    throw new BillboardError('CONFIG', `host key ${path}: ${why}`, { missing });
  }
  try {
    return { privateKey, ...describe(privateKey) };
  } catch (e) {
    throw new BillboardError('CONFIG', `host key ${path}: not an OpenSSH private key (${errorLine(e)})`);
  }
}
