// The lab tier's entry point: a real two-host libvirt lab (see lab.mjs) with helpers the lab tests share.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from './lab.mjs';
import type { Lab as CoreLab, LabHost, StartLabOptions } from './lab.mjs';

export type { LabHost, StartLabOptions };
export { LabUnavailable, labPrerequisites, labHostsConfig, virshOn, migrateByHand, domainState, lastTick } from './lab.mjs';

export interface Lab extends CoreLab {
  host(name: string): LabHost;
  /** last heartbeat tick of the guest if it runs on `host`, null if it does not run there */
  guestTicks(host: string): Promise<number | null>;
  /** resolves once the guest running on `host` has ticked `more` times past what it showed when called */
  waitTicking(host: string, more?: number, timeoutMs?: number): Promise<number>;
}

/**
 * Start the lab, or fail LOUDLY (never skip) with the reason the lab tier cannot run here.
 * Always pair with `await lab.stop()` in afterAll: it removes processes, namespaces and temp dirs.
 */
export async function startLab(opts?: StartLabOptions): Promise<Lab> {
  const lab = (await core.startLab(opts)) as Lab;
  lab.host = (name) => {
    const h = lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  };
  lab.guestTicks = (host) => core.guestTicks(lab, host);
  lab.waitTicking = async (host, more = 3, timeoutMs = 30_000) => {
    const t0 = Date.now();
    let first: number | null = null;
    while (Date.now() - t0 < timeoutMs) {
      const t = await lab.guestTicks(host);
      if (t !== null) {
        if (first === null) first = t;
        else if (t >= first + more) return t;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const why = await whyNotTicking(lab, host);
    if (why.running)
      noteGuestFault(
        `${host}: the domain runs but its guest stopped ticking at ${first}; ${why.crash || 'no crash report on its console'}`,
      );
    throw new Error(`guest did not tick ${more} times on ${host} within ${timeoutMs} ms (last: ${first})\n${why.text}`);
  };
  return lab;
}

/** What a lab test needs to tell a crashed or hung guest kernel from a stalled console: state, the console's
 *  crash report if any, its last lines, QEMU's log. */
async function whyNotTicking(lab: Lab, host: string): Promise<{ running: boolean; crash: string; text: string }> {
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n') : []);
  const h = lab.host(host);
  const state = await core.domainState(h);
  const job = await core.virshOn(h, ['domjobinfo', lab.domain], 10_000).catch((e: Error) => e.message);
  const console = read(lab.consoleLog);
  const crash = console
    .filter((l) => CRASH.test(l))
    .slice(0, 3)
    .map((l) => l.trim())
    .join(' | ');
  return {
    running: state === 'running',
    crash,
    text: [
      `  state on ${host}: ${state}`,
      `  job on ${host}: ${String(job).trim().split('\n').slice(0, 3).join('; ')}`,
      `  guest kernel crash report: ${crash || '(none)'}`,
      `  console (last lines):\n    ${console.slice(-4).join('\n    ')}`,
      `  qemu log on ${host}:\n    ${read(join(h.dir, 'log', 'qemu', `${lab.domain}.log`))
        .slice(-8)
        .join('\n    ')}`,
    ].join('\n'),
  };
}

/** Lines a Linux guest prints when its kernel dies or hangs. */
const CRASH = /BUG:|Oops|Kernel panic|soft lockup|rcu_sched detected stalls|rcu: INFO|general protection fault|slab .* pointer offset/;

/**
 * After a migration the product judged a failure: when the guest's console shows its kernel died or booted again
 * (the fault below, seen by the agent as a new boot id), it is noted for the tier runner, and the line is returned
 * for the test's message; undefined when the console shows neither (the failure is the test's to explain).
 */
export function noteGuestRebootAfterMigration(consoleLog: string, host: string): string | undefined {
  const lines = existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8').split('\n') : [];
  const crash = lines
    .filter((l) => CRASH.test(l))
    .slice(0, 3)
    .map((l) => l.trim());
  const boots = lines.filter((l) => l.includes('LAB GUEST BOOTED')).length;
  if (!crash.length && boots < 2) return undefined;
  const line = `${host}: the guest kernel ${crash.length ? `died (${crash.join(' | ')})` : 'booted again'} across a live migration`;
  noteGuestFault(line);
  return line;
}

/**
 * A guest whose domain runs but whose kernel stopped (crashed, rebooted or hung) after a live migration: QEMU 7.2's
 * TCG (this lab's only accelerator) corrupts guest RAM in about 1 of 20 migrations on a loaded machine (a guest
 * timed by the ACPI PM timer instead of the TSC crashed as well), and no orchestration above QEMU causes or
 * prevents that. The tier runner (test/run-tiers.mjs) reads this file to rerun the lab tier once, saying why,
 * when this fault was the reason it failed.
 */
function noteGuestFault(line: string): void {
  const f = process.env.BB_LAB_GUEST_FAULTS;
  if (f) appendFileSync(f, `${line}\n`);
}
