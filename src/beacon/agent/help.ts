import { DEFAULT_RESIGN_EVERY } from '../wire.js';

/** `billboard-beacon --help`; the same flags as DESIGN.md's command sheet and README's agent section. */
export const HELP = `billboard-beacon: the billboard guest agent. It proves this VM is alive and who it is by sending
signed UDP beacons to the billboard console.

Usage:
  billboard-beacon keygen --out FILE
      Make an Ed25519 agent key. FILE gets the private key (mode 0600, PEM); the public key is printed
      (base64, raw 32 bytes) with its fingerprint. Give the public key to the operator:
        billboard register NAME --uuid UUID --pubkey KEY      (or approve the VM when its first beacon arrives)

  billboard-beacon --to HOST:PORT --key FILE [options]
      Send beacons until SIGINT/SIGTERM (or --count beacons). Options:
        --uuid UUID        VM identity      (default: /sys/class/dmi/id/product_uuid, needs root)
        --name NAME        VM name          (default: the hostname)
        --mac MAC          repeatable       (default: every non-loopback interface)
        --ip IP            repeatable       (default: every non-loopback address)
        --os OS                             (default: PRETTY_NAME from /etc/os-release)
        --hostname NAME                     (default: os.hostname())
        --boot-id UUID                      (default: /proc/sys/kernel/random/boot_id)
        --interval S       seconds between beacons, jittered ±10% (default 5)
        --count N          stop after N beacons (default: run forever)
        --state FILE       where the sequence number is kept (default: KEYFILE.seq)
        --one-way          sign every beacon; never set up a session (for networks that drop replies)
        --resign-every N   full signature at least every N beacons on a session (default ${DEFAULT_RESIGN_EVERY})
        --verbose          one stderr line per beacon

Example:
  billboard-beacon keygen --out /etc/billboard/agent.key
  billboard-beacon --to 10.0.0.1:7447 --key /etc/billboard/agent.key --interval 5

Exit codes: 0 done (or stopped by a signal), 1 runtime error, 2 usage error.
Protocol: docs/beacon-protocol.md in the billboard repository.
`;
