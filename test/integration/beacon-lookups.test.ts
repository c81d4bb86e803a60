// A real agent → a real BeaconListener over loopback UDP: the registry is asked once per MAC beacon and twice per
// signed one (on arrival, and again once its worker has verified it), not once per question the listener has.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { BeaconListener } from '../../src/beacon/listener.js';
import type { BeaconEvent } from '../../src/model/types.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/billboard-beacon.js');
const UUID = '44444444-4444-4444-8444-444444444444';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'beacon-lookups-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

it('one registry lookup per MAC beacon, two per signed beacon', async () => {
  const out = execFileSync(process.execPath, [BIN, 'keygen', '--out', path.join(tmp, 'k')], { encoding: 'utf8' });
  const pub = /public key:\s+(\S+)/.exec(out)![1]!;
  let lookups = 0;
  const listener = new BeaconListener({
    listen: '127.0.0.1:0',
    maxSkewMs: 30_000,
    workers: 1,
    keyLookup: (u) => (lookups++, u === UUID ? pub : undefined),
  });
  const events: BeaconEvent[] = [];
  listener.on('beacon', (e: BeaconEvent) => events.push(e));
  const { port } = await listener.start();
  try {
    const args = ['--to', `127.0.0.1:${port}`, '--key', path.join(tmp, 'k'), '--uuid', UUID, '--name', 'vm4'];
    const agent = spawn(process.execPath, [BIN, ...args, '--interval', '0.1', '--count', '20', '--resign-every', '10'], {
      stdio: 'ignore',
    });
    await new Promise((r) => agent.on('exit', r));
    for (const end = Date.now() + 10_000; events.length < 20 && Date.now() < end;) await new Promise((r) => setTimeout(r, 25));
    expect(events.map((e) => e.verdict)).toEqual(Array(20).fill('valid'));
    const c = listener.counters();
    expect(c.handshakes).toBeGreaterThanOrEqual(1);
    // 20 beacons, a few signed (the hello and each re-sign), the rest MACs: well under two lookups a beacon
    expect(lookups).toBeGreaterThanOrEqual(20);
    expect(lookups).toBeLessThanOrEqual(20 + 10);
  } finally {
    await listener.stop();
  }
});
