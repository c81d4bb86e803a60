import { randomBytes } from 'node:crypto';
import type { KdfParams } from '../../src/store/crypto.js';
import type { StoreDoc } from '../../src/store/doc-codec.js';
import { sealSnapshot } from '../../src/store/store-file.js';

// Store files for tests that rewrite one: built only from the store's own sealing and document types.

/** A new file with `plain` as its snapshot and no changes. */
export async function sealFile(plain: Buffer, key: Buffer, params: KdfParams): Promise<Buffer> {
  return Buffer.concat(await sealSnapshot([plain], key, params, randomBytes(16)));
}

/** Plain-JSON form of a document: what the file holds. */
export function docToJson(doc: StoreDoc): object {
  return { ...doc, audit: doc.audit.slice(), beacons: Object.fromEntries(doc.beacons ?? []) };
}
