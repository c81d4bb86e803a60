import type { DomainInfo, Finding, HostStatus, NodeInfo, PreCheck, Registration, VmRow } from '../model/types.js';

// Pre-migration checks (what Proxmox / Nova refuse on), as a pure function of facts gathered by the manager.
// Every check is listed with its detail, passed or not, so a refusal says exactly why.

export type Transport = 'tls' | 'tunnelled' | 'direct';

export interface PrecheckFacts {
  row: VmRow;
  registration?: Registration;
  criticalFindings: readonly Finding[];
  /** hosts whose last scan shows the VM active */
  runningOn: string[];
  destination: string;
  destinationConfigured: boolean;
  destinationStatus?: HostStatus;
  sourceNode?: NodeInfo;
  destinationNode?: NodeInfo;
  /** the domain as the source reports it now */
  domain?: DomainInfo;
  domainError?: string;
  transport: Transport;
  /** destination URI the source will use */
  destUri?: string;
  /** the pre-copy model runs this job (its hosts cannot migrate): no data stream exists, test-driver hosts report no free memory */
  simulated?: boolean;
}

const ENCRYPTED_SCHEMES = /^[a-z0-9]+\+(ssh|libssh|libssh2|tls):\/\//i;

/** Is the migration data stream encrypted with this transport and destination URI? */
export function isEncrypted(transport: Transport, destUri: string | undefined): boolean {
  if (transport === 'tls') return true;
  if (transport === 'direct') return false;
  // tunnelled: the stream rides the libvirt connection to destUri
  return !!destUri && ENCRYPTED_SCHEMES.test(destUri);
}

export function runPrechecks(f: PrecheckFacts): PreCheck[] {
  const checks: PreCheck[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  const state = f.registration?.state ?? f.row.registration;
  const approved = state === 'approved';
  add('vm-approved', approved, approved ? 'registration approved' : `registration is ${state ?? 'missing'} (approve it first)`);

  // Only evidence that a key holder or a scan produced may block a migration: a datagram nobody authenticated
  // (a bad signature, an unknown key) costs an outsider nothing and must not hold an approved VM in place.
  const blocking = f.criticalFindings.filter(blocksMigration);
  add(
    'no-critical-findings',
    blocking.length === 0,
    blocking.length === 0 ? 'no open critical finding' : `open critical finding(s): ${blocking.map((x) => `${x.id} ${x.code}`).join(', ')}`,
  );

  const source = f.runningOn.length === 1 ? f.runningOn[0] : undefined;
  add(
    'source',
    !!source,
    source
      ? `running on ${source}`
      : f.runningOn.length === 0
        ? 'not running on any scanned host'
        : `running on several hosts (${f.runningOn.join(', ')}): resolve that first`,
  );

  const st = f.destinationStatus;
  let destOk = true;
  let destDetail = `${f.destination} is up`;
  if (!f.destinationConfigured) [destOk, destDetail] = [false, `${f.destination} is not a configured host`];
  else if (source && f.destination === source) [destOk, destDetail] = [false, `${f.destination} is the source`];
  else if (!st || st.unknown) [destOk, destDetail] = [false, `${f.destination} has not been scanned yet`];
  else if (!st.up) [destOk, destDetail] = [false, `${f.destination} is down${st.lastError ? `: ${st.lastError}` : ''}`];
  add('destination', destOk, destDetail);

  checks.push(memoryCheck(f, source));

  const vmArch = f.domain?.arch;
  const srcArch = f.sourceNode?.arch;
  const dstArch = f.destinationNode?.arch;
  if (!dstArch) add('cpu-arch', false, `architecture of ${f.destination} unknown`);
  else {
    const want = vmArch ?? srcArch;
    const ok = !want || normArch(want) === normArch(dstArch);
    const [srcModel, dstModel] = [f.sourceNode?.cpuModel, f.destinationNode?.cpuModel];
    const model = srcModel && dstModel && srcModel !== dstModel ? ` (CPU models differ: ${srcModel} → ${dstModel})` : '';
    add('cpu-arch', ok, ok ? `${want ?? 'VM'} on ${dstArch}${model}` : `VM is ${want}, ${f.destination} is ${dstArch}`);
  }

  if (f.domain) {
    const local = f.domain.localOnlyDevices ?? [];
    add('local-devices', local.length === 0, local.length === 0 ? 'no local-only devices' : `local-only devices: ${local.join(', ')}`);
  } else {
    add('local-devices', false, `cannot read the domain on the source${f.domainError ? `: ${f.domainError}` : ''}`);
  }

  checks.push(transportCheck(f));
  return checks;
}

function memoryCheck(f: PrecheckFacts, source: string | undefined): PreCheck {
  const vmKiB = f.domain?.memoryKiB ?? f.row.instances.find((i) => i.host === source)?.memoryKiB ?? f.row.instances[0]?.memoryKiB;
  // the same figure the Hosts view shows, with the same note when it is not the hypervisor's own
  const free = f.destinationNode?.freeMemoryKiB;
  const freeNote = f.destinationNode?.freeMemoryNote ? ` (${f.destinationNode.freeMemoryNote})` : '';
  if (vmKiB === undefined) return { name: 'memory', ok: false, detail: 'VM memory size unknown' };
  if (free === undefined) return { name: 'memory', ok: false, detail: `free memory of ${f.destination} unknown` };
  return { name: 'memory', ok: free >= vmKiB, detail: `${f.destination} has ${mib(free)} MiB free${freeNote}, VM needs ${mib(vmKiB)} MiB` };
}

function transportCheck(f: PrecheckFacts): PreCheck {
  const check = (ok: boolean, detail: string): PreCheck => ({ name: 'transport', ok, detail });
  if (f.simulated) return check(true, 'simulated migration: no data stream leaves this machine');
  if (isEncrypted(f.transport, f.destUri)) {
    return check(true, f.transport === 'tls' ? 'TLS migration stream' : `tunnelled through ${scheme(f.destUri)}`);
  }
  if (f.transport === 'direct') return check(true, 'plaintext migration stream, allowed by migration.transport = "direct"');
  const fix = 'use a qemu+ssh/qemu+tls migrationUri, or set migration.transport = "direct"';
  return check(false, `tunnelled through plaintext ${scheme(f.destUri)}: ${fix}`);
}

/** an open critical finding that rests on authenticated or scan evidence (one without evidenceSource: scan) */
export function blocksMigration(f: Finding): boolean {
  return f.evidenceSource !== 'unauthenticated';
}

function scheme(uri?: string): string {
  return uri ? uri.split('://')[0] : 'unknown URI';
}
function normArch(a: string): string {
  const x = a.toLowerCase();
  return x === 'amd64' ? 'x86_64' : x === 'arm64' ? 'aarch64' : x;
}
function mib(kib: number): string {
  return String(Math.round(kib / 1024));
}
