import { sameList } from '../model/lists.js';
import type { DomainInfo } from '../model/types.js';
import { ACTIVE_STATES, type InstanceState, type VmState } from './state.js';

/** What a host's scan says of one domain, frozen (rows share it); a run that goes on keeps when it began. */
export function toInstance(host: string, d: DomainInfo, now: number, prev?: InstanceState): InstanceState {
  const runningSince = d.state === 'running' ? (prev?.state === 'running' ? (prev.runningSince ?? now) : now) : undefined;
  return Object.freeze({
    host,
    state: d.state,
    name: d.name,
    macs: d.macs.map((m) => m.toLowerCase()),
    ips: d.ips,
    definitionHash: d.definitionHash,
    ...(d.legacyDefinitionHash ? { legacyDefinitionHash: d.legacyDefinitionHash } : {}),
    ...(d.previousDefinitionHash ? { previousDefinitionHash: d.previousDefinitionHash } : {}),
    ...(d.savedDefinitionHash ? { savedDefinitionHash: d.savedDefinitionHash } : {}),
    memoryKiB: d.memoryKiB,
    vcpus: d.vcpus,
    scannedAt: now,
    ...(runningSince !== undefined ? { runningSince } : {}),
    ...(d.os ? { os: d.os } : {}),
  });
}

/** the scan says nothing new about this instance (it keeps its object, and rows stay unchanged) */
export function sameAsDomain(a: InstanceState, d: DomainInfo): boolean {
  return (
    a.state === d.state &&
    a.name === d.name &&
    a.definitionHash === d.definitionHash &&
    a.savedDefinitionHash === d.savedDefinitionHash &&
    a.previousDefinitionHash === d.previousDefinitionHash &&
    a.memoryKiB === d.memoryKiB &&
    a.vcpus === d.vcpus &&
    a.os === d.os &&
    sameList(a.macs, d.macs) &&
    sameList(a.ips, d.ips)
  );
}

/** What `approve` binds into the registry: the definition, home host and MACs seen by scan, the beacon's key. */
export interface Binding {
  definitionHash?: string;
  homeHost?: string;
  macs: string[];
  publicKey?: string;
}

/** The binding as the identity is seen now (live instances first; a single live host is its home). */
export function bindingOf(vm: Readonly<VmState> | undefined): Binding {
  if (!vm) return { macs: [] };
  const all = [...vm.instances.values()];
  const live = all.filter((i) => ACTIVE_STATES.has(i.state));
  const pick = live.length ? live : all;
  const liveHosts = [...new Set(live.map((i) => i.host))];
  const macs = [...new Set(pick.flatMap((i) => i.macs))].sort();
  return {
    definitionHash: pick[0]?.definitionHash || undefined,
    homeHost: liveHosts.length === 1 ? liveHosts[0] : undefined,
    macs: macs.length ? macs : [...(vm.beacon?.macs ?? [])].sort(),
    publicKey: vm.beacon?.publicKey,
  };
}
