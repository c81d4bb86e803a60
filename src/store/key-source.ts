import { readFileSync, statSync } from 'node:fs';
import { BillboardError, errorLine } from '../model/errors.js';
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
  try {
    const st = statSync(keyFile);
    if (st.size > 4096) throw new Error('file is too large to be a key');
    raw = readFileSync(keyFile);
  } catch (e) {
    throw new BillboardError('STORE_OPEN', `cannot read store.keyFile ${keyFile}: ${errorLine(e)}`);
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
    throw new BillboardError(
      'STORE_OPEN',
      'no store key: set BILLBOARD_PASSPHRASE, or store.keyFile in the config (32 random bytes)',
    );
  }
  return k;
}
