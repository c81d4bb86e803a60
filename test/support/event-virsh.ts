// A lab host with domain events, behind a real sshd: the remote `virsh` is a fake in front of the real one. The host
// URI qemu:///events becomes the test driver on this host's own copy of a node XML the test can edit, and
// `virsh … event --all --loop` becomes a `tail -F` of a file the test appends recorded `virsh event` output to (the
// test driver keeps its own events inside one process, so a real stream would never see another process's changes).
// Every run of the fake is logged (one line of arguments each), so a test counts what the host was really asked.
//
// Migration, which the test driver cannot do, is played: `migrate --live` marks a job running and waits until the
// test calls release() (having moved the domain's XML itself); meanwhile `domjobinfo` prints JOB_INFO, and
// `domjobinfo --completed` prints COMPLETED_JOB_INFO. `freecell --all` says 8 GiB free (the test driver says nothing).
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SshHostConfig } from '../../src/model/config.js';
import type { Sshd } from '../helpers/sshd.js';

export const EVENTS_URI = 'qemu:///events';

/** what `domjobinfo` prints while a played migration runs */
export const JOB_INFO = `Job type:         Unbounded
Operation:        Outgoing migration
Time elapsed:     120          ms
Data processed:   10.000 MiB
Data remaining:   100.000 MiB
Data total:       128.000 MiB
Memory processed: 10.000 MiB
Memory remaining: 100.000 MiB
Memory total:     128.000 MiB
Memory bandwidth: 32.000 MiB/s
Iteration:        1
`;

/** what `domjobinfo --completed` prints after one */
export const COMPLETED_JOB_INFO = `Job type:         Completed
Operation:        Outgoing migration
Time elapsed:     5000         ms
Data processed:   999.000 MiB
Memory processed: 999.000 MiB
Total downtime:   999          ms
Iteration:        9
`;

export class EventVirshHost {
  readonly dir: string;
  readonly virsh: string;

  /** a host named `name` whose domains start as the node XML `xml` */
  constructor(
    private readonly sshd: Sshd,
    readonly name: string,
    xml: string,
  ) {
    this.dir = mkdtempSync(join(sshd.dir, `events-${name}-`));
    chmodSync(this.dir, 0o755);
    this.xml = xml;
    writeFileSync(this.file('events.log'), '');
    writeFileSync(this.file('calls'), '');
    writeFileSync(this.file('jobinfo'), JOB_INFO);
    writeFileSync(this.file('completed-jobinfo'), COMPLETED_JOB_INFO);
    this.virsh = this.file('virsh');
    writeFileSync(this.virsh, this.script());
    chmodSync(this.virsh, 0o755);
  }

  private file(name: string): string {
    return join(this.dir, name);
  }

  private script(): string {
    const d = this.dir;
    return `#!/bin/sh
printf '%s\\n' "$*" >> ${d}/calls
n=$#
for a in "$@"; do
  [ "$a" = "${EVENTS_URI}" ] && a="test://${d}/host.xml"
  case "$a" in *"freecell --all"*) a=$(printf '%s' "$a" | sed 's/freecell --all/echo Total: 8388608 KiB/');; esac
  set -- "$@" "$a"
done
shift $n
case " $* " in
  *" event --all --loop "*) echo $$ > ${d}/event.pid; exec tail -n 0 -F ${d}/events.log;;
  *" migrate --live "*)
    : > ${d}/migrating
    while [ ! -e ${d}/release ]; do sleep 0.05; done
    rm -f ${d}/migrating ${d}/release; exit 0;;
  *" domjobinfo "*" --completed "*) cat ${d}/completed-jobinfo; exit 0;;
  *" domjobinfo "*) if [ -e ${d}/migrating ]; then cat ${d}/jobinfo; else echo 'Job type:         None'; fi; exit 0;;
  *" migrate-setmaxdowntime "*|*" migrate-setspeed "*) exit 0;;
esac
exec /usr/bin/virsh "$@"
`;
  }

  get xml(): string {
    return readFileSync(this.file('host.xml'), 'utf8');
  }

  set xml(text: string) {
    writeFileSync(this.file('host.xml'), text);
  }

  /** the host config an SshDriver for this host needs */
  config(): SshHostConfig {
    const s = this.sshd;
    return {
      name: this.name,
      driver: 'ssh',
      address: '127.0.0.1',
      port: s.port,
      user: s.user,
      identityFile: s.identityFile,
      knownHostsFile: s.knownHostsFile,
      libvirtUri: EVENTS_URI,
    };
  }

  /** virsh event output, as if libvirt had just sent it */
  emit(text: string): void {
    appendFileSync(this.file('events.log'), text);
  }

  /** every run of the fake virsh so far: its arguments, one string each */
  calls(): string[] {
    return readFileSync(this.file('calls'), 'utf8').split('\n').filter(Boolean);
  }

  /** the pid of the running `virsh event` (its tail) */
  eventPid(): number {
    return Number(readFileSync(this.file('event.pid'), 'utf8').trim());
  }

  /** a played migration is running */
  get migrating(): boolean {
    try {
      readFileSync(this.file('migrating'));
      return true;
    } catch {
      return false;
    }
  }

  /** the played migrate command returns (successfully) */
  release(): void {
    writeFileSync(this.file('release'), '');
  }
}

/** the `<domain>` block of `name` in a node XML */
export function domainBlock(xml: string, name: string): string {
  const m = new RegExp(`  <domain type='test'>\\n    <name>${name}</name>[\\s\\S]*?</domain>\\n`).exec(xml);
  if (!m) throw new Error(`no domain ${name} in the node XML`);
  return m[0];
}
