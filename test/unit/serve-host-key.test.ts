// The service's host key generator: every key it makes parses as the OpenSSH key it claims to be (ssh2's own
// generator makes a malformed Ed25519 key about once in 250, which made `billboard init` fail now and then).
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { newHostKeyPair } from '../../src/serve/host-key.js';

describe('newHostKeyPair', () => {
  it('makes only keys that parse, with a 32-byte Ed25519 public key', () => {
    let bad = 0;
    for (let i = 0; i < 2500; i++) {
      const parsed = ssh2.utils.parseKey(newHostKeyPair().private);
      if (parsed instanceof Error || (Array.isArray(parsed) ? parsed[0] : parsed)!.getPublicSSH().length !== 51) bad++;
    }
    expect(bad).toBe(0);
  });
});
