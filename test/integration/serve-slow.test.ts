// Issue 15: a slow client gets bounded buffers and is dropped, never stalls the service; a client that goes away
// in the middle of a command does not cancel it: the command completes and is audited. A real `billboard serve`
// process, real agents beaconing it, SSH clients from the ssh2 package (as `billboard --connect` opens them).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDist } from './script-harness.js';
import { serveLab, until, type ServeLab } from './serve-harness.js';
import { beaconPort, exec, intake, makeAgents, registerPlan, sshClient, withMetrics, type Agent } from './serve-load-harness.js';

requireDist();

const AGENTS = 300;

/** the service process's resident memory, KiB */
const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('billboard serve: a client that does not read', () => {
  let lab: ServeLab;
  let valid: () => Promise<number>;
  let agents: Agent[];

  beforeAll(async () => {
    lab = await serveLab({ alice: 'operator', bob: 'admin' });
    valid = await withMetrics(lab);
    await lab.start();
    agents = makeAgents(AGENTS);
    const r = await lab.ssh('alice', 'script --json --stop-on-error', registerPlan(agents));
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('is dropped once its buffer is full; meanwhile beacons are all judged and other operators are answered', async () => {
    const one = await lab.ssh('bob', 'script --json', 'vms\n');
    const perVms = one.stdout.length;
    expect(perVms).toBeGreaterThan(AGENTS * 100);
    // enough output to pass the SSH window (2 MiB) and the service's 4 MiB buffer three times over
    const lines = Math.ceil((18 * 1024 * 1024) / perVms);
    const rss0 = rssKiB(lab.serve!.pid!);
    const c = await sshClient(lab, 'alice');
    c.on('error', () => {});
    const ch = await exec(c, 'script --json');
    ch.pause(); // never read
    ch.stderr.pause();
    ch.write('vms\n'.repeat(lines));

    const during = intake(beaconPort(lab), agents, valid, 5000);
    const t0 = Date.now();
    const r = await lab.ssh('bob', 'script --json', 'vms\n');
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect((await during).ratio).toBeGreaterThanOrEqual(0.99);

    await until(
      () => lab.log.some((l) => /script client not reading: dropped/.test(l) && /"operator":"alice"/.test(l)),
      'the drop',
      30_000,
    );
    // what it held for the client is bounded: far less than the output it was asked for
    expect(rssKiB(lab.serve!.pid!) - rss0).toBeLessThan(64 * 1024);
    // the service closed the channel: reading now gets what the SSH window let through, then the end
    let got = 0;
    const closed = new Promise((r) => ch.on('close', r));
    ch.on('data', (d: Buffer) => (got += d.length));
    ch.resume();
    await closed;
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(lines * perVms * 0.5);
    c.end();
    // and the service goes on
    expect((await lab.ssh('bob', 'script --json', 'pending\n')).code).toBe(0);
  }, 120_000);
});

describe('billboard serve: a client that goes away in the middle of a command', () => {
  let lab: ServeLab;

  beforeAll(async () => {
    lab = await serveLab({ alice: 'operator', bob: 'admin' }, { hosts: [{ name: 'lab-t', driver: 'libvirt', uri: 'test:///default' }] });
    await lab.start();
    await until(async () => {
      const vms = (await lab.ssh('bob', 'script --json', 'vms\n')).json()[0]!.data as { name: string }[];
      return vms.some((v) => v.name === 'test');
    }, 'the test host scanned');
  }, 120_000);

  afterAll(async () => {
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  const audit = async () => (await lab.ssh('bob', 'script --json', 'audit --last 50\n')).json()[0]!.data as Record<string, any>[];

  it('a console that sends a command and leaves: the command completes, audited under its operator', async () => {
    const c = await sshClient(lab, 'alice');
    c.on('error', () => {});
    const ch = await exec(c, 'api');
    ch.on('data', () => {});
    ch.write(JSON.stringify({ t: 'run', id: 1, line: 'suspend test --host lab-t' }) + '\n');
    c.end(); // gone before any answer
    const entries = await until(async () => {
      const a = await audit();
      return a.some((e) => e.action === 'suspend-done') ? a : undefined;
    }, 'suspend-done in the audit log');
    expect(entries.find((e) => e.action === 'suspend')).toMatchObject({ actor: 'alice', details: { host: 'lab-t' } });
    expect(entries.find((e) => e.action === 'suspend-done')).toMatchObject({ actor: 'alice', details: { host: 'lab-t' } });
  }, 60_000);

  it('a script whose client is cut off after sending: the command completes and is audited', async () => {
    const c = await sshClient(lab, 'alice');
    c.on('error', () => {});
    const ch = await exec(c, 'script --json');
    ch.on('data', () => {});
    ch.end('stop test --host lab-t\n');
    c.end();
    const entries = await until(async () => {
      const a = await audit();
      return a.some((e) => e.action === 'stop-done' || e.action === 'stop-failed') ? a : undefined;
    }, 'the stop in the audit log');
    expect(entries.find((e) => e.action === 'stop')).toMatchObject({ actor: 'alice', details: { host: 'lab-t' } });
    expect(entries.find((e) => e.action === 'stop-done')).toMatchObject({ actor: 'alice', details: { host: 'lab-t' } });
  }, 60_000);
});
