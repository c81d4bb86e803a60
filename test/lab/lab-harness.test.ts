// Lab tier: the harness itself. Two hosts come up with their own names, addresses and host UUIDs, reachable over
// SSH with host-key verification, and stop() leaves nothing behind (processes, namespaces, temp dirs).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { labHostsConfig, labPrerequisites, LabUnavailable, startLab, virshOn, type Lab } from './harness.js';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import { hostSchema, type SshHostConfig } from '../../src/model/config.js';

let lab: Lab | undefined;
afterAll(async () => {
  await lab?.stop();
}, 60_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('lab harness', () => {
  it('starts two distinct libvirt hosts with sshd, and tears everything down', { timeout: 180_000 }, async () => {
    const why = labPrerequisites();
    if (why.length) throw new LabUnavailable(why.join('; '));
    lab = await startLab({ startGuest: false });
    const [a, b] = lab.hosts;
    expect([a.name, b.name]).toEqual(['lab-a', 'lab-b']);
    expect([a.address, b.address]).toEqual(['127.0.0.11', '127.0.0.12']);
    expect(a.hostUuid).not.toBe(b.hostUuid);
    // each daemon reports its own host uuid and hostname
    for (const h of lab.hosts) {
      expect((await virshOn(h, ['hostname'])).trim()).toBe(h.name);
      expect(readFileSync(`${h.dir}/etc/libvirtd.conf`, 'utf8')).toContain(h.hostUuid);
    }
    // the console's SSH driver reaches each host with its host key verified against the lab's known_hosts
    for (const cfg of labHostsConfig(lab)) {
      const d = new SshDriver(hostSchema.parse(cfg) as SshHostConfig);
      try {
        const node = await d.nodeInfo();
        expect(node.memoryKiB).toBeGreaterThan(0);
      } finally {
        await d.close();
      }
    }
    // a wrong known_hosts entry is refused
    const wrong = { ...labHostsConfig(lab)[0], port: b.sshPort, address: b.address };
    wrong.knownHostsFile = `${lab.dir}/ssh/known_hosts.only-a`;
    writeFileSync(wrong.knownHostsFile, `[${b.address}]:${b.sshPort} ${a.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
    const bad = new SshDriver(hostSchema.parse(wrong) as SshHostConfig);
    await expect(bad.nodeInfo()).rejects.toThrow(/SHA256:/);
    await bad.close();

    const pids = lab.hosts.flatMap((h) => [h.libvirtdPid, h.sshdPid]);
    expect(pids.every(alive)).toBe(true);
    const dir = lab.dir;
    await lab.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
