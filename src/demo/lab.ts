import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createDriver } from '../hosts/factory.js';
import { testDriverXml, type TestDomainSpec } from './lab-xml.js';
import type { HostConfig } from '../model/config.js';
import type { HostDriver } from '../model/host-driver.js';
import type { DomainInfo, DomainState } from '../model/types.js';
import { DEMO_HOSTS, type DemoHost, type DemoVm } from './cast.js';

/**
 * The demo's hosts: one libvirt test-driver XML file per host, written from an in-memory model. The test
 * driver reads its file when a connection opens and keeps changes per connection, so the model is the truth:
 * every change (an incident, an operator's stop, a simulated migration) rewrites the file and makes the
 * host's driver reconnect. Scans then see it through real libvirt.
 */
export class DemoLab {
  private readonly domains = new Map<DemoHost, TestDomainSpec[]>();
  private readonly drivers = new Map<string, HostDriver>();
  /** `host/uuid` of domains whose links are down (isolated): they run, but nothing leaves them */
  private readonly isolated = new Set<string>();
  /** told when a domain stops, or is cut off, on a host: its agent goes with it */
  onDown: (host: string, uuid: string) => void = () => {};
  /** told when a migration moved a domain: its agent moves with it */
  onMoved: (uuid: string, from: string, to: string) => void = () => {};

  constructor(
    readonly dir: string,
    vms: DemoVm[],
  ) {
    for (const h of DEMO_HOSTS) this.domains.set(h, []);
    for (const v of vms) this.domains.get(v.host)!.push(spec(v));
    for (const h of DEMO_HOSTS) this.write(h);
  }

  file(host: DemoHost): string {
    return join(this.dir, `${host}.xml`);
  }

  hostConfigs(): HostConfig[] {
    return DEMO_HOSTS.map((h) => ({ name: h, driver: 'libvirt', uri: `test://${this.file(h)}` }));
  }

  /** Scanner's createDriver: real libvirt drivers whose enforcement also updates the model. */
  createDriver = (h: HostConfig): HostDriver => {
    const inner = createDriver(h);
    const host = h.name as DemoHost;
    const setState = async (uuid: string, state: DomainState, act: () => Promise<void>) => {
      await act();
      await this.update(host, (ds) => ds.map((d) => (d.uuid === uuid ? { ...d, state } : d)));
      if (state !== 'running') this.onDown(host, uuid);
    };
    const d: HostDriver = {
      name: inner.name,
      kind: inner.kind,
      connect: () => inner.connect(),
      close: () => inner.close(),
      scanAll: async (o) => {
        const r = await inner.scanAll(o);
        return { ...r, domains: r.domains.map((x) => this.asSeen(host, x)) };
      },
      inventory: async () => (await inner.inventory()).map((x) => this.asSeen(host, x)),
      nodeInfo: () => inner.nodeInfo(),
      domainXml: (u) => inner.domainXml(u),
      stop: (u) => setState(u, 'shutoff', () => inner.stop(u)),
      suspend: (u) => setState(u, 'paused', () => inner.suspend(u)),
      resume: (u) => setState(u, 'running', () => inner.resume(u)),
      isolate: (u) => this.isolate(host, u, () => inner.domainXml(u)),
      jobs: inner.jobs,
    };
    this.drivers.set(h.name, inner);
    return d;
  };

  /**
   * Isolation as the real drivers do it (every interface's link set down; the domain keeps running), on the
   * model: the test driver has no link state. The VM's agent can no longer reach anyone, so it stops.
   */
  private async isolate(host: DemoHost, uuid: string, check: () => Promise<string>): Promise<void> {
    await check(); // the domain exists on this host (the driver's own error otherwise)
    this.isolated.add(`${host}/${uuid}`);
    this.onDown(host, uuid);
  }

  /** a domain as the demo's network shows it: addresses follow the MAC (DHCP by MAC), links down when isolated */
  private asSeen(host: DemoHost, d: DomainInfo): DomainInfo {
    const down = this.isolated.has(`${host}/${d.uuid}`);
    const interfaces = d.interfaces.map((i) => ({ ...i, ips: [demoIp(i.mac)], ...(down ? { link: 'down' as const } : {}) }));
    return { ...d, interfaces, ips: d.state === 'running' ? interfaces.flatMap((i) => i.ips) : [] };
  }

  /** a VM starts on a host (a new domain, or a clone of an existing identity) */
  start(host: DemoHost, v: DemoVm): Promise<void> {
    this.isolated.delete(`${host}/${v.uuid}`);
    return this.update(host, (ds) => [...ds.filter((d) => d.uuid !== v.uuid), spec({ ...v, state: 'running' })]);
  }

  /** the demo's simulated migration commits: the domain leaves `from` and runs on `to` */
  async move(uuid: string, from: string, to: string): Promise<void> {
    const src = this.domains.get(from as DemoHost);
    const d = src?.find((x) => x.uuid === uuid);
    if (!d || !this.domains.has(to as DemoHost)) throw new Error(`demo lab: ${uuid} is not on ${from}`);
    await this.update(from as DemoHost, (ds) => ds.filter((x) => x.uuid !== uuid));
    this.isolated.delete(`${from}/${uuid}`);
    this.onMoved(uuid, from, to);
    await this.update(to as DemoHost, (ds) => [...ds.filter((x) => x.uuid !== uuid), { ...d, state: 'running' }]);
  }

  private async update(host: DemoHost, f: (ds: TestDomainSpec[]) => TestDomainSpec[]): Promise<void> {
    this.domains.set(host, f(this.domains.get(host) ?? []));
    this.write(host);
    await this.drivers.get(host)?.close(); // the next call reconnects and reads the new file
  }

  private write(host: DemoHost): void {
    const file = this.file(host);
    writeFileSync(
      `${file}.tmp`,
      testDriverXml(this.domains.get(host) ?? [], {
        cpus: 16,
        memoryKiB: 64 * 1024 * 1024,
        subnet: `10.0.${DEMO_HOSTS.indexOf(host) + 1}`,
      }),
    );
    renameSync(`${file}.tmp`, file);
  }
}

function spec(v: DemoVm): TestDomainSpec {
  return { uuid: v.uuid, name: v.name, state: v.state, macs: v.macs, memoryKiB: v.memoryKiB, vcpus: v.vcpus, os: v.os };
}

/** the address the demo's DHCP gives a MAC: the same on every host, so a VM keeps its address when it moves */
export function demoIp(mac: string): string {
  return `10.0.0.${parseInt(mac.split(':').pop() ?? '0', 16) || 1}`;
}
