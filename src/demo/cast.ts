import type { DomainState } from '../model/types.js';

// The demo's small shop: three hosts, a handful of VMs, and the minute of incidents it lives through.
// Plain data; demo/lab.ts and demo/timeline.ts give it life.

export const DEMO_HOSTS = ['lab-a', 'lab-b', 'lab-c'] as const;
export type DemoHost = (typeof DEMO_HOSTS)[number];

export interface DemoVm {
  name: string;
  uuid: string;
  host: DemoHost;
  state: DomainState;
  macs: string[];
  os: string;
  memoryKiB: number;
  vcpus: number;
  /** runs an agent (otherwise agentless: known to scans only) */
  agent: boolean;
  /** approved at start-up as the shop's known-good baseline */
  approved: boolean;
}

const vm = (
  name: string,
  n: number,
  host: DemoHost,
  os: string,
  memMiB: number,
  o: Partial<Pick<DemoVm, 'agent' | 'approved' | 'state'>> = {},
): DemoVm => ({
  name,
  // distinct 8-character prefixes, so the Billboard's UUID column tells them apart
  uuid: `${hex(n, 2)}5eed${hex(n * 37, 2).slice(-2)}-0000-4000-8000-${hex(n, 12)}`,
  host,
  state: o.state ?? 'running',
  macs: [`52:54:00:de:00:${n.toString(16).padStart(2, '0')}`],
  os,
  memoryKiB: memMiB * 1024,
  vcpus: memMiB >= 4096 ? 4 : 2,
  agent: o.agent ?? true,
  approved: o.approved ?? true,
});

export const DEMO_VMS: DemoVm[] = [
  vm('web-01', 1, 'lab-a', 'debian12', 2048),
  vm('web-02', 2, 'lab-b', 'debian12', 2048),
  vm('db-01', 3, 'lab-a', 'debian12', 8192),
  vm('cache-01', 4, 'lab-b', 'alpine3.20', 1024),
  vm('mail-01', 5, 'lab-c', 'debian12', 2048, { agent: false }),
  vm('build-01', 6, 'lab-c', 'ubuntu24.04', 4096, { approved: false }),
  vm('backup-01', 7, 'lab-c', 'debian12', 1024, { state: 'shutoff', agent: false }),
];

/** appears at t+4s on lab-c, beaconing with a key nobody registered */
export const INTRUDER: DemoVm = vm('miner-7f', 0x7f, 'lab-c', 'ubuntu22.04', 4096, { approved: false });

export interface DemoTimeline {
  unregisteredAtMs: number;
  cloneAtMs: number;
  silentAtMs: number;
  forgedAtMs: number;
}

/** Every incident lands inside the first 15 s, so `wait 20` in a script sees them all raised. */
export const TIMELINE: DemoTimeline = {
  unregisteredAtMs: 3_000,
  silentAtMs: 4_000,
  cloneAtMs: 6_000,
  forgedAtMs: 8_000,
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
