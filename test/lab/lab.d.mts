// Types for lab.mjs (the lab is plain JS so benches can load it without a TypeScript loader).
export declare class LabUnavailable extends Error {}

export interface LabHost {
  name: 'lab-a' | 'lab-b' | string;
  /** own loopback address (127.0.0.11 / 127.0.0.12) */
  address: string;
  dir: string;
  hostUuid: string;
  sshPort: number;
  libvirtPort: number;
  migrationPorts: [number, number];
  /** the daemon's unix socket, reachable from outside the namespace */
  socket: string;
  /** qemu+unix:///system?socket=… (from this process) */
  localUri: string;
  /** qemu+tcp://ADDR:PORT/system (auth none, loopback only) */
  tcpUri: string;
  /** qemu+ssh://root@NAME:PORT/system: how the other host's libvirtd reaches this one */
  sshUri: string;
  hostKeyPub: string;
  libvirtdPid: number;
  sshdPid: number;
}

export interface Lab {
  dir: string;
  hosts: LabHost[];
  domain: string;
  guestMac: string;
  /** uuid of the guest domain (when started) */
  uuid?: string;
  guestXml: string;
  consoleLog: string;
  /** with StartLabOptions.agent: the key the guest's agent beacons with (base64 raw Ed25519) and its disk image */
  agent?: { publicKey: string; disk: string };
  ssh: { identityFile: string; knownHostsFile: string; user: string };
  stopped: boolean;
  stop(): Promise<void>;
}

export interface StartLabOptions {
  cacheDir?: string;
  /** kernel command line of the guest (dirty_mb / dirty_ws / dirty_sleep knobs) */
  guestCmdline?: string;
  /** default true: define and start `tiny` on lab-a */
  startGuest?: boolean;
  keepDir?: boolean;
  /** called for each host before its libvirtd starts; the host's /etc/libvirt is `${host.dir}/etc` (hooks go there) */
  prepareHost?: (host: LabHost) => void;
  /** run the real agent in the guest, beaconing to `to` (e.g. 10.0.2.2:PORT, the host's 127.0.0.1:PORT) */
  agent?: GuestAgent;
}

export interface GuestAgent {
  to: string;
  /** seconds between beacons (default 1) */
  intervalS?: number;
}

export declare function labPrerequisites(): string[];
export declare function ensurePackages(): Promise<void>;
export declare function labCacheDir(): string;
export declare function buildGuest(cacheDir?: string): Promise<{ kernel: string; initrd: string }>;
export declare function startLab(opts?: StartLabOptions): Promise<Lab>;
export declare function buildAgentDisk(cacheDir?: string): Promise<{ disk: string; publicKey: string }>;
export declare function domainXml(o: {
  kernel: string;
  initrd: string;
  consoleLog: string;
  cmdline?: string;
  agent?: GuestAgent & { disk: string };
  name?: string;
  uuid?: string;
}): string;
export declare function virshOn(host: LabHost, args: string[], timeoutMs?: number): Promise<string>;
export declare function migrateByHand(host: LabHost, peer: LabHost, args: string[], timeoutMs?: number): Promise<string>;
export declare function lastTick(consoleLog: string): number;
export declare function domainState(host: LabHost): Promise<string | null>;
export declare function guestTicks(lab: Lab, hostName: string): Promise<number | null>;
export declare function labHostsConfig(lab: Lab): {
  name: string;
  driver: 'ssh';
  address: string;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  libvirtUri: string;
  migrationUri: string;
}[];
