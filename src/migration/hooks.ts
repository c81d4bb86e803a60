import type { Finding, HostStatus, VmRow } from '../model/types.js';
import type { HostConfig } from '../model/config.js';
import type { HostDriver } from '../model/host-driver.js';
import type { HostDomainEvent } from '../hosts/events/host-events.js';

/**
 * What migration/ needs from the engine (billboard/Engine implements these names; the lead wires them).
 * Declared here so that migration/ never imports billboard/.
 */
export interface MigrationEngineHooks {
  /** name, uuid or unique prefix → the VM's row; throws NOT_FOUND / AMBIGUOUS */
  resolveVm(ref: string): VmRow;
  openCriticalFindings(uuid: string): Finding[];
  /** from now on the identity is expected on {source, destination} only (anywhere else: MIGRATION_GHOST) */
  beginMigration(w: { job: string; uuid: string; source: string; destination: string }): void;
  /** libvirt finished the move: the source must no longer run it (else MIGRATION_GHOST critical) */
  commitMigration(job: string): void;
  endMigration(job: string, outcome: 'completed' | 'failed' | 'aborted'): void;
  lastBeacon(uuid: string): VmRow['lastBeacon'];
  /** resolves true once pred(row) holds (checked on every table change), false after timeoutMs */
  waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean>;
  /** scan these hosts now and fold the result into the table */
  requestScan(hosts: string[]): Promise<void>;
}

/** every host's domain events, until the returned function is called */
export type DomainEventFeed = (listener: (e: HostDomainEvent) => void) => () => void;

/** The hosts as migration/ sees them (the scanner provides them all). */
export interface MigrationHosts {
  /** configured hosts (paths resolved) */
  configs(): readonly HostConfig[];
  /** last known status; undefined when never scanned */
  status(host: string): HostStatus | undefined;
  /** the host's driver; throws NOT_FOUND */
  driver(host: string): HostDriver;
  /** the hosts' domain event streams (absent: jobs are watched by polling alone) */
  domainEvents?: DomainEventFeed;
}

/** Where migration/ writes what an operator reads in the log (pino's shape). */
export interface MigrationLog {
  info(fields: unknown, message?: string): void;
  warn(fields: unknown, message?: string): void;
}
