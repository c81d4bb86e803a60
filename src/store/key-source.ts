import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { BillboardError, errorLine } from '../model/errors.js';
import { secretFileProblem } from '../model/secret-file.js';
import type { KeySource } from './crypto.js';

/**
 * Where the store key comes from: BILLBOARD_PASSPHRASE wins, then store.keyFile (32 raw bytes, or 64 hex
 * characters, or base64 of 32 bytes). The passphrase itself is never logged or echoed.
 */
export function keySourceFrom(env: NodeJS.ProcessEnv, keyFile?: string): KeySource | undefined {
  const pass = env.BILLBOARD_PASSPHRASE;
  if (pass !== undefined && pass !== '') return { kind: 'passphrase', passphrase: pass };
  if (!keyFile) return undefined;
  let raw: Buffer;
  let fd: number;
  try {
    fd = openSync(keyFile, 'r');
  } catch (e) {
    throw new BillboardError('STORE_OPEN', `cannot read store.keyFile ${keyFile}: ${errorLine(e)}`);
  }
  try {
    // checked on the opened file, so the file read is the file checked
    const st = fstatSync(fd);
    const problem = secretFileProblem('store.keyFile', keyFile, st);
    if (problem) throw new BillboardError('STORE_OPEN', problem);
    if (st.size > 4096) throw new Error('file is too large to be a key');
    raw = readFileSync(fd);
  } catch (e) {
    if (e instanceof BillboardError) throw e;
    throw new BillboardError('STORE_OPEN', `cannot read store.keyFile ${keyFile}: ${errorLine(e)}`);
  } finally {
    closeSync(fd);
  }
  if (raw.length === 32) return { kind: 'keyfile', key: raw, file: keyFile };
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return { kind: 'keyfile', key: Buffer.from(text, 'hex'), file: keyFile };
  const b64 = Buffer.from(text, 'base64');
  if (b64.length === 32) return { kind: 'keyfile', key: b64, file: keyFile };
  throw new BillboardError(
    'STORE_OPEN',
    `store.keyFile ${keyFile} must hold 32 bytes (raw, 64 hex characters, or base64); make one with: head -c 32 /dev/urandom > ${keyFile}`,
  );
}

export function requireKeySource(env: NodeJS.ProcessEnv, keyFile?: string): KeySource {
  const k = keySourceFrom(env, keyFile);
  if (!k) {
    throw new BillboardError('STORE_OPEN', 'no store key: set BILLBOARD_PASSPHRASE, or store.keyFile in the config (32 random bytes)');
  }
  return k;
}

/** The shortest passphrase `init` accepts for a new store. */
export const MIN_PASSPHRASE_CHARS = 12;

/**
 * Why a passphrase is too weak to protect a new store, or undefined. The store file may be copied away and attacked
 * offline at leisure, and scrypt only multiplies the cost of each guess: at least 12 characters, not mostly one
 * repeated character, not a run of digits. A key file (store.keyFile) is the alternative for unattended setups.
 */
export function passphraseProblem(passphrase: string): string | undefined {
  const chars = [...passphrase];
  const why =
    chars.length < MIN_PASSPHRASE_CHARS
      ? `it has ${chars.length} characters; use at least ${MIN_PASSPHRASE_CHARS}`
      : new Set(chars).size < 6
        ? 'it repeats too few characters'
        : /^[0-9\s.-]*$/.test(passphrase)
          ? 'it is only digits'
          : undefined;
  return why && `the passphrase is too weak for a new store: ${why} (a few words make a good one), or use store.keyFile`;
}
