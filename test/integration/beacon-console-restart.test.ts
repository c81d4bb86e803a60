// Replay state across a restart of the real console process: beacons captured while one `billboard script` ran
// are re-sent to the next one, over its real store file. They must be replays (REPLAYED_BEACON), not a fresh
// start. Needs dist/ (npx tsc -p .).
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wire from '../../src/beacon/wire.js';
import { jsonLines, requireDist, spawnBillboard, tempLab, type TempLab } from './script-harness.js';

const UUID = '5b0f3c9e-2a41-4c6e-9d1f-0e8a7b6c5d4e';

async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Run `billboard script --json`, calling `whileRunning` once the first `count` result lines are out; resolves to
 *  every JSON line once the process ends. */
function script(lab: TempLab, input: string, count: number, whileRunning: () => Promise<void>): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    const child = spawnBillboard(['script', '--json'], lab.env);
    let stdout = '';
    let stderr = '';
    let started = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`billboard script did not finish; stderr: ${stderr}`));
    }, 60_000);
    child.stdout!.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      if (!started && stdout.split('\n').filter((l) => l).length >= count) {
        started = true;
        whileRunning().catch(reject);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`billboard script exited ${code}: ${stderr}`));
      else resolve(jsonLines(stdout));
    });
    child.stdin!.end(input);
  });
}

describe('replay marks across a console restart (real processes, real store file)', () => {
  let lab: TempLab;
  let port = 0;
  const agent = wire.newKeyPair('ed25519');
  const bootId = crypto.randomUUID();
  let seq = 0;
  const beacon = () =>
    wire.encodeSigned(
      { uuid: UUID, name: 'vm0', macs: [], ips: [], os: 'Linux', hostname: 'vm0', bootId, seq: ++seq, ts: Date.now() },
      agent.privateKey,
      agent.publicKey,
    );
  let sock: dgram.Socket;

  beforeAll(async () => {
    requireDist();
    lab = tempLab();
    port = await freePort();
    fs.writeFileSync(path.join(lab.dir, 'config', 'billboard', 'config.json'), JSON.stringify({ beacon: { listen: `127.0.0.1:${port}` } }));
    sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  });

  afterAll(() => {
    sock?.close();
    lab?.cleanup();
  });

  it('a beacon captured before the restart is a replay after it', async () => {
    const captured: Buffer[] = [];
    const first = await script(
      lab,
      `register vm0 --uuid ${UUID} --pubkey ${agent.publicKey.toString('base64')}\napprove vm0\nwait 3\nshow vm0\n`,
      2,
      async () => {
        for (let i = 0; i < 10; i++) {
          const b = beacon();
          captured.push(b);
          sock.send(b, port, '127.0.0.1');
          await new Promise((r) => setTimeout(r, 100));
        }
      },
    );
    expect(first.map((l) => l.ok)).toEqual([true, true, true, true]);
    expect(JSON.stringify(first[3])).toContain('"seq":10');

    // the next session: the captured beacons, each once, in order (without the marks they would all look new)
    // (the first result line means the session runs, its listener included)
    const second = await script(lab, 'pending\nwait 3\nfindings\n', 1, async () => {
      for (const b of captured.slice(5)) {
        sock.send(b, port, '127.0.0.1');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const findings = JSON.stringify(second.at(-1));
    expect(findings).toContain('REPLAYED_BEACON');
    expect(findings).toMatch(/seq \d+ not above 10/);
  }, 90_000);
});
