// The agent's Ed25519 key on disk: made by `keygen` (PKCS#8 PEM, mode 0600, never over an existing file) and read
// back only when this user alone can write it.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { fingerprintOfRaw, newKeyPair } from '../wire.js';
import { checkOwnFile } from './own-file.js';

/** `billboard-beacon keygen --out FILE`: write a new private key, print the public key. Returns the exit code. */
export function keygen(out: string): number {
  const { privateKey, publicKey: raw } = newKeyPair('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  let fd: number;
  try {
    fd = fs.openSync(out, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'file exists (refusing to overwrite a key)' : (e as Error).message;
    process.stderr.write(`billboard-beacon: cannot create ${out}: ${why}\n`);
    return 1;
  }
  try {
    fs.fchmodSync(fd, 0o600); // the umask may have narrowed it, never widened; make it exact
    fs.writeSync(fd, pem);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  process.stdout.write(`public key:  ${raw.toString('base64')}\nfingerprint: ${fingerprintOfRaw(raw)}\n`);
  return 0;
}

/** The agent's private key; throws one clear line when the file is not ours, unreadable, or not an Ed25519 key. */
export function loadPrivateKey(file: string): KeyObject {
  let pem: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd);
      checkOwnFile(st, file, 'key file');
      if ((st.mode & 0o044) !== 0) process.stderr.write(`billboard-beacon: warning: ${file} is readable by others (chmod 600 it)\n`);
      pem = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e; // our own refusal, already one clear line
    throw new Error(`cannot read key ${file}: ${(e as NodeJS.ErrnoException).code}`, { cause: e });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error(`${file} is not a PEM private key (make one with: billboard-beacon keygen --out FILE)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} holds a ${key.asymmetricKeyType} key; an Ed25519 key is needed`);
  return key;
}
