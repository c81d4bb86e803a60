// The synthetic lab the fake console runs: three hosts (lab-c down), N VMs with their domains, registrations and
// agents, and the cases the TUI tests look at — a clone on two hosts, an unregistered VM, two pending requests (one
// from a beacon with its key, one from a scan), a silent VM, a shut-off VM whose definition drifted, two VMs on one
// IP. Only inputs live here (what hosts, agents and the registry say); what they mean is the real Engine's to say.
import { keyFingerprint } from '../../src/model/fingerprint.js';
import type { BeaconEvent, BeaconPayload, DomainInfo, DomainState, Registration } from '../../src/model/types.js';
import type { FakeHostSpec } from './fake-scanner.js';

/** the lab's clock starts here unless told otherwise */
export const LAB_START = Date.UTC(2025, 0, 15, 9, 0, 0);
const GiB_KiB = 1024 * 1024;
const OSES = ['debian-12', 'ubuntu-24.04', 'alpine-3.20', 'fedora-40', 'rocky-9'];

/** mulberry32: small, fast, deterministic */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** n random hex digits (a table per byte keeps 10,000-VM labs quick to build) */
export function hex(rand: () => number, n: number): string {
  let s = '';
  while (s.length < n) {
    const x = (rand() * 0x100000000) >>> 0;
    s += BYTE_HEX[x >>> 24]! + BYTE_HEX[(x >>> 16) & 255]! + BYTE_HEX[(x >>> 8) & 255]! + BYTE_HEX[x & 255]!;
  }
  return s.length === n ? s : s.slice(0, n);
}

