// Shared by the admission lab tests: the two real libvirt daemons, each with contrib/billboard-admit installed as its
// qemu hook (in its own namespace's /etc/libvirt/hooks) asking a real `billboard serve` over OpenSSH with its own
// host key, under the policy the test names; `tiny` defined (not started) on lab-a.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOOK } from '../support/admit-hook.js';
import { serveLab, type ServeLab } from '../integration/serve-harness.js';
import { labHostsConfig, startLab, virshOn, type Lab, type LabHost } from './harness.js';

export interface AdmissionLab {
  s: ServeLab;
  lab: Lab;
  /** tiny's UUID */
  uuid: string;
  /** lab-host's hooks folder as seen from outside its namespace (its /etc/libvirt/hooks) */
  hooksOf(h: LabHost): string;
  /** (re)write the host's billboard-admit.conf */
  conf(h: LabHost, unreachable: 'allow' | 'deny', timeoutS?: number): void;
  /** `script --json` as alice (admin) */
  script(input: string): Promise<Array<Record<string, any>>>;
  /** the `admit` entries of the audit log, oldest first */
  admits(): Promise<Array<Record<string, any>>>;
  start(h: LabHost, name: string): Promise<string>;
  /** define on `h` a copy of tiny's definition named `name`, with `uuid` (default: none, libvirt makes one) */
  defineCopy(h: LabHost, name: string, o?: { uuid?: string; mac?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** the hook's answer time limit in the lab: a loaded machine (QEMU TCG on two cores) answers within it */
const LAB_TIMEOUT_S = 10;

export async function startAdmissionLab(policy: 'audit' | 'enforce'): Promise<AdmissionLab> {
  // the service first (its port and host key go into the hooks), then the daemons with their hooks in place
  const s = await serveLab({ alice: 'admin', 'host-lab-a': 'host', 'host-lab-b': 'host' });
  const hooksOf = (h: LabHost) => join(h.dir, 'etc', 'hooks');
  const conf = (h: LabHost, unreachable: 'allow' | 'deny', timeoutS = LAB_TIMEOUT_S) =>
    writeFileSync(
      join(hooksOf(h), 'billboard-admit.conf'),
      [
        `TARGET=host-${h.name}@127.0.0.1:${s.port}`,
        'IDENTITY=/etc/libvirt/hooks/billboard-admit.key',
        'KNOWN_HOSTS=/etc/libvirt/hooks/billboard-admit.known_hosts',
        `HOST=${h.name}`,
        `UNREACHABLE=${unreachable}`,
        `TIMEOUT=${timeoutS}`,
        '',
      ].join('\n'),
    );
  let lab: Lab | undefined;
  try {
    lab = await startLab({
      startGuest: false,
      prepareHost: (h) => {
        mkdirSync(hooksOf(h), { recursive: true });
        copyFileSync(HOOK, join(hooksOf(h), 'qemu'));
        copyFileSync(s.keys[`host-${h.name}`]!.file, join(hooksOf(h), 'billboard-admit.key'));
        copyFileSync(s.knownHosts, join(hooksOf(h), 'billboard-admit.known_hosts'));
        conf(h, 'deny');
      },
    });
    s.writeConfig({
      ...s.config,
      hosts: labHostsConfig(lab),
      scan: { intervalS: 2, timeoutS: 20 },
      policy: { admission: policy },
      migration: { transport: 'tunnelled' },
    });
    await s.start();
    writeFileSync(join(lab.dir, 'tiny.xml'), lab.guestXml);
    await virshOn(lab.hosts[0]!, ['define', join(lab.dir, 'tiny.xml')]);
  } catch (e) {
    await lab?.stop();
    await s.stop('SIGKILL');
    s.cleanup();
    throw e;
  }
  const l = lab;
  const uuid = (await virshOn(l.hosts[0]!, ['domuuid', l.domain])).trim();
  const script = async (input: string) => (await s.ssh('alice', 'script --json', input)).json();
  return {
    s,
    lab: l,
    uuid,
    hooksOf,
    conf,
    script,
    admits: async () =>
      ((await script('audit --last 500\n'))[0]!.data as any[]).filter((e) => e.action === 'admit').sort((a, b) => a.seq - b.seq),
    start: (h, name) => virshOn(h, ['start', name], 120_000),
    defineCopy: async (h, name, o = {}) => {
      let xml = l.guestXml
        .replace(`<name>${l.domain}</name>`, `<name>${name}</name>${o.uuid ? `\n  <uuid>${o.uuid}</uuid>` : ''}`)
        .replaceAll(l.consoleLog, join(l.dir, `${name}-console.log`));
      if (o.mac) xml = xml.replace(l.guestMac, o.mac);
      writeFileSync(join(l.dir, `${name}.xml`), xml);
      await virshOn(h, ['define', join(l.dir, `${name}.xml`)]);
    },
    stop: async () => {
      await l.stop();
      await s.stop('SIGKILL');
      s.cleanup();
    },
  };
}

/** the error a promise fails with, or 'it started' when it did not fail */
export function failure(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'it started',
    (e: Error) => e.message,
  );
}

/** virsh domstate of `name` on `h`, or virsh's error when `h` has no such domain */
export async function domainStateOf(h: LabHost, name: string): Promise<string> {
  return (await virshOn(h, ['domstate', name]).catch((e: Error) => e.message)).trim();
}
