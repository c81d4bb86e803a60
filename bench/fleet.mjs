// What the benches' beacon fleets share: the generator child's setup, the agent's side of the session handshake
// (checked as the agent checks it), the in-place seq/ts patch of a MAC beacon, and the fleet's identities. All of it
// speaks the real wire protocol (dist/beacon/wire.js).

import crypto from 'node:crypto';

const wire = await import('../dist/beacon/wire.js');

export function childSetup(tag, hint, run) {
  process.on('disconnect', () => process.exit(0)); // the bench is gone: never flood loopback as an orphan
  const report = (e) => {
    const message = e?.stack ?? String(e);
    process.stderr.write(`${tag}: generator: ${message}\n`);
    if (process.connected) process.send({ type: 'error', message: message.split('\n')[0] }, () => process.exit(1));
    else process.exit(1);
  };
  process.on('uncaughtException', report);
  process.on('unhandledRejection', report);
  if (!process.send) {
    process.stderr.write(`${tag}: ${hint}\n`);
    process.exit(2);
  }
  process.once('message', (m) => void run(m).catch(report));
}

/** Patch seq (offset 5) and ts (offset 13) of an encoded beacon in place. */
export function patchSeqTs(out, seq, ts) {
  out.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 5);
  out.writeUInt32BE(seq >>> 0, 9);
  out.writeUInt32BE(Math.floor(ts / 0x1_0000_0000), 13);
  out.writeUInt32BE(ts >>> 0, 17);
}

/** The agent's side of the session handshake: ACCEPT (checked as the agent does) and REKEY. */
export function sessionKeeper() {
  const byEph = new Map(); // first 8 bytes of a pending hello's X25519 key (hex) → vm
  const bySession = new Map(); // session id (hex) → vm
  const drop = (vm) => {
    if (vm.session) bySession.delete(vm.session.id.toString('hex'));
    vm.session = undefined;
  };
  const onReply = (msg) => {
    let d;
    try {
      d = wire.decodeDatagram(msg);
    } catch {
      return;
    }
    if (d.type === 'accept') {
      const vm = byEph.get(d.ephemeralPrefix.toString('hex'));
      if (!vm || !vm.pending || d.seq < vm.pending.seq) return;
      const shared = crypto.diffieHellman({
        privateKey: vm.pending.privateKey,
        publicKey: wire.publicKeyFromRaw(d.listenerEphemeral, 'x25519'),
      });
      const key = wire.deriveSessionKey(shared, vm.pending.pub, d.listenerEphemeral, d.sessionId, vm.pub);
      if (!wire.checkMac(key, d.authed, d.tag)) return; // only an ACCEPT from the holder of the listener's key
      byEph.delete(d.ephemeralPrefix.toString('hex'));
      const id = Buffer.from(d.sessionId);
      vm.session = { id, key: crypto.createSecretKey(key), used: 0, dgram: wire.encodeMac(vm.body, vm.pub, id, key) };
      bySession.set(id.toString('hex'), vm);
      vm.pending = undefined;
    } else if (d.type === 'rekey') {
      const vm = bySession.get(d.sessionId.toString('hex'));
      if (vm) drop(vm);
    }
  };
  const hello = (vm) => {
    drop(vm);
    if (!vm.pending) {
      const kp = wire.newKeyPair('x25519');
      vm.pending = { seq: vm.body.seq, privateKey: kp.privateKey, pub: kp.publicKey };
      byEph.set(kp.publicKey.subarray(0, 8).toString('hex'), vm);
    }
    return vm.pending.pub;
  };
  return { onReply, hello, drop };
}

/** n approved-VM identities for a fleet generator: Ed25519 keys (base64 SPKI raw and PKCS#8), a MAC and an IP each */
export function fleetIdentities(n) {
  return Array.from({ length: n }, (_, i) => {
    const { privateKey, publicKey } = wire.newKeyPair('ed25519');
    const b = (s) => ((i >> s) & 255).toString(16).padStart(2, '0');
    return {
      uuid: crypto.randomUUID(),
      name: `vm-${i}`,
      mac: `52:54:00:${b(16)}:${b(8)}:${b(0)}`,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      pub: publicKey.toString('base64'),
      pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    };
  });
}
