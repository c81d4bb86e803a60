import { diffieHellman, type KeyObject } from 'node:crypto';
import { checkMac, deriveSessionKey, newKeyPair, publicKeyFromRaw, type Decoded } from '../wire.js';

export interface Session {
  id: Buffer;
  key: Buffer;
  used: number;
}

interface PendingHello {
  seq: number;
  privateKey: KeyObject;
  publicKey: Buffer;
  /** the first authenticated ACCEPT for this hello */
  answer?: Session;
  /** a second, different authenticated ACCEPT came too */
  conflict: boolean;
}

/**
 * The agent's side of the handshake (docs/beacon-protocol.md §4). An ACCEPT counts only if its tag verifies under
 * the session key it implies, so it comes from whoever holds the private half of the listener ephemeral key it
 * names; echoing the agent's ephemeral key (sent in clear) is not enough. The agent takes the answer at its next
 * beacon: if two different authenticated ACCEPTs answered one hello by then (someone who sees the hello raced the
 * listener with a key exchange of its own), it trusts neither, signs, and starts a new hello.
 */
export class AgentSessions {
  private session: Session | undefined;
  private pending: PendingHello | undefined;
  /** hellos voided by conflicting ACCEPTs */
  conflicts = 0;

  constructor(
    private readonly edPublic: Buffer,
    private readonly oneWay: boolean,
    private readonly resignEvery: number,
  ) {}

  /** A datagram from the listener's address. */
  onReply(d: Decoded): void {
    if (d.type === 'accept') this.onAccept(d);
    else if (d.type === 'rekey' && this.session && d.sessionId.equals(this.session.id)) this.session = undefined;
  }

  private onAccept(d: Extract<Decoded, { type: 'accept' }>): void {
    const p = this.pending;
    if (!p || d.seq < p.seq || !d.ephemeralPrefix.equals(p.publicKey.subarray(0, 8))) return;
    let key: Buffer;
    try {
      const shared = diffieHellman({ privateKey: p.privateKey, publicKey: publicKeyFromRaw(d.listenerEphemeral, 'x25519') });
      key = deriveSessionKey(shared, p.publicKey, d.listenerEphemeral, d.sessionId, this.edPublic);
    } catch {
      return; // a low-order point or garbage
    }
    if (!checkMac(key, d.authed, d.tag)) return;
    if (!p.answer) p.answer = { id: Buffer.from(d.sessionId), key, used: 0 };
    else if (!p.answer.id.equals(d.sessionId) || !p.answer.key.equals(key)) p.conflict = true;
  }

  /** How to send the beacon numbered `seq`: under a session (MAC), or signed with this ephemeral key (or none). */
  next(seq: number): { mac: Session } | { ephemeral: Buffer | undefined; conflict?: true } {
    const p = this.pending;
    let conflict = false;
    if (p?.answer) {
      this.pending = undefined;
      if (p.conflict) {
        conflict = true;
        this.conflicts++;
      } else this.session = p.answer;
    }
    if (this.session && this.session.used < this.resignEvery) {
      this.session.used++;
      return { mac: this.session };
    }
    this.session = undefined;
    if (!this.oneWay && !this.pending) {
      // one ephemeral key per handshake: repeated hellos carry it until an ACCEPT is taken, so a slow answer to an
      // earlier hello still completes the exchange
      const kp = newKeyPair('x25519');
      this.pending = { seq, privateKey: kp.privateKey, publicKey: kp.publicKey, conflict: false };
    }
    return conflict ? { ephemeral: this.pending?.publicKey, conflict: true } : { ephemeral: this.pending?.publicKey };
  }
}
