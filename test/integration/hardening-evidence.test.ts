import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../src/model/fingerprint.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { ROOT, requireDist, runBillboard, tempLab, type TempLab } from './script-harness.js';

// Issue 13, items 1 and 4, through the real binary: real UDP datagrams from a real agent, a libvirt test-driver
// host, enforcement `stop`. An unauthenticated datagram (a real beacon with its signature broken) must not get
// a running VM stopped, and approve must never bind a key the operator was not shown.

const AGENT = join(ROOT, 'bin', 'billboard-beacon.js');
const MAIL1 = '6f1c2b9e-0a11-4c3e-9a51-00000000c001'; // running on host-c, unregistered

/** A free UDP port on loopback (bound, then released). */
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function keygen(file: string): string {
  const out = execFileSync(process.execPath, [AGENT, 'keygen', '--out', file], { encoding: 'utf8' });
  return /[A-Za-z0-9+/]{43}=/.exec(out)![0];
}

/** One real signed beacon from the agent, captured on a socket of ours. */
async function captureBeacon(key: string, uuid: string): Promise<Buffer> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const got = new Promise<Buffer>((r) => s.once('message', (m) => r(m)));
  execFileSync(
    process.execPath,
    [
      AGENT,
      '--to',
      `127.0.0.1:${s.address().port}`,
      '--key',
      key,
      '--uuid',
      uuid,
      '--name',
      'victim',
      '--count',
      '1',
      '--one-way',
      '--interval',
      '0.1',
    ],
    { timeout: 15_000 },
  );
  const m = await got;
  s.close();
  return m;
}

let lab: TempLab | undefined;
afterEach(() => lab?.cleanup());

function writeConfig(port: number, extra: object = {}): string {
  const config = join(lab!.dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      beacon: { listen: `127.0.0.1:${port}`, intervalS: 1 },
      hosts: [{ name: 'lab-c', driver: 'libvirt', uri: fixtureUri('host-c') }],
      policy: { enforcement: 'stop' },
      ...extra,
    }),
  );
  return config;
}

describe('unauthenticated evidence never steers the console', () => {
  it('a signed datagram with a broken signature for a running, unapproved VM does not get it stopped', { timeout: 60_000 }, async () => {
    requireDist();
    lab = tempLab();
    const port = await freePort();
    const config = writeConfig(port);
    const good = await captureBeacon(join(lab.dir, 'k1'), MAIL1).catch(async () => {
      keygen(join(lab!.dir, 'k1'));
      return captureBeacon(join(lab!.dir, 'k1'), MAIL1);
    });
    const forged = Buffer.from(good);
    forged[forged.length - 1] ^= 0xff; // the signature's last byte: no key holder produced this datagram
    const sock = dgram.createSocket('udp4');
    const timer = setInterval(() => sock.send(forged, port, '127.0.0.1'), 100);
    try {
      const r = await runBillboard(['script', '--json', '--config', config], lab.env, 'scan\nwait 4\nfindings\naudit\nscan lab-c\n');
      const [, , findings, audit, rescan] = r.json();
      const forgedFinding = findings.data.find((f: any) => f.code === 'FORGED_BEACON');
      expect(forgedFinding, JSON.stringify(findings.data)).toMatchObject({ vm: MAIL1, evidenceSource: 'unauthenticated' });
      expect(audit.data.filter((e: any) => e.actor === 'policy').map((e: any) => e.action)).toEqual([]);
      expect(rescan.data[0].domains.find((d: any) => d.uuid === MAIL1).state).toBe('running');
    } finally {
      clearInterval(timer);
      sock.close();
    }
  });
});

describe('approve binds only a key the operator was shown', () => {
  it('a key that arrived by beacon after `register` needs its fingerprint confirmed', { timeout: 60_000 }, async () => {
    requireDist();
    lab = tempLab();
    const port = await freePort();
    const config = writeConfig(port, { policy: { enforcement: 'ask' } });
    const keyFile = join(lab.dir, 'agent.key');
    const pub = keygen(keyFile);
    const fp = keyFingerprint(pub);
    const uuid = '0f0f0f0f-1111-4222-8333-444444444444';
    const agent = execFileAsync([
      AGENT,
      '--to',
      `127.0.0.1:${port}`,
      '--key',
      keyFile,
      '--uuid',
      uuid,
      '--name',
      'walk-in',
      '--interval',
      '0.3',
      '--count',
      '25',
      '--one-way',
    ]);
    const plan = [
      `register walk-in --uuid ${uuid}`,
      'wait 4',
      'pending',
      'approve walk-in',
      'approve walk-in --key SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      `approve walk-in --key ${fp}`,
      'show walk-in',
    ];
    const r = await runBillboard(['script', '--json', '--config', config], lab.env, plan.join('\n') + '\n');
    await agent;
    const [, , pending, bare, wrong, confirmed] = r.json();
    expect(pending.data.find((p: any) => p.uuid === uuid)).toMatchObject({ keyFp: fp, keyLearned: true });
    expect(bare.ok).toBe(false);
    expect(bare.error.code).toBe('REFUSED');
    expect(bare.error.message).toContain(fp);
    expect(wrong.ok).toBe(false);
    expect(wrong.error.message).toContain(`key is ${fp}`);
    expect(confirmed.ok, JSON.stringify(confirmed)).toBe(true);
    expect(confirmed.data).toMatchObject({ state: 'approved', keyFp: fp });
  });
});

function execFileAsync(args: string[]): Promise<void> {
  return new Promise((resolve) => {
    import('node:child_process').then(({ execFile }) => execFile(process.execPath, args, { timeout: 30_000 }, () => resolve()));
  });
}
