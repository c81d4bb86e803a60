// The SSH driver's connection to a lab host turns Nagle's algorithm off once it is ready: every virsh request on its
// session is a small write that waits for its answer, and with Nagle on a write may wait for the host's delayed ACK
// (the service's endpoint measured ~90 ms an exchange before it did the same). Checked where it is decided (the
// client's socket is asked for TCP_NODELAY), against a real sshd running the real virsh.
import { Socket } from 'node:net';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await sshd?.stop();
});

it('sets TCP_NODELAY on its connection to the host', async () => {
  const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
  const d = new SshDriver(sshHost(sshd, 'lab-nodelay', fixtureUri('host-a')));
  try {
    const scan = await d.scanAll();
    expect(scan.domains.length).toBeGreaterThan(0);
    const remote = noDelay.mock.contexts.filter((s) => (s as Socket).remotePort === sshd.port);
    expect(remote.length).toBeGreaterThanOrEqual(1);
    expect(noDelay.mock.calls[noDelay.mock.contexts.indexOf(remote[0])]![0]).toBe(true);
  } finally {
    await d.close();
  }
});