function uuidFrom(rand: () => number): string {
  const h = hex(rand, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

function keyFrom(rand: () => number): string {
  const b = Buffer.allocUnsafe(32);
  for (let i = 0; i < 32; i += 4) b.writeUInt32LE(Math.floor(rand() * 0x100000000), i);
  return b.toString('base64');
}

export const LAB_HOSTS: FakeHostSpec[] = [
  {
    config: { name: 'lab-a', driver: 'libvirt', uri: 'qemu:///system' },
    up: true,
    scanMs: 41,
    node: { cpus: 32, cpuModel: 'EPYC-Rome', arch: 'x86_64', memoryKiB: 128 * GiB_KiB, freeMemoryKiB: 40 * GiB_KiB },
  },
  {
    config: {
      name: 'lab-b',
      driver: 'ssh',
      address: '10.0.0.12',
      port: 22,
      user: 'root',
      knownHostsFile: '~/.ssh/known_hosts',
      libvirtUri: 'qemu:///system',
    },
    up: true,
    scanMs: 88,
    node: { cpus: 32, cpuModel: 'EPYC-Rome', arch: 'x86_64', memoryKiB: 128 * GiB_KiB, freeMemoryKiB: 22 * GiB_KiB },
  },
  {
    config: {
      name: 'lab-c',
      driver: 'ssh',
      address: '10.0.0.13',
      port: 22,
      user: 'root',
      knownHostsFile: '~/.ssh/known_hosts',
      libvirtUri: 'qemu:///system',
    },
    up: false,
    lastError: 'connect ECONNREFUSED 10.0.0.13:22',
    consecutiveFailures: 4,
  },
];

/** One VM of the lab: where its domain is defined, what the registry holds, whether its agent beacons. */
export interface LabVm {
  uuid: string;
  name: string;
  hosts: string[];
  state: DomainState;
  /** its address and MAC, as its agent and its host report them (shared, never changed) */
  ips: string[];
  macs: string[];
  os: string;
  definitionHash: string;
  publicKey?: string;
  keyFp?: string;
  registration?: Registration;
  /** its agent beacons (a silent agent or an agentless VM does not) */
  beacons: boolean;
  bootId: string;
  seq: number;
}

export interface Lab {
  vms: LabVm[];
  /** the VMs whose agents beacon (bench and tests send their beacons) */
  agents: LabVm[];
}

type Spec = {
  name: string;
  hosts: string[];
  reg?: 'approved' | 'pending-beacon' | 'pending-scan';
  agent?: boolean;
  silent?: boolean;
  state?: DomainState;
  drift?: boolean;
};

const SPECIAL: Spec[] = [
  { name: 'web-01', hosts: ['lab-a'], reg: 'approved', agent: true },
  { name: 'web-02', hosts: ['lab-a'], reg: 'approved', agent: true },
  { name: 'db-01', hosts: ['lab-a'], reg: 'approved', agent: true },
  { name: 'clone-01', hosts: ['lab-a', 'lab-b'], reg: 'approved', agent: true },
  { name: 'rogue-01', hosts: ['lab-b'] },
  { name: 'new-01', hosts: ['lab-b'], reg: 'pending-beacon', agent: true },
  { name: 'quiet-01', hosts: ['lab-b'], reg: 'approved', agent: true, silent: true },
  { name: 'old-01', hosts: ['lab-b'], reg: 'approved', state: 'shutoff', drift: true },
  { name: 'new-02', hosts: ['lab-b'], reg: 'pending-scan' },
];
const LAB_A = ['lab-a'];
const LAB_B = ['lab-b'];

/** Build a lab of `total` VMs (at least the special ones); vm-00012 and vm-00013 share an IP when both exist. */
export function buildLab(total: number, seed: number, start: number): Lab {
  const rand = prng(seed);
  const vms: LabVm[] = [];
  for (let i = 0; i < total; i++) {
    const s = SPECIAL[i] ?? { name: `vm-${String(i).padStart(5, '0')}`, hosts: i % 2 ? LAB_B : LAB_A, reg: 'approved', agent: true };
    vms.push(labVm(s, i, rand, start));
  }
  return { vms, agents: vms.filter((v) => v.beacons) };
}

/** What each host lists, in the lab's order: clone-01 is the first identity lab-b shows a second time. */
export function labDomains(lab: Lab): Map<string, DomainInfo[]> {
  const domains = new Map<string, DomainInfo[]>(LAB_HOSTS.map((h) => [h.config.name, []]));
  for (const vm of lab.vms) for (const h of vm.hosts) domains.get(h)!.push(domainOf(vm));
  return domains;
}

function labVm(s: Spec, i: number, rand: () => number, start: number): LabVm {
  const uuid = uuidFrom(rand);
  // unique per VM (but vm-00013's, a copy of vm-00012's): addresses come from the index, never from chance
  const a = i === 13 ? 12 : i;
  const ip = `10.0.${1 + Math.floor(a / 250)}.${(a % 250) + 2}`;
  const mac = `52:54:00:${byte(i >> 16)}:${byte(i >> 8)}:${byte(i)}`;
  const macs = [mac];
  const os = OSES[i % OSES.length]!;
  // a stand-in for the SHA-256 of the domain XML: distinct per VM, cheap for 10,000 of them
  const definitionHash = uuid.replace(/-/g, '').padEnd(64, '0');
  const publicKey = s.agent ? keyFrom(rand) : undefined;
  const keyFp = publicKey ? keyFingerprint(publicKey) : undefined;
  const vm: LabVm = {
    uuid,
    name: s.name,
    hosts: s.hosts,
    state: s.state ?? 'running',
    ips: [ip],
    macs,
    os,
    definitionHash,
    publicKey,
    keyFp,
    beacons: !!s.agent && !s.silent,
    bootId: hex(rand, 16),
    seq: 1 + Math.floor(rand() * 1000),
  };
  if (s.reg === 'approved') {
    vm.registration = {
      uuid,
      name: s.name,
      macs,
      os,
      homeHost: s.hosts[0],
      definitionHash: s.drift ? definitionHash.replace(/0+$/, (z) => '1'.repeat(z.length)) : definitionHash,
      state: 'approved',
      origin: 'operator',
      createdAt: start - 86_400_000,
      createdBy: 'alice',
      decidedAt: start - 86_000_000,
      decidedBy: 'bob',
      ...(publicKey ? { publicKey, keyFp } : {}),
    };
  } else if (s.reg === 'pending-beacon') {
    vm.registration = {
      uuid,
      name: s.name,
      publicKey,
      keyFp,
      macs,
      os,
      state: 'pending',
      origin: 'beacon',
      firstSeen: `beacon from ${ip}`,
      createdAt: start - 120_000,
      createdBy: 'system',
    };
  } else if (s.reg === 'pending-scan') {
    vm.registration = {
      uuid,
      name: s.name,
      macs,
      os,
      state: 'pending',
      origin: 'scan',
      firstSeen: `scan of ${s.hosts[0]}`,
      createdAt: start - 30_000,
      createdBy: 'system',
    };
  }
  return vm;
}

function byte(n: number): string {
  return BYTE_HEX[n & 255]!;
}

function domainOf(vm: LabVm): DomainInfo {
  const running = vm.state === 'running';
  return {
    uuid: vm.uuid,
    name: vm.name,
    state: vm.state,
    vcpus: 1,
    memoryKiB: GiB_KiB,
    macs: vm.macs,
    interfaces: [{ mac: vm.macs[0]!, type: 'network', ips: running ? vm.ips : [] }],
    ips: running ? vm.ips : [],
    os: vm.os,
    arch: 'x86_64',
    disks: [`/var/lib/libvirt/images/${vm.name}.qcow2`],
    definitionHash: vm.definitionHash,
    persistent: true,
  };
}

/** The agent's next beacon, as the listener hands it to the engine (its signature verified under the agent's key). */
export function nextBeacon(vm: LabVm, receivedAt: number): BeaconEvent {
  vm.seq++;
  const beacon: BeaconPayload = {
    v: 1,
    uuid: vm.uuid,
    name: vm.name,
    macs: vm.macs,
    ips: vm.ips,
    os: vm.os,
    hostname: vm.name,
    bootId: vm.bootId,
    seq: vm.seq,
    ts: receivedAt,
    keyFp: vm.keyFp!,
  };
  return { verdict: 'valid', beacon, publicKey: vm.publicKey, from: { address: vm.ips[0]!, port: 40_000 }, receivedAt };
}
