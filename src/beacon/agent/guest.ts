// What the guest says about itself: its identity (flags first, then what the system reports), OS and interfaces.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { hasUnsafeChars, MAX_NAME_BYTES, nameProblem } from '../../model/text.js';
import { MAX_IPS, MAX_MACS, MAX_STR_BYTES, spaceControls, truncateUtf8, uuidBytes } from '../wire.js';
import { UsageError, type AgentArgs } from './args.js';

export interface GuestIdentity {
  uuid: string;
  bootId: string;
  hostname: string;
  osName: string;
  name: string;
}

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function guestOsName(): string {
  const rel = readTrim('/etc/os-release');
  const m = rel ? /^PRETTY_NAME=(.*)$/m.exec(rel) : null;
  if (m)
    return m[1]!
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .replace(/^'(.*)'$/, '$1');
  return `${os.type()} ${os.release()}`;
}

/** The MACs and addresses of every non-loopback interface, as many as a beacon carries. */
export function guestInterfaces(): { macs: string[]; ips: string[] } {
  const macs = new Set<string>();
  const ips = new Set<string>();
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      if (a.mac && a.mac !== '00:00:00:00:00:00') macs.add(a.mac.toLowerCase());
      ips.add(a.address.split('%')[0]!);
    }
  }
  return { macs: [...macs].slice(0, MAX_MACS), ips: [...ips].slice(0, MAX_IPS) };
}

/**
 * The name to beacon when none was given: the hostname, with what the name rule (nameProblem) refuses taken out;
 * "vm-" in front when what is left reads as a UUID prefix (a hostname like "cafe"), or "vm-" and the UUID's first
 * group when nothing usable is left.
 */
export function defaultName(hostname: string, uuid: string): string {
  const visible = [...hostname].filter((ch) => !hasUnsafeChars(ch)).join('');
  const cleaned = truncateUtf8(visible.replace(/["'`\\]/g, '').trim(), MAX_NAME_BYTES).trim();
  for (const n of [cleaned, truncateUtf8(`vm-${cleaned}`, MAX_NAME_BYTES).trim()]) {
    if (cleaned && nameProblem(n) === undefined) return n;
  }
  return `vm-${uuid.slice(0, 8).toLowerCase()}`;
}

/** Who this guest says it is: flags first, then what the guest itself reports. */
export function guestIdentity(a: AgentArgs): GuestIdentity {
  const uuid = a.uuid ?? readTrim('/sys/class/dmi/id/product_uuid');
  if (!uuid) throw new UsageError('--uuid is required: /sys/class/dmi/id/product_uuid is not readable here');
  uuidBytes(uuid, '--uuid');
  const bootId = a.bootId ?? readTrim('/proc/sys/kernel/random/boot_id') ?? randomUUID();
  uuidBytes(bootId, '--boot-id');
  // controls become spaces (every one of them: a tab in PRETTY_NAME must not stop the agent)
  const hostname = truncateUtf8(spaceControls(a.hostname ?? os.hostname()), MAX_STR_BYTES);
  const osName = truncateUtf8(spaceControls(a.os ?? guestOsName()), MAX_STR_BYTES);
  if (a.name !== undefined) {
    const why = nameProblem(a.name);
    if (why) throw new UsageError(`--name ${JSON.stringify(a.name)} is refused: ${why}`);
  }
  const name = a.name ?? defaultName(hostname, uuid);
  if (a.name === undefined && name !== hostname) {
    const why = `the hostname ${JSON.stringify(hostname)} is not a usable name`;
    process.stderr.write(`billboard-beacon: ${why}; beaconing as ${JSON.stringify(name)} (set --name)\n`);
  }
  return { uuid: uuid.toLowerCase(), bootId: bootId.toLowerCase(), hostname, osName, name };
}
