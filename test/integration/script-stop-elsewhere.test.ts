import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { requireDist, runBillboard, tempLab, type TempLab } from './script-harness.js';

// `stop VM --host H` where the VM is not: one line saying so, and where it is — never libvirt's raw
// "Domain not found". The real binary over two libvirt test-driver hosts.

let lab: TempLab | undefined;
afterEach(() => lab?.cleanup());

describe('stop on a host the VM is not on', () => {
  it('is NOT_FOUND naming the hosts that have it', { timeout: 60_000 }, async () => {
    requireDist();
    lab = tempLab();
    const config = join(lab.dir, 'config.json');
    const hosts = [
      { name: 'lab-a', driver: 'libvirt', uri: fixtureUri('host-a') },
      { name: 'lab-c', driver: 'libvirt', uri: fixtureUri('host-c') },
    ];
    writeFileSync(config, JSON.stringify({ beacon: { listen: '127.0.0.1:0' }, hosts }));
    const vm = '6f1c2b9e-0a11-4c3e-9a51-00000000a001'; // on lab-a only
    const r = await runBillboard(['script', '--json', '--config', config], lab.env, `stop ${vm} --host lab-c\n`);
    const [stop] = r.json();
    expect(stop.ok).toBe(false);
    expect(stop.error.code).toBe('NOT_FOUND');
    expect(stop.error.message).toMatch(/is not defined on lab-c; it is on lab-a \(running\)/);
    expect(stop.error.message).not.toMatch(/Domain not found/i);
  });
});
