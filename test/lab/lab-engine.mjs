// A minimal stand-in for billboard/Engine in the lab tier and the migration bench: the VM table is whatever the
// real Scanner last saw on the real lab hosts (no beacons: the lab guest is agentless). It implements exactly the
// hooks MigrationManager needs (migration/hooks.ts), so the lab exercises real drivers, libvirt and QEMU.
// Plain JS (typed by lab-engine.d.mts) so the bench can use it against dist/.

function notFound(message, code = 'NOT_FOUND') {
  return Object.assign(new Error(message), { code });
}

export class LabEngine {
  /** @param scanner a hosts/Scanner  @param store a StoreApi */
  constructor(scanner, store) {
    this.scanner = scanner;
    this.store = store;
    this.inventories = new Map();
    this.calls = [];
  }

  async requestScan(hosts) {
    const res = await this.scanner.scan(hosts);
    for (const r of res) if (r.inventory) this.inventories.set(r.host, r.inventory);
  }

  rows() {
    const byUuid = new Map();
    for (const inv of this.inventories.values()) {
      for (const d of inv.domains) {
        let row = byUuid.get(d.uuid);
        if (!row) {
          row = {
            uuid: d.uuid,
            name: d.name,
            instances: [],
            ips: [],
            openFindings: 0,
            status: 'ok',
            registration: this.store.registration(d.uuid)?.state,
          };
          byUuid.set(d.uuid, row);
        }
        row.instances.push({
          host: inv.host,
          state: d.state,
          name: d.name,
          macs: d.macs,
          ips: d.ips,
          definitionHash: d.definitionHash,
          memoryKiB: d.memoryKiB,
          vcpus: d.vcpus,
        });
      }
    }
    return [...byUuid.values()];
  }

  resolveVm(ref) {
    const hits = this.rows().filter((r) => r.name === ref || r.uuid === ref || r.uuid.startsWith(ref));
    if (hits.length === 0) throw notFound(`no VM "${ref}"`);
    if (hits.length > 1) throw notFound(`"${ref}" matches ${hits.length} VMs`, 'AMBIGUOUS');
    return hits[0];
  }

  openCriticalFindings() {
    return [];
  }
  beginMigration(w) {
    this.calls.push(`begin ${w.job}`);
  }
  commitMigration(job) {
    this.calls.push(`commit ${job}`);
  }
  endMigration(job, outcome) {
    this.calls.push(`end ${job} ${outcome}`);
  }
  lastBeacon() {
    return undefined;
  }

  /** like the engine's periodic scans: rescan until pred holds */
  async waitFor(pred, uuid, timeoutMs) {
    const t0 = Date.now();
    for (;;) {
      if (pred(this.rows().find((r) => r.uuid === uuid))) return true;
      if (Date.now() - t0 > timeoutMs) return false;
      await new Promise((r) => setTimeout(r, 250));
      await this.requestScan([...this.inventories.keys()]);
    }
  }
}
