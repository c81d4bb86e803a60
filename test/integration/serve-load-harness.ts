// Shared by serve-load/serve-slow tests: agents that beacon a real `billboard serve` with the real protocol (one-way
// signed beacons of registered keys), the service's valid-beacon count from its /metrics, and SSH clients (the ssh2
// package, as `billboard --connect` uses it) that the tests can stall, starve or cut off.
import { randomUUID, type KeyObject } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { encodeSigned, newKeyPair } from '../../src/beacon/wire.js';
import { freePort, type ServeLab } from './serve-harness.js';

export interface Agent {
  uuid: string;
  name: string;
  mac: string;
  privateKey: KeyObject;
  pub: Buffer;
  seq: number;
  bootId: string;
}

export function makeAgents(n: number, prefix = 'vm'): Agent[] {
  return Array.from({ length: n }, (_, i) => {
    const { privateKey, publicKey } = newKeyPair('ed25519');
    const b = (s: number) => ((i >> s) & 255).toString(16).padStart(2, '0');
    return {
      uuid: randomUUID(),
      name: `${prefix}-${i}`,
      mac: `52:54:00:${b(16)}:${b(8)}:${b(0)}`,
      privateKey,
      pub: publicKey,
      seq: 0,
      bootId: randomUUID(),
    };
  });
}

/** the plan that registers (with its key) and approves every agent */
export const registerPlan = (agents: Agent[]) =>
  agents
    .map((a) => `register ${a.name} --uuid ${a.uuid} --pubkey ${a.pub.toString('base64')} --mac ${a.mac}\napprove ${a.uuid}\n`)
    .join('');

/** Every agent beacons once per periodMs (spread evenly), until stop(); sent() counts the datagrams sent. */
export async function beaconFleet(port: number, agents: Agent[], periodMs = 1000) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  let sent = 0;
  let i = 0;
  const step = periodMs / agents.length;
  const t0 = Date.now();
  const timer = setInterval(() => {
    const due = Math.floor((Date.now() - t0) / step);
    for (; i < due; i++) {
      const a = agents[i % agents.length]!;
      a.seq++;
      const body = {
        uuid: a.uuid,
        name: a.name,
        macs: [a.mac],
        ips: [],
        os: 'Linux',
        hostname: a.name,
        bootId: a.bootId,
        seq: a.seq,
        ts: Date.now(),
      };
      sock.send(encodeSigned(body, a.privateKey, a.pub), port, '127.0.0.1');
      sent++;
    }
  }, 5);
  return {
    sent: () => sent,
    stop: () => {
      clearInterval(timer);
      sock.close();
    },
  };
}

/** Set serve.metrics on a free port in the lab's config (before start); returns a reader of the valid count. */
export async function withMetrics(lab: ServeLab): Promise<() => Promise<number>> {
  const port = await freePort();
  lab.config.serve = { ...lab.config.serve, metrics: `127.0.0.1:${port}` };
  lab.writeConfig(lab.config);
  return async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const m = /^billboard_beacons_total\{[^}]*class="valid"[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
}

/** the UDP port the service's beacon listener took (it prints it when it starts) */
export const beaconPort = (lab: ServeLab) => Number(/beacons on udp [\d.]+:(\d+)/.exec((lab as any).stderr() as string)![1]);

/** An authenticated SSH connection to the service as `user`, as `billboard --connect` opens one. */
export function sshClient(lab: ServeLab, user: string): Promise<ssh2.Client> {
  const c = new ssh2.Client();
  return new Promise((resolve, reject) => {
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({
      host: '127.0.0.1',
      port: lab.port,
      username: user,
      privateKey: readFileSync(lab.keys[user]!.file),
      readyTimeout: 60_000,
      hostVerifier: () => true, // the service's key is checked by the OpenSSH clients in serve-ssh.test.ts
    });
  });
}

export function exec(c: ssh2.Client, command: string): Promise<ssh2.ClientChannel> {
  return new Promise((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));
}

/**
 * How the service keeps up with a fleet over windowMs: the agents beacon for the window and stop; the valid beacons
 * the service counted from them (once the last has landed and been judged) against the ones sent.
 */
export async function intake(port: number, agents: Agent[], valid: () => Promise<number>, windowMs: number) {
  const v0 = await valid();
  const fleet = await beaconFleet(port, agents);
  await new Promise((r) => setTimeout(r, windowMs));
  fleet.stop();
  const sent = fleet.sent();
  let last = -1;
  let v1 = await valid();
  // judged when the count stops moving (signatures are checked in workers), or all are in; at most 10 s
  for (let t = 0; t < 10_000 && v1 !== last && v1 - v0 < sent; t += 500) {
    await new Promise((r) => setTimeout(r, 500));
    last = v1;
    v1 = await valid();
  }
  return { sent, valid: v1 - v0, ratio: (v1 - v0) / Math.max(1, sent) };
}
