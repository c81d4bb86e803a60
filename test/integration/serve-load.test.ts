// Issue 15: 100 concurrent connections to `billboard serve`, many of them stalled, do not slow beacon intake. A real
// service process; agents beacon it with the real protocol; the valid count comes from its /metrics. Intake with
// nobody attached is the baseline; then 100 connections are held open — TCP connections that never speak, ones
// stuck after the SSH banner, authenticated `api` consoles that never read, idle `script` sessions — and the same
// agents beacon again: every beacon is still judged valid, and an operator still gets answers promptly.
import net from 'node:net';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDist } from './script-harness.js';
import { serveLab, type ServeLab } from './serve-harness.js';
import { beaconPort, exec, intake, makeAgents, registerPlan, sshClient, withMetrics, type Agent } from './serve-load-harness.js';

requireDist();

const AGENTS = 300;
const WINDOW_MS = 6000;

describe('billboard serve: many connections, some stalled, do not slow beacon intake', () => {
  let lab: ServeLab;
  let valid: () => Promise<number>;
  let agents: Agent[];
  const sockets: net.Socket[] = [];
  const clients: ssh2.Client[] = [];

  beforeAll(async () => {
    lab = await serveLab({ alice: 'operator', bob: 'admin' });
    valid = await withMetrics(lab);
    await lab.start();
    agents = makeAgents(AGENTS);
    const r = await lab.ssh('alice', 'script --json --stop-on-error', registerPlan(agents));
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    for (const c of clients) c.end();
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  it('every beacon is valid with nobody attached, and with 100 connections held open (60 of them stalled)', async () => {
    const port = beaconPort(lab);
    const base = await intake(port, agents, valid, WINDOW_MS);
    expect(base.sent).toBeGreaterThan(AGENTS * 4);
    expect(base.ratio).toBeGreaterThanOrEqual(0.99);

    // 40 TCP connections that never send a byte; 20 that send the SSH banner and stop there
    for (let i = 0; i < 60; i++) {
      const s = net.connect(lab.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('data', () => s.pause()); // read the service's banner once, then never again
      if (i >= 40) s.write('SSH-2.0-stalled\r\n');
      sockets.push(s);
    }
    // 25 authenticated consoles on `api` that never read what the feed sends, and 15 idle `script` sessions
    for (let i = 0; i < 40; i++) {
      const c = await sshClient(lab, i % 2 ? 'alice' : 'bob');
      c.on('error', () => {});
      clients.push(c);
      const ch = await exec(c, i < 25 ? 'api' : 'script --json');
      ch.pause();
      ch.stderr.pause();
    }

    const t0 = Date.now();
    const busy = await intake(port, agents, valid, WINDOW_MS);
    expect(busy.sent).toBeGreaterThan(AGENTS * 4);
    expect(busy.ratio).toBeGreaterThanOrEqual(0.99);
    // the stalled connections are all still there (the authentication timeout is 20 s): they were held throughout
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(sockets.filter((s) => !s.destroyed && s.readyState === 'open')).toHaveLength(60);

    // an operator attaching now is answered promptly, and sees every agent
    const t1 = Date.now();
    const r = await lab.ssh('bob', 'script --json', 'vms\n');
    expect(r.code, r.stderr).toBe(0);
    expect((r.json()[0]!.data as unknown[]).length).toBeGreaterThanOrEqual(AGENTS);
    expect(Date.now() - t1).toBeLessThan(10_000);
  }, 180_000);
});
