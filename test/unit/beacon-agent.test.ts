// The agent's own logic without a network: the handshake (which ACCEPTs it takes), the default name (under the
// name rule the listener applies), and the sequence store's limits.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultName } from '../../src/beacon/agent/guest.js';
import { SeqStore } from '../../src/beacon/agent/seq-store.js';
import { AgentSessions } from '../../src/beacon/agent/sessions.js';
import * as wire from '../../src/beacon/wire.js';
import { nameProblem } from '../../src/model/text.js';

const edPub = wire.newKeyPair('ed25519').publicKey;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-agent-unit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What a listener (or anyone who does its own key exchange) answers to the hello carrying `agentEph`. */
function answer(agentEph: Buffer, seq: number, sid = crypto.randomBytes(8)): { datagram: Buffer; sid: Buffer; key: Buffer } {
  const mine = wire.newKeyPair('x25519');
  const shared = crypto.diffieHellman({ privateKey: mine.privateKey, publicKey: wire.publicKeyFromRaw(agentEph, 'x25519') });
  const key = wire.deriveSessionKey(shared, agentEph, mine.publicKey, sid, edPub);
  return { datagram: wire.encodeAccept(sid, mine.publicKey, seq, agentEph, key), sid, key };
}
const decode = (b: Buffer) => wire.decodeDatagram(b);

describe('AgentSessions: which ACCEPT the agent takes', () => {
  it('takes an authenticated ACCEPT and sends MAC beacons under it', () => {
    const s = new AgentSessions(edPub, false, 30);
    const hello = s.next(1);
    expect('ephemeral' in hello && hello.ephemeral).toBeTruthy();
    const eph = (hello as { ephemeral: Buffer }).ephemeral;
    const a = answer(eph, 1);
    s.onReply(decode(a.datagram));
    const next = s.next(2);
    expect('mac' in next && next.mac.id.equals(a.sid) && next.mac.key.equals(a.key)).toBe(true);
  });

  it('ignores an ACCEPT that only echoes the ephemeral key prefix (its tag does not verify)', () => {
    const s = new AgentSessions(edPub, false, 30);
    const eph = (s.next(1) as { ephemeral: Buffer }).ephemeral;
    const forged = wire.encodeAccept(crypto.randomBytes(8), wire.newKeyPair('x25519').publicKey, 1, eph, crypto.randomBytes(32));
    s.onReply(decode(forged));
    const next = s.next(2);
    expect('ephemeral' in next && next.ephemeral?.equals(eph)).toBe(true); // still the same hello, signed
  });

  it('trusts neither of two different authenticated ACCEPTs for one hello: signs, with a new hello', () => {
    const s = new AgentSessions(edPub, false, 30);
    const eph = (s.next(1) as { ephemeral: Buffer }).ephemeral;
    s.onReply(decode(answer(eph, 1).datagram)); // the spoofer, first
    s.onReply(decode(answer(eph, 1).datagram)); // the listener
    const next = s.next(2);
    expect('conflict' in next && next.conflict).toBe(true);
    expect('ephemeral' in next && next.ephemeral && !next.ephemeral.equals(eph)).toBe(true);
    expect(s.conflicts).toBe(1);
  });

  it('a repeated ACCEPT for the same session (a re-sent hello) is no conflict', () => {
    const s = new AgentSessions(edPub, false, 30);
    const eph = (s.next(1) as { ephemeral: Buffer }).ephemeral;
    const mine = wire.newKeyPair('x25519');
    const sid = crypto.randomBytes(8);
    const key = wire.deriveSessionKey(
      crypto.diffieHellman({ privateKey: mine.privateKey, publicKey: wire.publicKeyFromRaw(eph, 'x25519') }),
      eph,
      mine.publicKey,
      sid,
      edPub,
    );
    s.onReply(decode(wire.encodeAccept(sid, mine.publicKey, 1, eph, key)));
    s.onReply(decode(wire.encodeAccept(sid, mine.publicKey, 2, eph, key)));
    expect('mac' in s.next(3)).toBe(true);
  });

  it('one-way mode never offers an ephemeral key', () => {
    const s = new AgentSessions(edPub, true, 30);
    expect(s.next(1)).toEqual({ ephemeral: undefined });
  });
});

describe('the agent default name', () => {
  it('cleans a hostname into a usable default name', () => {
    expect(defaultName('web-01', '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e')).toBe('web-01');
    expect(defaultName('cafe', '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e')).toBe('vm-cafe');
    expect(defaultName('we"b\u202e01 ', '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e')).toBe('web01');
    expect(defaultName('', '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e')).toBe('vm-5b0f3c9e');
    for (const h of ['a'.repeat(80), 'deadbeef', '\u200b', 'ab"cd'])
      expect(nameProblem(defaultName(h, '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e'))).toBeUndefined();
  });
});

describe('SeqStore', () => {
  it('never reserves or hands out a seq above 2^53-1', () => {
    const file = path.join(tmp, 'near-max.seq');
    fs.writeFileSync(file, JSON.stringify({ v: 1, reserved: Number.MAX_SAFE_INTEGER - 1 }), { mode: 0o600 });
    const s = new SeqStore(file);
    s.open();
    expect(s.next()).toBe(Number.MAX_SAFE_INTEGER);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).reserved).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => s.next()).toThrow(/used up/);
  });

  it('writes through no planted temp file, and leaves no temp file behind', () => {
    const file = path.join(tmp, 'planted.seq');
    const victim = path.join(tmp, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    fs.symlinkSync(victim, `${file}.tmp`);
    const s = new SeqStore(file);
    s.open();
    expect(s.next()).toBe(1);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('.planted.seq.'))).toEqual([]);
  });

  it('refuses a state file that others can write, or that is a symbolic link', () => {
    const file = path.join(tmp, 'open.seq');
    fs.writeFileSync(file, JSON.stringify({ v: 1, reserved: 5 }));
    fs.chmodSync(file, 0o666);
    expect(() => new SeqStore(file).open()).toThrow(`state file ${file} is writable by others (mode 0666)`);
    const link = path.join(tmp, 'link.seq');
    fs.chmodSync(file, 0o600);
    fs.symlinkSync(file, link);
    expect(() => new SeqStore(link).open()).toThrow(/is a symbolic link: refusing it/);
  });
});
