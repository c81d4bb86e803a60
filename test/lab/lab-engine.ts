// A minimal stand-in for billboard/Engine in the lab tier: the VM table is whatever the real Scanner last
// saw on the real lab hosts (no beacons: the lab guest is agentless). Implements exactly the hooks the
// MigrationManager needs, so the lab exercises the real drivers, libvirt and QEMU, not a fake table.
import type { MigrationEngineHooks } from '../../src/migration/hooks.js';
import { BillboardError } from '../../src/model/errors.js';
import type { Finding, Inventory, VmRow } from '../../src/model/types.js';
import type { Scanner } from '../../src/hosts/scanner.js';
import type { StoreApi } from '../../src/store/api.js';

export class LabEngine implements MigrationEngineHooks {
  readonly inventories = new Map<string, Inventory>();
  readonly calls: string[] = [];
  constructor(
    private readonly scanner: Scanner,
    private readonly store: StoreApi,
  ) {}

  async requestScan(hosts: string[]): Promise<void> {
    const res = await this.scanner.scan(hosts);
    for (const r of res) if (r.inventory) this.inventories.set(r.host, r.inventory);
  }

  rows(): VmRow[] {
    const byUuid = new Map<string, VmRow>();
    for (const inv of this.inventories.values()) {
      for (const d of inv.domains) {
        let row = byUuid.get(d.uuid);
        if (!row) {
          row = { uuid: d.uuid, name: d.name, instances: [], ips: [], openFindings: 0, status: 'ok', registration: this.store.registration(d.uuid)?.state };
          byUuid.set(d.uuid, row);
        }
        row.instances.push({ host: inv.host, state: d.state, name: d.name, macs: d.macs, ips: d.ips, definitionHash: d.definitionHash, memoryKiB: d.memoryKiB, vcpus: d.vcpus });
      }
    }
    return [...byUuid.values()];
  }

  resolveVm(ref: string): VmRow {
    const hits = this.rows().filter((r) => r.name === ref || r.uuid === ref || r.uuid.startsWith(ref));
    if (hits.length === 0) throw new BillboardError('NOT_FOUND', `no VM "${ref}"`);
    if (hits.length > 1) throw new BillboardError('AMBIGUOUS', `"${ref}" matches ${hits.length} VMs`);
    return hits[0];
  }

  openCriticalFindings(): Finding[] {
    return [];
  }
  beginMigration(w: { job: string }) {
    this.calls.push(`begin ${w.job}`);
  }
  commitMigration(job: string) {
    this.calls.push(`commit ${job}`);
  }
  endMigration(job: string, outcome: string) {
    this.calls.push(`end ${job} ${outcome}`);
  }
  lastBeacon(): VmRow['lastBeacon'] {
    return undefined;
  }

  /** like the engine's periodic scans: rescan both hosts until pred holds */
  async waitFor(pred: (row: VmRow | undefined) => boolean, uuid: string, timeoutMs: number): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      if (pred(this.rows().find((r) => r.uuid === uuid))) return true;
      if (Date.now() - t0 > timeoutMs) return false;
      await new Promise((r) => setTimeout(r, 250));
      await this.requestScan([...this.inventories.keys()]);
    }
  }
}
