import type { DomainState } from '../model/types.js';

// The demo lab's hosts as node XML for libvirt's in-memory hypervisor (its "test" driver, `test:///abs/path.xml`):
// one host with the given domains, a "default" NAT network (so domifaddr answers for running domains) and a fixed
// CPU/memory size. Domain state is set with that driver's own <test:runstate> element.

export interface TestDomainSpec {
  uuid: string;
  name: string;
  state: DomainState;
  macs: string[];
  memoryKiB: number;
  vcpus: number;
  /** libosinfo short id, e.g. "debian12" (stored as libosinfo metadata) */
  os?: string;
}

export interface TestHostSpec {
  cpus?: number;
  memoryKiB?: number;
  /** first three octets of the host's "default" network (the test driver hands out its addresses); default 192.168.122 */
  subnet?: string;
}

const RUNSTATE: Record<DomainState, number> = {
  unknown: 0,
  running: 1,
  blocked: 2,
  paused: 3,
  shutdown: 4,
  shutoff: 5,
  crashed: 6,
  pmsuspended: 7,
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function domainXml(d: TestDomainSpec): string {
  const meta = d.os
    ? `\n    <metadata>\n      <libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>\n        <libosinfo:os id='http://billboard.invalid/${esc(d.os)}'/>\n      </libosinfo:libosinfo>\n    </metadata>`
    : '';
  const nics = d.macs
    .map(
      (m) =>
        `\n      <interface type='network'>\n        <mac address='${esc(m)}'/>\n        <source network='default'/>\n      </interface>`,
    )
    .join('');
  return `  <domain type='test'>
    <name>${esc(d.name)}</name>
    <uuid>${esc(d.uuid)}</uuid>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>${RUNSTATE[d.state] ?? 1}</test:runstate>${meta}
    <memory unit='KiB'>${Math.round(d.memoryKiB)}</memory>
    <vcpu>${Math.max(1, Math.round(d.vcpus))}</vcpu>
    <os>
      <type arch='x86_64'>hvm</type>
    </os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/var/lib/libvirt/images/${esc(d.name)}.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>${nics}
    </devices>
  </domain>`;
}

export function testDriverXml(domains: TestDomainSpec[], host: TestHostSpec = {}): string {
  const cpus = host.cpus ?? 8;
  const mem = host.memoryKiB ?? 32 * 1024 * 1024;
  const net = host.subnet ?? '192.168.122';
  return `<node>
  <cpu>
    <mhz>2000</mhz>
    <model>x86_64</model>
    <nodes>1</nodes>
    <sockets>1</sockets>
    <cores>${cpus}</cores>
    <threads>1</threads>
    <active>${cpus}</active>
  </cpu>
  <memory>${mem}</memory>
  <network>
    <name>default</name>
    <uuid>00000000-0000-4000-8000-00000000beef</uuid>
    <bridge name='virbr0'/>
    <forward/>
    <ip address='${net}.1' netmask='255.255.255.0'>
      <dhcp>
        <range start='${net}.2' end='${net}.254'/>
      </dhcp>
    </ip>
  </network>
${domains.map(domainXml).join('\n')}
</node>
`;
}
