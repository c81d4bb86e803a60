// The Billboard view's details pane for one VM: its copies, its beacons and boot ids, its open findings, and for a
// VM on two hosts which copy is the registered one and what to do about the other.
import type { Finding, VmRow } from '../model/types.js';
import { age, bytes } from './format.js';
import type { TuiData } from './store.js';

/**
 * For a VM on two hosts: each boot id seen, where its beacon came from, and the host whose copy has that address
 * (when a scan saw the address on exactly one host); two boot ids mean two running copies, or a reboot.
 */
function bootsSeen(r: VmRow, now: number): string[] {
  const boots = [r.lastBeacon, r.previousBoot].filter((b) => b !== undefined);
  if (!boots.length) return ['  boot ids seen: none (no beacon from either copy)'];
  return [
    '  boot ids seen:',
    ...boots.map((b) => {
      const hosts = r.instances.filter((i) => i.ips.includes(b.from)).map((i) => i.host);
      const on = hosts.length === 1 ? ` (the copy on ${hosts[0]})` : '';
      return `    ${b.bootId} from ${b.from}${on}, ${age(now - b.at)} ago`;
    }),
  ];
}

/** a VM in full; for a VM on two hosts: which copy is the registered one, and what to do about the other */
export function vmDetail(r: VmRow, d: TuiData): string[] {
  const home = r.homeHost;
  const twin = r.instances.length > 1;
  const mark = (h: string) => (!twin || !home ? '' : h === home ? ' [HOME: the registered copy]' : ' [COPY: not the registered one]');
  const copies = r.instances.filter((i) => i.host !== home).map((i) => i.host);
  const open = d.snapshot.findings.filter((f) => f.vm === r.uuid && f.state === 'open');
  return [
    `${r.name}  ${r.uuid}  status ${r.status}  registration ${r.registration ?? 'none'}${home ? `  home ${home}` : ''}`,
    ...(r.instances.length
      ? r.instances.map(
          (i) =>
            `  on ${i.host}${mark(i.host)}: ${i.state}, ${i.vcpus} vcpu, ${bytes(i.memoryKiB * 1024)}, ` +
            `macs ${i.macs.join(' ')}, def ${i.definitionHash.slice(0, 12)}` +
            (i.savedDefinitionHash ? ` (next start: ${i.savedDefinitionHash.slice(0, 12)})` : ''),
        )
      : ['  not running on any host']),
    r.lastBeacon
      ? `  beacon ${age(d.now - r.lastBeacon.at)} ago from ${r.lastBeacon.from}, seq ${r.lastBeacon.seq}, ` +
        `boot ${r.lastBeacon.bootId}, key ${r.lastBeacon.keyFp}`
      : r.agentless
        ? '  agentless: known to scans only'
        : '  no beacon yet',
    ...(twin ? bootsSeen(r, d.now) : []),
    ...open.map((f) => `  ${f.id} ${f.code} (${f.severity}): ${evidenceRest(f)}`),
    ...(twin && home && copies.length
      ? [`  next: stop the copy on ${copies.join(', ')} (X, pick ${copies[0]}), or isolate it (I) to keep it for a look`]
      : twin
        ? ['  next: find which copy is real (show it on each host), then stop the other (X)']
        : []),
  ];
}

/** the evidence without what the row already shows (the VM's name and UUID it starts with) */
export function evidenceRest(f: Finding): string {
  const lead = `${f.vmName ?? ''} (${f.vm})`;
  if (!f.vm || !f.evidence.startsWith(lead)) return f.evidence;
  return f.evidence.slice(lead.length).replace(/^:?\s+/, '');
}
