// The beacon wire codec, for everything on the console side. It lives in agent-cli.ts because the agent must be a
// single file with no imports but node builtins (it is copied alone into guests); this module is the name the rest
// of the console imports it by. Spec: docs/beacon-protocol.md.
export {
  WIRE_MAGIC,
  WIRE_VERSION,
  MSG_SIGNED,
  MSG_MAC,
  MSG_ACCEPT,
  MSG_REKEY,
  MAX_DATAGRAM,
  MAX_STR_BYTES,
  MAX_MACS,
  MAX_IPS,
  DEFAULT_RESIGN_EVERY,
  WireError,
  rawPublicKey,
  publicKeyFromRaw,
  fingerprintOfRaw,
  deriveSessionKey,
  macTag,
  checkMac,
  encodeBeaconCore,
  encodeSigned,
  encodeMac,
  encodeAccept,
  encodeRekey,
  decodeDatagram,
  ipBytes,
  ipString,
  truncateUtf8,
  SeqStore,
} from './agent-cli.js';
export type { BeaconBody, Decoded } from './agent-cli.js';
