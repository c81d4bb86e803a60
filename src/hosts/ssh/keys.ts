import ssh2 from 'ssh2';

/**
 * A new Ed25519 key pair in OpenSSH format. ssh2's generator drops a leading zero byte of the public key (about one
 * key in 250 comes out 31 bytes long), and such a key does not parse: make another until one does.
 */
export function newSshKeyPair(comment: string): { private: string; public: string } {
  for (let i = 0; ; i++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error) || i >= 20) return pair;
  }
}
