// The service's SSH endpoint turns Nagle's algorithm off on each connection it accepts. With it on, an SSH exchange of
// small packets (key exchange, auth, an exec and its answer) waits on the client's delayed ACKs: about 90 ms per
// `ssh … admit` on loopback, which a host's admission hook adds to every `virsh start`. Checked where it is decided
// (the accepted socket is asked for TCP_NODELAY), with OpenSSH's own client doing a real exec.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newHostKeyPair } from '../../src/serve/host-key.js';
import { OperatorDirectory } from '../../src/serve/operators.js';
import { startSshEndpoint, type SshEndpoint } from '../../src/serve/ssh-endpoint.js';
import { runProcess } from './serve-harness.js';

let endpoint: SshEndpoint | undefined;
let dir: string | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await endpoint?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('serve ssh endpoint', () => {
  it('sets TCP_NODELAY on every accepted connection', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bb-nodelay-'));
    const key = join(dir, 'id_host-lab-a');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
    const hostKey = newHostKeyPair();
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    const accepted: Socket[] = [];
    endpoint = await startSshEndpoint({
      listen: '127.0.0.1:0',
      hostKey: Buffer.from(hostKey.private),
      operators: () => new OperatorDirectory([{ name: 'host-lab-a', role: 'host', keys: [readFileSync(`${key}.pub`, 'utf8').trim()] }]),
      log: pino({ level: 'silent' }),
      maxConnections: 4,
      onClient: (_op, conn) => accepted.push((conn as unknown as { _sock: Socket })._sock),
      onSession: (_op, req) => {
        req.channel.write('yes\n');
        req.channel.exit(0);
        req.channel.end();
      },
    });
    const known = join(dir, 'known_hosts');
    writeFileSync(known, `[127.0.0.1]:${endpoint.address.port} ${hostKey.public}\n`);
    const r = await runProcess(
      'ssh',
      [
        ...['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes'],
        ...['-o', 'IdentitiesOnly=yes', '-i', key, '-p', String(endpoint.address.port), 'host-lab-a@127.0.0.1', 'admit'],
      ],
      process.env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('yes\n');
    expect(accepted).toHaveLength(1);
    const onAccepted = noDelay.mock.contexts.map((s, i) => [s === accepted[0], noDelay.mock.calls[i]![0]]);
    expect(onAccepted).toContainEqual([true, true]);
  });
});
