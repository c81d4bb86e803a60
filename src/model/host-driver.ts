import type { AdmissionHookSeen, DomainInfo, JobStats, MigrateOptions, NodeInfo } from './types.js';

/** One scan of a host: its domains, and its node info and admission hook when the host told them. */
export interface HostScan {
  domains: DomainInfo[];
  node?: NodeInfo;
  admissionHook?: AdmissionHookSeen;
  /** the running domains' saved definitions were read (asked for, and the way the scan went could) */
  savedRead?: boolean;
}

export interface ScanOptions {
  /** also read each running domain's saved definition (dumpxml --inactive): DomainInfo.savedDefinitionHash */
  savedDefinitions?: boolean;
}

/** one file `hosts install-hook` writes into the host's libvirt hooks folder */
export interface AdmissionHookFile {
  name: 'qemu' | 'billboard-admit.conf' | 'billboard-admit.key' | 'billboard-admit.known_hosts';
  mode: 0o755 | 0o644 | 0o600;
  content: string;
}

/**
 * The console's eyes and hands on one lab host. Implemented by hosts/ssh/driver (ssh2 + virsh)
 * and hosts/libvirt/driver (@unraid/libvirt, virsh -c for what the binding lacks).
 * A driver never decides policy: it reports and executes.
 * Every method rejects with a HostError (hosts/errors) carrying a one-line, user-readable message.
 */
export interface HostDriver {
  readonly name: string;
  readonly kind: 'ssh' | 'libvirt';
  connect(): Promise<void>;
  close(): Promise<void>;
  /** inventory and node info in as few round trips as the transport allows (what the scanner runs) */
  scanAll(o?: ScanOptions): Promise<HostScan>;
  inventory(): Promise<DomainInfo[]>;
  nodeInfo(): Promise<NodeInfo>;
  /** the domain's live XML (dumpxml) */
  domainXml(uuid: string): Promise<string>;

  // enforcement
  stop(uuid: string): Promise<void>;
  suspend(uuid: string): Promise<void>;
  resume(uuid: string): Promise<void>;
  /** set every interface's link down; rejects with code UNSUPPORTED where the hypervisor cannot */
  isolate(uuid: string): Promise<void>;

  /** the migration hooks (used by migration/) */
  readonly jobs: JobControl;

  /**
   * Write the admission hook and its settings (`hosts install-hook`) into the host's hooks folder, built for that
   * folder by `files`; absent where the driver cannot (libvirt)
   */
  installAdmissionHook?(files: (hooksDir: string) => AdmissionHookFile[], o: { replace: boolean }): Promise<{ replaced?: string }>;

  /** one domain as a scan reports it, or null when the host has none with that UUID (absent: scan the whole host) */
  scanDomain?(uuid: string): Promise<DomainInfo | null>;
  /** open the host's domain event stream (`virsh event --all --loop`); absent when the driver has none */
  openEvents?(): Promise<EventChannel>;
  /** why this host's events cannot reach the console (it is then polled only), or undefined */
  readonly eventsUnavailable?: string;
}

/** A running domain event stream: virsh's text as it arrives, until it ends. */
export interface EventChannel {
  onData(cb: (text: string) => void): void;
  /** once, when the stream ended: why, in one line */
  onEnd(cb: (why: string) => void): void;
  /** end it (and whatever runs it); onEnd follows */
  close(): void;
}

/**
 * Migration and job control on one (source) host. A UUID that is not one is refused with NOT_FOUND before
 * anything runs on the host.
 */
export interface JobControl {
  /** runs `virsh migrate --live …` on this host; resolves when libvirt says it finished */
  migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal): Promise<void>;
  /** domjobinfo; null when no job is active */
  jobStats(uuid: string): Promise<JobStats | null>;
  /** domjobinfo --completed; null when libvirt has none */
  completedJobStats(uuid: string): Promise<JobStats | null>;
  abortJob(uuid: string): Promise<void>;
  setMaxDowntime(uuid: string, ms: number): Promise<void>;
  setBandwidth(uuid: string, mibs: number): Promise<void>;
}
