import { isIP } from 'node:net';
import { canonicalMac } from '../../model/fingerprint.js';
import { safeText } from '../../model/text.js';
import type { DomainState, JobStats, NodeInfo } from '../../model/types.js';

// Pure parsers for virsh's text output (LC_ALL=C). Transport lives elsewhere. What they keep of the host's text
// leaves through safeText (escapes shown); addresses are validated and canonicalized, and invalid ones dropped.

/** `virsh domstate` text → DomainState. */
export function parseDomState(s: string): DomainState {
  const t = s.trim().split('\n')[0]?.trim().toLowerCase() ?? '';
  switch (t.replace(/\s*\(.*\)$/, '')) {
    case 'running':
      return 'running';
    case 'idle':
    case 'blocked':
      return 'blocked';
    case 'paused':
      return 'paused';
    case 'in shutdown':
      return 'shutdown';
    case 'shut off':
      return 'shutoff';
    case 'crashed':
      return 'crashed';
    case 'pmsuspended':
      return 'pmsuspended';
    default:
      return 'unknown';
  }
}

/** libvirt's virDomainState number → DomainState. */
export function domainStateFromNumber(n: number): DomainState {
  return (['unknown', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed', 'pmsuspended'] as const)[n] ?? 'unknown';
}

function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    m.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return m;
}

/** `virsh nodeinfo` text (+ free memory from freecell) → NodeInfo; throws on output without CPU or memory lines. */
export function parseNodeInfo(text: string, freeMemoryKiB = 0): NodeInfo {
  const f = fields(text);
  const cpus = Number(f.get('cpu(s)'));
  const mem = parseSize(f.get('memory size') ?? '');
  if (!Number.isFinite(cpus) || mem === undefined) throw new Error('unexpected nodeinfo output');
  const out: NodeInfo = { cpus, memoryKiB: Math.round(mem / 1024), freeMemoryKiB };
  const model = f.get('cpu model');
  if (model) {
    out.cpuModel = safeText(model, 64);
    out.arch = out.cpuModel;
  }
  return out;
}

/** `virsh freecell --all` (or plain freecell) → free KiB from the Total line, else the single-cell line. */
export function parseFreecell(text: string): number | undefined {
  const total = /Total:\s*([\d.]+\s*\S+)/.exec(text);
  const single = total ? undefined : /:\s*([\d.]+\s*\S+)\s*$/m.exec(text);
  const m = total ?? single;
  if (!m) return undefined;
  const b = parseSize(m[1]);
  return b === undefined ? undefined : Math.round(b / 1024);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  bytes: 1,
  byte: 1,
  kib: 1024,
  k: 1024,
  kb: 1024,
  mib: 1024 ** 2,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  gib: 1024 ** 3,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  tib: 1024 ** 4,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  pib: 1024 ** 5,
  eib: 1024 ** 6,
};

/** "123.456 MiB" / "8388608 KiB" / "4096 bytes" → bytes. */
export function parseSize(s: string): number | undefined {
  const m = /^\s*([\d.]+)\s*([A-Za-z]*)\s*$/.exec(s);
  if (!m) return undefined;
  const v = Number(m[1]);
  const mult = SIZE_UNITS[(m[2] || 'b').toLowerCase()];
  if (!Number.isFinite(v) || mult === undefined) return undefined;
  return Math.round(v * mult);
}

/** "32.000 MiB/s" → bytes/s. */
export function parseRate(s: string): number | undefined {
  const m = /^\s*([\d.]+\s*[A-Za-z]*)\/s\s*$/.exec(s);
  return m ? parseSize(m[1]) : undefined;
}

/** "1234         ms" → 1234 (number before an optional unit). */
function leadingNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^\s*(-?[\d.]+)/.exec(s);
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

/** `virsh domjobinfo [--completed]` text → JobStats, or null when no job ("Job type: None"). */
export function parseDomJobInfo(text: string, at = Date.now()): JobStats | null {
  const f = fields(text);
  const type = f.get('job type');
  if (type === undefined) throw new Error('unexpected domjobinfo output (no "Job type" line)');
  if (type.toLowerCase() === 'none') return null;
  const st: JobStats = { at, type: safeText(type.toLowerCase(), 64), source: 'libvirt' };
  const op = f.get('operation');
  if (op) st.operation = safeText(op, 64);
  const set = (k: keyof JobStats, v: number | undefined) => {
    if (v !== undefined) (st as unknown as Record<string, unknown>)[k] = v;
  };
  set('elapsedMs', leadingNumber(f.get('time elapsed')));
  set('dataProcessedBytes', parseSize(f.get('data processed') ?? ''));
  set('dataRemainingBytes', parseSize(f.get('data remaining') ?? ''));
  set('dataTotalBytes', parseSize(f.get('data total') ?? ''));
  set('memoryProcessedBytes', parseSize(f.get('memory processed') ?? ''));
  set('memoryRemainingBytes', parseSize(f.get('memory remaining') ?? ''));
  set('memoryTotalBytes', parseSize(f.get('memory total') ?? ''));
  set('bandwidthBps', parseRate(f.get('memory bandwidth') ?? f.get('file bandwidth') ?? ''));
  const pageSize = leadingNumber(f.get('page size'));
  set('pageSize', pageSize);
  const dirty = f.get('dirty rate');
  if (dirty !== undefined) {
    const n = leadingNumber(dirty);
    // virsh prints pages/s; convert with the page size (4 KiB when libvirt does not say)
    if (n !== undefined) st.dirtyRateBps = /pages/i.test(dirty) ? n * (pageSize ?? 4096) : (parseRate(dirty) ?? n);
  }
  set('iteration', leadingNumber(f.get('iteration')));
  set('expectedDowntimeMs', leadingNumber(f.get('expected downtime')));
  set('totalDowntimeMs', leadingNumber(f.get('total downtime')));
  return st;
}

/** An IPv4 or IPv6 address in canonical form (IPv6 lower-case and compressed), or undefined when it is not one. */
export function canonicalIp(s: string): string | undefined {
  const v = isIP(s);
  if (v === 4) return s;
  if (v !== 6) return undefined;
  const zone = s.indexOf('%');
  if (zone >= 0) {
    // a zone id (fe80::1%vnet0): the URL parser refuses it, and net.isIP lets anything through after the %
    return /^[A-Za-z0-9_.-]{1,32}$/.test(s.slice(zone + 1)) ? s.toLowerCase() : undefined;
  }
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return s.toLowerCase();
  }
}

/** `virsh domifaddr DOM` table → MAC → IPs (prefix length dropped). */
export function parseDomIfAddr(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let lastMac: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('Name') || /^-+$/.test(line)) continue;
    const parts = line.split(/\s+/);
    if (parts.length < 4) continue;
    const [, macField, proto, addr] = parts;
    if (!/^ipv[46]$/.test(proto)) continue;
    const mac = macField === '-' ? lastMac : canonicalMac(macField);
    if (!mac) continue;
    lastMac = mac;
    const ip = canonicalIp(addr.replace(/\/\d+$/, ''));
    if (!ip) continue;
    const list = out.get(mac) ?? [];
    if (!list.includes(ip)) list.push(ip);
    out.set(mac, list);
  }
  return out;
}

/** `virsh list --uuid` → lower-case UUIDs. */
export function parseUuidList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().toLowerCase())
    .filter((l) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(l));
}
