// The console attached to a real `billboard serve`: alice over OpenSSH (`ssh -t`, the console rendered by a child
// of the service) and bob with `billboard --connect`, each in its own tmux; the two-person rule between them, a
// finding raised while nobody was attached, a viewer refused, and a kill -9 of the service that bob rides out.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureUri } from '../helpers/libvirt-fixtures.js';
import { requireDist } from '../integration/script-harness.js';
import { serveLab, until, type ServeLab } from '../integration/serve-harness.js';
import { requireTmux, TmuxSession } from './tmux.js';

requireDist();
requireTmux();

const APP = '6f1c2b9e-0a11-4c3e-9a51-00000000b001'; // app-1: on host-b only
const ROGUE = '0badc0de-0000-4000-8000-00000000beef';

describe('the console attached to billboard serve', { timeout: 180_000 }, () => {
  let lab: ServeLab;
  const tmuxes: TmuxSession[] = [];
  beforeAll(async () => {
    lab = await serveLab(
      { alice: 'operator', bob: 'operator', vera: 'viewer' },
      {
        hosts: [
          { name: 'lab-a', driver: 'libvirt', uri: fixtureUri('host-a') },
          { name: 'lab-b', driver: 'libvirt', uri: fixtureUri('host-b') },
        ],
        migration: { requireDifferentAuthorizer: true },
      },
    );
    await lab.start();
  }, 60_000);
  afterAll(async () => {
    for (const t of tmuxes) t.kill();
    await lab?.stop('SIGKILL');
    lab?.cleanup();
  });

  const sshT = (user: string) =>
    `ssh -t -o UserKnownHostsFile=${lab.knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes ` +
    `-i ${lab.keys[user]!.file} -p ${lab.port} ${user}@127.0.0.1`;
  const connect = (user: string) =>
    `node bin/billboard.js --connect ${user}@127.0.0.1:${lab.port} --identity ${lab.keys[user]!.file} --known-hosts ${lab.knownHosts}`;
  const open = (cmd: string) => {
    const t = new TmuxSession(cmd, 150, 40, { HOME: lab.env.HOME!, NO_COLOR: '1' });
    tmuxes.push(t);
    return t;
  };

  it('a finding raised while nobody was attached is there when alice attaches; both see who is attached', async () => {
    const beaconAt = /beacons on udp ([\d.]+:\d+)/.exec((lab as any).stderr())![1]!;
    const key = join(lab.dir, 'rogue.key');
    const agent = (args: string[]) =>
      spawnSync(process.execPath, ['bin/billboard-beacon.js', ...args], { cwd: lab.env.PWD ?? process.cwd(), encoding: 'utf8' });
    expect(agent(['keygen', '--out', key]).status).toBe(0);
    const sent = agent([
      '--to',
      beaconAt,
      '--key',
      key,
      '--uuid',
      ROGUE,
      '--name',
      'rogue',
      '--mac',
      '52:54:00:be:ef:01',
      '--count',
      '2',
      '--interval',
      '0.2',
      '--one-way',
    ]);
    expect(sent.status, sent.stderr).toBe(0);
    const alice = open(sshT('alice'));
    await alice.waitText('attached: alice');
    await alice.keys('3');
    await alice.waitText('UNREGISTERED');
    const bob = open(connect('bob'));
    await bob.waitText('attached: alice, bob');
    await alice.waitText('attached: alice, bob');
  });

  it('alice requests a migration and cannot authorize it herself; bob can, and both see the job move', async () => {
    const [alice, bob] = tmuxes as [TmuxSession, TmuxSession];
    await alice.keys(':', `register app-1 --uuid ${APP}`, 'Enter');
    await alice.waitText('registered');
    await alice.keys(':', 'approve app-1', 'Enter');
    await alice.waitText(/approved app-1/);
    await alice.keys(':', 'migrate app-1 --to lab-a', 'Enter');
    await alice.waitText(/M-1/);
    await alice.keys(':', 'authorize app-1', 'Enter');
    await alice.waitText(/requested by alice: another operator must authorize it/);
    await bob.keys('4');
    await bob.waitText('M-1');
    await bob.keys(':', 'authorize M-1', 'Enter');
    await bob.waitText(/authorized M-1/);
    await alice.keys('4');
    await alice.waitFor((s) => /M-1/.test(s) && !/awaiting/.test(s), 'the job past authorization on alice');
    const audit = (await lab.ssh('vera', 'script --json', 'audit --last 20\n')).json()[0]!.data as any[];
    expect(audit.find((e) => e.action.startsWith('migrate') && e.actor === 'alice')).toBeTruthy();
    expect(audit.find((e) => e.action === 'migrate-authorize-refused' && e.actor === 'alice')).toBeTruthy();
    expect(audit.find((e) => e.action === 'migrate-authorize' && e.actor === 'bob')).toBeTruthy();
  });

  it("a viewer's approve fails with PERMISSION in the console", async () => {
    const vera = open(sshT('vera'));
    await vera.waitText('vera (viewer)');
    await vera.keys(':', 'approve rogue', 'Enter');
    await vera.waitText(/viewer may only run commands that change nothing/);
    await vera.keys('q');
  });

  it('kill -9 of the service, then a restart: bob reconnects on his own and nothing acknowledged is lost', async () => {
    const bob = tmuxes[1]!;
    await lab.stop('SIGKILL');
    await bob.waitText('reconnecting');
    await lab.start();
    await bob.waitText('reconnected', 30_000);
    const pending = await until(async () => {
      const r = await lab.ssh('bob', 'script --json', 'vms\n');
      return r.code === 0 ? r.json()[0] : undefined;
    }, 'the service back');
    expect(pending!.data.map((v: any) => v.uuid)).toContain(APP);
  });
});
