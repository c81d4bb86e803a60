import type { MigrationEngineHooks } from '../../src/migration/hooks.js';
import type { Inventory, VmRow } from '../../src/model/types.js';
import type { Scanner } from '../../src/hosts/scanner.js';
import type { StoreApi } from '../../src/store/api.js';

export declare class LabEngine implements MigrationEngineHooks {
  constructor(scanner: Scanner, store: StoreApi);
  readonly inventories: Map<string, Inventory>;
  readonly calls: string[];
  rows(): VmRow[];
  requestScan(hosts: string[]): Promise<void>;
  resolveVm(ref: string): VmRow;
  openCriticalFindings(): [];
  beginMigration(w: { job: string; uuid: string; source: string; destination: string }): void;
  commitMigration(job: string): void;
  endMigration(job: string, outcome: 'completed' | 'failed' | 'aborted'): void;
  lastBeacon(uuid: string): VmRow['lastBeacon'];
  waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean>;
}
