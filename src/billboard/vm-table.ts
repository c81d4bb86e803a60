import { canonicalUuid } from '../model/fingerprint.js';
import type { DomainInfo } from '../model/types.js';
import { sameAsDomain, toInstance } from './instances.js';
import type { HostView } from './host-view.js';
import { ACTIVE_STATES, currentActive, type VmState } from './state.js';

/**
 * Every identity the engine tracks, with its instances and beacon state, and which of them have no live instance
 * (the only PHANTOM candidates). The engine mutates the VmState objects; detectors only read them.
 */
export class VmTable {
  private readonly vms = new Map<string, VmState>();
  private readonly notLive = new Set<string>();

  /** @param created a new identity appeared (its row must be built) */
  constructor(private readonly created: (uuid: string) => void) {}

  get(uuid: string): VmState | undefined {
    return this.vms.get(uuid);
  }

  has(uuid: string): boolean {
    return this.vms.has(uuid);
  }

  get size(): number {
    return this.vms.size;
  }

  uuids(): string[] {
    return [...this.vms.keys()];
  }

  /** the identity's state, created (empty) when the engine first hears of it */
  ensure(uuid: string): VmState {
    let vm = this.vms.get(uuid);
    if (!vm) {
      vm = { uuid, instances: new Map(), claimedIps: [], activeMacs: [] };
      this.vms.set(uuid, vm);
      this.notLive.add(uuid);
      this.created(uuid);
    }
    return vm;
  }

  /** after an instance change: is it live anywhere (the start of its active streak is kept while it is) */
  updateLive(vm: VmState, now: number): void {
    if ([...vm.instances.values()].some((i) => ACTIVE_STATES.has(i.state))) {
      vm.activeSince ??= now;
      this.notLive.delete(vm.uuid);
    } else {
      vm.activeSince = undefined;
      this.notLive.add(vm.uuid);
    }
  }

  /** identities with no live instance that still beacon */
  beaconingNotLive(): string[] {
    return [...this.notLive].filter((uuid) => this.vms.get(uuid)?.beacon);
  }

  /**
   * The hosts (up) where the identity is live, and where it runs without a break (not paused) since when: -Infinity
   * for a run the host's first inventory already showed (it began before the engine watched, at an unknown time).
   */
  runs(uuid: string, h: Pick<HostView, 'hostUp' | 'firstScanAt'>): { liveHosts: string[]; runningSince: Map<string, number> } {
    const vm = this.vms.get(uuid);
    const live = vm ? currentActive(vm, h) : [];
    const runningSince = new Map<string, number>();
    for (const i of live) {
      if (i.runningSince === undefined) continue;
      runningSince.set(i.host, i.runningSince > (h.firstScanAt(i.host) ?? -Infinity) ? i.runningSince : -Infinity);
    }
    return { liveHosts: live.map((i) => i.host), runningSince };
  }

  /**
   * A host's inventory: each domain becomes (or updates) that identity's instance on the host. Unchanged instances
   * keep their (frozen, shared-with-rows) object; the host's scan time says when they were seen.
   * @returns the identities seen, those whose instance changed, and each seen identity's domain
   */
  applyInventory(
    host: string,
    domains: readonly DomainInfo[],
    now: number,
  ): { seen: Set<string>; touched: Set<string>; domains: Map<string, DomainInfo> } {
    const seen = new Set<string>();
    const touched = new Set<string>();
    const byUuid = new Map<string, DomainInfo>();
    for (const d of domains) {
      const uuid = this.vms.has(d.uuid) ? d.uuid : (canonicalUuid(d.uuid) ?? d.uuid.toLowerCase());
      seen.add(uuid);
      byUuid.set(uuid, d);
      const vm = this.ensure(uuid);
      const old = vm.instances.get(host);
      if (!old || !sameAsDomain(old, d)) {
        vm.instances.set(host, toInstance(host, d, now, old));
        touched.add(uuid);
      }
    }
    return { seen, touched, domains: byUuid };
  }

  /** the host no longer reports these identities: their instance there is gone */
  dropFromHost(host: string, uuids: Iterable<string>, touched: Set<string>): void {
    for (const uuid of uuids) {
      this.vms.get(uuid)?.instances.delete(host);
      touched.add(uuid);
    }
  }

  delete(uuid: string): void {
    this.vms.delete(uuid);
    this.notLive.delete(uuid);
  }
}
