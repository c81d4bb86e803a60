import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibvirtDriver } from '../../src/hosts/libvirt/driver.js';
import type { JobControl } from '../../src/model/host-driver.js';

// The job control both drivers share checks every UUID before anything runs on the host: the libvirt driver's
// migration hooks go through the local virsh, so an unchecked argument would reach its command line.

const UUID = '6F1C2B9E-0A11-4C3E-9A51-00000000A001';

let dir: string;
let calls: string;
let jobs: JobControl;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bb-jobs-'));
  calls = join(dir, 'calls');
  const virsh = join(dir, 'virsh');
  // records its arguments; answers domjobinfo with "no job"
  writeFileSync(virsh, `#!/bin/sh\necho "$*" >> '${calls}'\n[ "$4" = domjobinfo ] && echo 'Job type:         None'\nexit 0\n`);
  chmodSync(virsh, 0o755);
  jobs = new LibvirtDriver({ name: 'lab-j', driver: 'libvirt', uri: 'test:///default' }, { virshPath: virsh }).jobs;
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('libvirt driver job control', () => {
  const bad = ['not-a-uuid', '--help', `${UUID.toLowerCase()} --completed`];
  const hooks: [string, (j: JobControl, u: string) => Promise<unknown>][] = [
    ['migrate', (j, u) => j.migrate(u, { transport: 'direct', destUri: 'test:///default' })],
    ['jobStats', (j, u) => j.jobStats(u)],
    ['completedJobStats', (j, u) => j.completedJobStats(u)],
    ['abortJob', (j, u) => j.abortJob(u)],
    ['setMaxDowntime', (j, u) => j.setMaxDowntime(u, 300)],
    ['setBandwidth', (j, u) => j.setBandwidth(u, 64)],
  ];

  for (const [name, call] of hooks) {
    it(`${name} refuses what is not a domain UUID before virsh runs`, async () => {
      for (const u of bad) {
        await expect(call(jobs, u)).rejects.toMatchObject({
          code: 'NOT_FOUND',
          message: expect.stringMatching(/^lab-j: not a domain UUID: /),
        });
      }
      expect(existsSync(calls)).toBe(false);
    });
  }

  it('hands virsh the UUID lower-cased, as the other calls do', async () => {
    expect(await jobs.jobStats(UUID)).toBeNull(); // "Job type: None"
    await jobs.setBandwidth(UUID, 64);
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    expect(lines).toEqual([
      `-q -c test:///default domjobinfo ${UUID.toLowerCase()}`,
      `-q -c test:///default migrate-setspeed ${UUID.toLowerCase()} 64`,
    ]);
  });
});
