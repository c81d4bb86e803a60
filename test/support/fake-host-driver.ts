// A host driver and its domains for unit tests of what sits above the drivers (the scanner, the engine): a domain
// as a scan reports it, and a driver whose every action is refused unless the test gives it one.
import { hostError } from '../../src/hosts/errors.js';
import type { HostDriver } from '../../src/model/host-driver.js';
import type { DomainInfo } from '../../src/model/types.js';

/** a running one-vCPU domain with no NICs, disks or addresses, as a scan reports it; `over` sets the rest */
export function domainInfo(over: Partial<DomainInfo> & Pick<DomainInfo, 'uuid'>): DomainInfo {
  return {
    name: 'vm',
    state: 'running',
    vcpus: 1,
    memoryKiB: 1,
    macs: [],
    interfaces: [],
    ips: [],
    disks: [],
    definitionHash: 'd',
    ...over,
  };
}

/** a driver for `name` with no domains; every action and job is refused (UNSUPPORTED) unless `over` gives it */
export function stubDriver(name: string, over: Partial<HostDriver> = {}): HostDriver {
  const no = () => Promise.reject(hostError('UNSUPPORTED', name, 'fake'));
  return {
    name,
    kind: 'libvirt',
    connect: async () => undefined,
    close: async () => undefined,
    scanAll: async () => ({ domains: [] }),
    inventory: async () => [],
    nodeInfo: async () => ({ cpus: 1, memoryKiB: 1, freeMemoryKiB: 1 }),
    domainXml: no,
    stop: no,
    suspend: no,
    resume: no,
    isolate: no,
    jobs: { migrate: no, jobStats: no, completedJobStats: no, abortJob: no, setMaxDowntime: no, setBandwidth: no },
    ...over,
  };
}
