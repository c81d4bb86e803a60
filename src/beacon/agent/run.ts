// The send loop: one beacon per interval (jittered), signed or under a session, until --count or a signal.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import type { KeyObject } from 'node:crypto';
import { decodeDatagram, encodeMac, encodeSigned, fingerprintOfRaw, rawPublicKey, type BeaconBody, type Decoded } from '../wire.js';
import { parseHostPort, type AgentArgs } from './args.js';
import { guestIdentity, guestInterfaces, type GuestIdentity } from './guest.js';
import { loadPrivateKey } from './key-file.js';
import { SeqStore } from './seq-store.js';
import { AgentSessions } from './sessions.js';

/** Run the agent with checked arguments. Resolves to the exit code. */
export async function runAgent(a: AgentArgs): Promise<number> {
  const { host, port } = parseHostPort(a.to);
  const edPrivate = loadPrivateKey(a.key);
  const edPublic = rawPublicKey(edPrivate);
  const me = guestIdentity(a);
  const store = new SeqStore(a.state ?? `${a.key}.seq`);
  store.open();
  const { sock, address } = await openSocket(host, a.verbose);

  const sessions = new AgentSessions(edPublic, a.oneWay, a.resignEvery);
  sock.on('message', (msg, rinfo) => {
    if (rinfo.address !== address || rinfo.port !== port) return; // only the console answers
    let d: Decoded;
    try {
      d = decodeDatagram(msg);
    } catch {
      return;
    }
    sessions.onReply(d);
  });

  const sender: Sender = { a, me, store, sessions, edPrivate, edPublic };
  const sendOne = (): void => {
    const { bytes, seq, kind } = nextDatagram(sender);
    sock.send(bytes, port, address);
    if (a.verbose) process.stderr.write(`billboard-beacon: seq ${seq} ${kind} ${bytes.length} bytes\n`);
  };
  process.stderr.write(
    `billboard-beacon: ${me.name} (${me.uuid}, ${fingerprintOfRaw(edPublic)}) → ${address}:${port} every ${a.intervalS}s\n`,
  );
  return beaconLoop(a, sock, sendOne);
}

interface Sender {
  a: AgentArgs;
  me: GuestIdentity;
  store: SeqStore;
  sessions: AgentSessions;
  edPrivate: KeyObject;
  edPublic: Buffer;
}

/** The next beacon's bytes: a fresh seq, the interfaces as they are now, a MAC under the session or a signature. */
function nextDatagram({ a, me, store, sessions, edPrivate, edPublic }: Sender): { bytes: Buffer; seq: number; kind: 'mac' | 'signed' } {
  const ifaces = a.macs.length > 0 || a.ips.length > 0 ? { macs: a.macs, ips: a.ips } : guestInterfaces();
  const body: BeaconBody = {
    uuid: me.uuid,
    name: me.name,
    macs: ifaces.macs,
    ips: ifaces.ips,
    os: me.osName,
    hostname: me.hostname,
    bootId: me.bootId,
    seq: store.next(),
    ts: Date.now(),
  };
  const how = sessions.next(body.seq);
  if ('conflict' in how && (sessions.conflicts === 1 || a.verbose)) {
    process.stderr.write('billboard-beacon: warning: two different ACCEPTs answered one hello (a spoofed answer?); signing, new hello\n');
  }
  if ('mac' in how) return { bytes: encodeMac(body, edPublic, how.mac.id, how.mac.key), seq: body.seq, kind: 'mac' };
  return { bytes: encodeSigned(body, edPrivate, edPublic, how.ephemeral), seq: body.seq, kind: 'signed' };
}

async function openSocket(host: string, verbose: boolean): Promise<{ sock: dgram.Socket; address: string }> {
  let target: { address: string; family: number };
  try {
    target = await lookup(host);
  } catch (e) {
    throw new Error(`cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', (e) => {
    if (verbose) process.stderr.write(`billboard-beacon: socket: ${e.message}\n`);
  });
  return { sock, address: target.address };
}

/** Send every interval (jittered) until --count or a signal; 1 when a beacon cannot be made. */
function beaconLoop(a: AgentArgs, sock: dgram.Socket, sendOne: () => void): Promise<number> {
  let sent = 0;
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      sock.close(() => resolve(code));
    };
    const onSignal = (): void => finish(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tick = (): void => {
      try {
        sendOne();
        sent++;
      } catch (e) {
        process.stderr.write(`billboard-beacon: ${(e as Error).message.split('\n')[0]}\n`);
        finish(1);
        return;
      }
      if (a.count !== undefined && sent >= a.count) {
        // give the last datagram a moment to leave before closing the socket
        timer = setTimeout(() => finish(0), 20);
        return;
      }
      const jitter = 0.9 + Math.random() * 0.2; // ±10% so a fleet does not beat in step
      timer = setTimeout(tick, a.intervalS * 1000 * jitter);
    };
    tick();
  });
}
