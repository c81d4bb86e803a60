import type { BillboardSnapshot, Finding, HostDriver } from '../model/index.js';
import type { HostStatus, Inventory, MigrationEvent, MigrationJob, PreCheck, VmRow } from '../model/types.js';

// The console's view of the subsystems below it, as structural interfaces: billboard/Engine,
// hosts/Scanner and migration/MigrationManager satisfy them; tests may pass smaller fakes.

export interface EngineService {
  snapshot(): BillboardSnapshot;
  resolveVm(ref: string): VmRow;
  findings(all?: boolean): Finding[];
  ack(id: string, actor: string, note?: string): Promise<Finding>;
  registryChanged(): void;
  bindingFor(uuid: string): { definitionHash?: string; homeHost?: string; macs: string[]; publicKey?: string };
  on(event: 'change', fn: (version: number) => void): unknown;
  off(event: 'change', fn: (version: number) => void): unknown;
}

export interface ScannerService {
  scan(hosts?: string[]): Promise<{ host: string; ok: boolean; inventory?: Inventory; error?: string }[]>;
  statuses(): HostStatus[];
  driver(host: string): HostDriver;
}

export interface MigrationService {
  request(vmRef: string, toHost: string, opts: { bandwidthMiBs?: number; maxDowntimeMs?: number }, actor: string): Promise<MigrationJob>;
  authorize(jobRef: string, actor: string): Promise<MigrationJob>;
  deny(jobRef: string, actor: string, reason?: string): Promise<MigrationJob>;
  abort(jobRef: string, actor: string): Promise<MigrationJob>;
  tune(jobRef: string, t: { bandwidthMiBs?: number; maxDowntimeMs?: number }, actor: string): Promise<MigrationJob>;
  jobs(): readonly MigrationJob[];
  job(ref: string): MigrationJob;
  watch(jobRef: string, onEvent: (ev: MigrationEvent) => void): Promise<MigrationJob>;
  choices(vmRef: string): Promise<{ host: string; ok: boolean; checks: PreCheck[] }[]>;
}
