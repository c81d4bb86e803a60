// The scan's look at a host's admission hook, over a real sshd: missing, not executable, present (its sha256), and
// 'unknown' for a test:/// host, whose scan never asks.
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installHook, installHookScript, parseHookProbe, probeHook, type HookFile } from '../../src/hosts/ssh/admission-hook.js';
import { SshDriver } from '../../src/hosts/ssh/driver.js';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { sshHost, startSshd, type Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
let driver: SshDriver;

beforeAll(async () => {
  sshd = await startSshd();
  driver = new SshDriver(sshHost(sshd, 'lab-ssh', fixtureUri('host-a')), {});
}, 60_000);
afterAll(async () => {
  await driver?.close();
  await sshd?.stop();
});

describe('the admission hook probe', () => {
  it('reads missing, not executable and present (sha256) over ssh', async () => {
    const hook = join(sshd.dir, 'qemu');
    expect(await probeHook(driver.conn, 5000, hook)).toEqual({ state: 'missing' });
    writeFileSync(hook, '#!/bin/sh\nexit 0\n');
    chmodSync(hook, 0o644);
    expect(await probeHook(driver.conn, 5000, hook)).toEqual({ state: 'not-executable' });
    chmodSync(hook, 0o755);
    const sha256 = createHash('sha256').update('#!/bin/sh\nexit 0\n').digest('hex');
    // a hook that is not billboard's: its settings are none of billboard's business
    expect(await probeHook(driver.conn, 5000, hook)).toEqual({ state: 'present', sha256 });
    const ours = '#!/bin/sh\n# billboard-admit\nexit 0\n';
    writeFileSync(hook, ours);
    const noConf = { problem: 'no billboard-admit.conf: the hook refuses every start' };
    const oursSha = createHash('sha256').update(ours).digest('hex');
    expect(await probeHook(driver.conn, 5000, hook)).toEqual({ state: 'present', sha256: oursSha, settings: noConf });
  });

  it("reads what the hook's settings make it do when the service does not answer, as the hook reads them", async () => {
    const hook = join(sshd.dir, 'qemu');
    const conf = join(sshd.dir, 'billboard-admit.conf');
    const settings = async (text: string) => {
      writeFileSync(conf, text);
      const seen = await probeHook(driver.conn, 5000, hook);
      return seen.state === 'present' ? seen.settings : seen;
    };
    expect(await settings('TARGET=host-x@h:1\nUNREACHABLE=allow\nTIMEOUT=5\n')).toEqual({ unreachable: 'allow', timeoutS: 5 });
    // the last assignment of each wins, one pair of quotes goes, and TIMEOUT is 3 when absent
    expect(await settings(`UNREACHABLE=allow\nUNREACHABLE='deny'\n`)).toEqual({ unreachable: 'deny', timeoutS: 3 });
    const manyTimeouts = `UNREACHABLE=allow\n${'TIMEOUT=7\n'.repeat(40)}`;
    expect(await settings(manyTimeouts)).toEqual({ unreachable: 'allow', timeoutS: 7 });
    expect(await settings('UNREACHABLE=deny\nTIMEOUT=010\n')).toEqual({ unreachable: 'deny', timeoutS: 10 });
    const refuses = { problem: expect.stringMatching(/refuses every start$/) };
    for (const bad of ['UNREACHABLE=maybe\n', 'UNREACHABLE=deny\nTIMEOUT=0\n', 'UNREACHABLE=deny\nTIMEOUT=3s\n', 'UNREACHABLE=deny \n']) {
      expect([bad, await settings(bad)]).toEqual([bad, refuses]);
    }
    // a hostile file's size stays on the host: only the two values, cut short, come back
    expect(await settings(`UNREACHABLE=${'x'.repeat(100_000)}\n`.repeat(50))).toEqual(refuses);
  });

  it("a test:/// host's scan reports the hook unknown without asking", async () => {
    const scan = await driver.scanAll();
    expect(scan.domains.length).toBeGreaterThan(0);
    expect(scan.admissionHook).toMatchObject({ state: 'unknown' });
  });

  it('anything but a hash or a known word is unknown; a path is never taken from outside', () => {
    expect(parseHookProbe('')).toMatchObject({ state: 'unknown' });
    expect(parseHookProbe('garbage\n')).toMatchObject({ state: 'unknown' });
    expect(parseHookProbe(`${'a'.repeat(64)}\n`)).toEqual({ state: 'present', sha256: 'a'.repeat(64) });
    return expect(probeHook(driver.conn, 5000, '/tmp/x; rm -rf /')).resolves.toMatchObject({ state: 'unknown' });
  });

  it('installs over ssh with the contents on stdin (a key never in a command line), the qemu hook last', async () => {
    const dir = join(sshd.dir, 'hooks');
    const files: HookFile[] = [
      { name: 'qemu', mode: 0o755, content: '#!/bin/sh\nexit 0\n' },
      { name: 'billboard-admit.key', mode: 0o600, content: '-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETSECRET\n' },
    ];
    const { script } = installHookScript(dir, files, false);
    expect(script).not.toContain('SECRET');
    expect(script).not.toContain(Buffer.from(files[1]!.content).toString('base64'));
    expect(script.indexOf('qemu.tmp')).toBeGreaterThan(script.indexOf('billboard-admit.key.tmp'));
    expect(await installHook(driver.conn, 'lab-ssh', dir, files, { replace: false, timeoutMs: 5000 })).toEqual({});
    expect(readFileSync(join(dir, 'billboard-admit.key'), 'utf8')).toBe(files[1]!.content);
    expect(statSync(join(dir, 'billboard-admit.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'qemu')).mode & 0o777).toBe(0o755);
    // the same hook again is no conflict; another one is, and nothing is written
    expect(await installHook(driver.conn, 'lab-ssh', dir, files, { replace: false, timeoutMs: 5000 })).toEqual({});
    const other = [
      { ...files[0]!, content: '#!/bin/sh\nexit 1\n' },
      { ...files[1]!, content: 'NEW' },
    ];
    await expect(installHook(driver.conn, 'lab-ssh', dir, other, { replace: false, timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(readFileSync(join(dir, 'billboard-admit.key'), 'utf8')).toBe(files[1]!.content);
  });
});
