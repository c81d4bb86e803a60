import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newKeyPair } from '../beacon/wire.js';
import { childEnv } from '../model/child-env.js';
import type { DemoVm } from './cast.js';
import { demoIp } from './lab.js';

const AGENT_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'billboard-beacon.js');

export interface AgentKey {
  file: string;
  /** base64 raw Ed25519 public key, as `billboard-beacon keygen` prints it */
  publicKey: string;
}

/** Same key format as `billboard-beacon keygen`: PKCS#8 PEM, mode 0600. */
export function makeKey(dir: string, name: string): AgentKey {
  // newKeyPair, not a JWK export: Node 20 can deadlock exporting a fresh key as JWK (see beacon/wire.ts)
  const { privateKey, publicKey } = newKeyPair('ed25519');
  const file = join(dir, `${name}.key`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  return { file, publicKey: publicKey.toString('base64') };
}

/**
 * Real `billboard-beacon` processes (real UDP, real Ed25519). Each is killed on stop(), and also when this
 * process exits by any path, so a demo never leaves agents behind.
 */
export class DemoAgents {
  private readonly procs = new Map<string, ChildProcess>();
  /** the host and VM each agent runs in (a forger runs in none) */
  private readonly where = new Map<string, { host: string; uuid: string }>();
  private readonly killAll = () => {
    for (const p of this.procs.values()) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  };

  constructor(
    private readonly dir: string,
    private readonly to: string,
    private readonly intervalS: number,
  ) {
    process.on('exit', this.killAll);
  }

  start(id: string, v: DemoVm, key: AgentKey, o: { bootId?: string; count?: number; host?: string } = {}): void {
    const args = [
      AGENT_BIN,
      '--to',
      this.to,
      '--key',
      key.file,
      '--state',
      join(this.dir, `${id}.seq`),
      '--uuid',
      v.uuid,
      '--name',
      v.name,
      '--hostname',
      v.name,
      '--os',
      v.os,
      '--boot-id',
      o.bootId ?? randomUUID(),
      '--interval',
      String(this.intervalS),
      // a safety net: even if everything else failed, an orphaned agent stops by itself after an hour
      '--count',
      String(o.count ?? Math.ceil(3600 / this.intervalS)),
      ...v.macs.flatMap((m) => ['--mac', m, '--ip', demoIp(m)]),
    ];
    const p = spawn(process.execPath, args, { stdio: 'ignore', env: childEnv() });
    p.on('exit', () => {
      if (this.procs.get(id) === p) this.procs.delete(id);
    });
    this.procs.set(id, p);
    if (o.host) this.where.set(id, { host: o.host, uuid: v.uuid });
    else this.where.delete(id);
  }

  /** a VM migrated: the agent inside it is now on `to` */
  moved(uuid: string, from: string, to: string): void {
    for (const w of this.where.values()) if (w.host === from && w.uuid === uuid) w.host = to;
  }

  /** a VM stopped or was cut off on a host: the agent inside it goes with it */
  stopIn(host: string, uuid: string): void {
    for (const [id, w] of this.where) if (w.host === host && w.uuid === uuid) this.stop(id);
  }

  /** the agent falls silent (as if its guest hung) */
  stop(id: string): void {
    this.procs.get(id)?.kill('SIGKILL');
    this.procs.delete(id);
    this.where.delete(id);
  }

  async stopAll(): Promise<void> {
    const waits = [...this.procs.values()].map(
      (p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r()))),
    );
    this.killAll();
    await Promise.all(waits);
    this.procs.clear();
    process.off('exit', this.killAll);
  }
}
