// The lab tier's entry point: a real two-host libvirt lab (see lab.mjs) with helpers the lab tests share.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as core from './lab.mjs';
import type { Lab as CoreLab, LabHost, StartLabOptions } from './lab.mjs';

export type { LabHost, StartLabOptions };
export { LabUnavailable, labPrerequisites, labHostsConfig, virshOn, domainState, lastTick } from './lab.mjs';

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
    throw new Error(`guest did not tick ${more} times on ${host} within ${timeoutMs} ms (last: ${first})\n${await whyNotTicking(lab, host)}`);
  };
  return lab;
}

/** What a lab test needs to tell a frozen guest from a stalled console: state, console tail, QEMU's log. */
async function whyNotTicking(lab: Lab, host: string): Promise<string> {
  const tail = (f: string, n: number) => (existsSync(f) ? readFileSync(f, 'utf8').trimEnd().split('\n').slice(-n).join('\n    ') : '(none)');
  const h = lab.host(host);
  const job = await core.virshOn(h, ['domjobinfo', lab.domain], 10_000).catch((e: Error) => e.message);
  return [
    `  state on ${host}: ${await core.domainState(h)}`,
    `  job on ${host}: ${String(job).trim().split('\n').slice(0, 3).join('; ')}`,
    `  console (last lines):\n    ${tail(lab.consoleLog, 4)}`,
    `  qemu log on ${host}:\n    ${tail(join(h.dir, 'log', 'qemu', `${lab.domain}.log`), 8)}`,
  ].join('\n');
}
