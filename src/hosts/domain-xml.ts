import { createHash } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { canonicalMac, canonicalUuid } from '../model/fingerprint.js';
import { safeText } from '../model/text.js';
import type { DomainInfo, DomainInterface, DomainState } from '../model/types.js';

// Pure: libvirt domain XML (dumpxml / virDomainGetXMLDesc) → DomainInfo, and the definition hash.
// No transport here; both drivers feed text in. Every string taken from the XML is host data that ends up on an
// operator's terminal: it leaves here through safeText (escapes shown, length bounded); UUIDs and MACs are
// canonicalized, and an interface without a valid MAC is left out.

type Node = Record<string, unknown>;

const ARRAY_TAGS = new Set(['interface', 'disk', 'hostdev', 'filesystem', 'controller', 'channel', 'serial', 'console', 'graphics']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (tagName) => ARRAY_TAGS.has(tagName),
});

export class DomainXmlError extends Error {}

/** Parse + validate; throws DomainXmlError with one line on malformed XML. */
export function parseXmlTree(xml: string): Node {
  const v = XMLValidator.validate(xml);
  if (v !== true) {
    throw new DomainXmlError(`malformed domain XML (line ${v.err.line}: ${v.err.msg})`);
  }
  const tree = parser.parse(xml) as Node;
  const dom = tree.domain;
  if (!dom || typeof dom !== 'object') throw new DomainXmlError('malformed domain XML (no <domain> element)');
  return dom as Node;
}

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  bytes: 1,
  kb: 1000,
  k: 1024,
  kib: 1024,
  mb: 1e6,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1e9,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1e12,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

function text(n: unknown): string | undefined {
  if (n === undefined || n === null) return undefined;
  if (typeof n === 'string' || typeof n === 'number') return String(n);
  if (typeof n === 'object') {
    const t = (n as Node)['#text'];
    return t === undefined ? undefined : String(t);
  }
  return undefined;
}

function attr(n: unknown, name: string): string | undefined {
  if (!n || typeof n !== 'object') return undefined;
  const v = (n as Node)['@' + name];
  return v === undefined ? undefined : String(v);
}

function arr(n: unknown): Node[] {
  if (n === undefined || n === null) return [];
  return (Array.isArray(n) ? n : [n]).filter((x): x is Node => typeof x === 'object' && x !== null);
}

function memoryKiB(n: unknown): number {
  const v = Number(text(n));
  if (!Number.isFinite(v)) return 0;
  const unit = (attr(n, 'unit') ?? 'KiB').toLowerCase();
  return Math.round((v * (UNIT_BYTES[unit] ?? 1024)) / 1024);
}

/** libosinfo id "http://debian.org/debian/12" → "debian12" (the libosinfo short-id style). */
export function osFromLibosinfoId(id: string): string {
  const m = /^[a-z]+:\/\/[^/]+\/(.*)$/i.exec(id.trim());
  const path = m ? m[1] : id.trim();
  return path.split('/').filter(Boolean).join('') || id;
}

function osOf(dom: Node): { os?: string; arch?: string } {
  const osNode = dom.os as Node | undefined;
  const type = osNode?.type;
  const arch = attr(type, 'arch');
  const meta = dom.metadata as Node | undefined;
  const lo = meta?.libosinfo as Node | undefined;
  const id = attr(lo?.os, 'id');
  // <os><type> (hvm, xen, exe) is the guest ABI, not an operating system: without libosinfo metadata the OS is unknown
  return { os: id ? osFromLibosinfoId(id) : undefined, arch };
}

/** Disk paths: file, block device, network name, or pool/volume. */
function disksOf(devices: Node): string[] {
  const out: string[] = [];
  for (const d of arr(devices.disk)) {
    const s = d.source;
    const p =
      attr(s, 'file') ?? attr(s, 'dev') ?? attr(s, 'name') ?? (attr(s, 'volume') ? `${attr(s, 'pool')}/${attr(s, 'volume')}` : undefined);
    if (p) out.push(safeText(p));
  }
  return out;
}

/** Devices that tie the domain to this host (passthrough). */
function localOnlyOf(devices: Node): string[] {
  const out: string[] = [];
  for (const h of arr(devices.hostdev)) {
    const a = (h.source as Node | undefined)?.address;
    const where =
      a && typeof a === 'object'
        ? Object.entries(a as Node)
            .filter(([k]) => k.startsWith('@'))
            .map(([k, v]) => `${k.slice(1)}=${String(v)}`)
            .join(',')
        : '';
    out.push(safeText(`hostdev ${attr(h, 'type') ?? '?'}${where ? ' ' + where : ''}`));
  }
  for (const f of arr(devices.filesystem)) {
    const dir = attr(f.source, 'dir');
    out.push(safeText(`filesystem ${dir ?? attr(f, 'type') ?? '?'}`));
  }
  return out;
}

function interfacesOf(devices: Node): DomainInterface[] {
  const out: DomainInterface[] = [];
  for (const i of arr(devices.interface)) {
    const mac = canonicalMac(attr(i.mac, 'address') ?? '');
    if (!mac) continue;
    const link = attr(i.link, 'state');
    const target = attr(i.target, 'dev');
    const type = attr(i, 'type');
    out.push({
      mac,
      target: target === undefined ? undefined : safeText(target, 64),
      type: type === undefined ? undefined : safeText(type, 64),
      link: link === 'down' ? 'down' : link === 'up' ? 'up' : undefined,
      ips: [],
    });
  }
  return out;
}

export interface ParseDomainOptions {
  state: DomainState;
  /** MAC → IPs, from domifaddr */
  ips?: Map<string, string[]>;
  persistent?: boolean;
}

/** DomainInfo from dumpxml output; throws DomainXmlError on malformed or incomplete XML. */
export function parseDomainXml(xml: string, o: ParseDomainOptions): DomainInfo {
  const dom = parseXmlTree(xml);
  const uuid = canonicalUuid(text(dom.uuid) ?? '');
  const rawName = text(dom.name);
  const name = rawName ? safeText(rawName) : undefined;
  if (!uuid) throw new DomainXmlError('domain XML without a valid <uuid>');
  if (!name) throw new DomainXmlError(`domain XML for ${uuid} without a <name>`);
  const devices = (dom.devices as Node | undefined) ?? {};
  const interfaces = interfacesOf(devices);
  const allIps: string[] = [];
  for (const i of interfaces) {
    i.ips = o.ips?.get(i.mac) ?? [];
    for (const ip of i.ips) if (!allIps.includes(ip)) allIps.push(ip);
  }
  const vcpuNode = dom.vcpu;
  const vcpus = Number(attr(vcpuNode, 'current') ?? text(vcpuNode) ?? 0) || 0;
  const { os, arch } = osOf(dom);
  const localOnly = localOnlyOf(devices);
  const info: DomainInfo = {
    uuid,
    name,
    state: o.state,
    vcpus,
    memoryKiB: memoryKiB(dom.memory),
    macs: interfaces.map((i) => i.mac),
    interfaces,
    ips: allIps,
    disks: disksOf(devices),
    definitionHash: hashTree(dom),
    legacyDefinitionHash: hashTree(dom, 1),
  };
  // the second form differs from the third only on <graphics> and <channel>: no extra hash for a domain without them
  const previous = devices.graphics === undefined && devices.channel === undefined ? undefined : hashTree(dom, 2);
  if (previous !== undefined && previous !== info.definitionHash) info.previousDefinitionHash = previous;
  if (os) info.os = safeText(os);
  if (arch) info.arch = safeText(arch, 64);
  if (localOnly.length) info.localOnlyDevices = localOnly;
  if (o.persistent !== undefined) info.persistent = o.persistent;
  return info;
}

// ─── definition hash ──────────────────────────────────────────────────────────────────────────────
// The hash is of a normal form that is the same for the live XML (dumpxml of a running domain) and the inactive
// XML (dumpxml --inactive, or a shut-off domain) of one definition, before and after a restart or a migration,
// isolated or not: what libvirt fills in or changes when it starts a domain is left out. What an edit changes
// (memory, vCPUs, disks, NICs, passthrough devices, boot, the CPU topology) stays in.

/** elements that only the running domain has, or that change with run state */
const VOLATILE_ELEMENTS = new Set(['alias', 'seclabel', 'currentMemory', 'resource', 'backingStore']);
const VOLATILE_ATTRS_ANYWHERE = new Set(['@port', '@autoport', '@tlsPort', '@websocket', '@tty', '@portid', '@index', '@primary']);
/**
 * Of <cpu>, only what the definition fixes: libvirt expands the rest at start (check='none' becomes 'full' with the
 * features QEMU required; host-model becomes a custom model of this host's CPU).
 */
const CPU_KEPT = new Set(['topology', 'numa', 'cache']);

/** libvirt's listen address for VNC and SPICE where a definition names none (qemu.conf's vnc_listen, spice_listen) */
const DEFAULT_GRAPHICS_LISTEN = '127.0.0.1';

/**
 * What libvirt fills in on <graphics> at start, left out from the third form on: the address of a network listen,
 * the path of a socket one, and the same copied onto <graphics> itself. (A listen that names no address gets the
 * host's default in strip, so one that names another address, 0.0.0.0 say, still counts.)
 */
function graphicsFilledIn(o: Node, key: string, k: string): boolean {
  if (key === 'graphics') return k === '@listen' || k === '@socket';
  if (key !== 'listen') return false;
  return (o['@type'] === 'network' && k === '@address') || (o['@type'] === 'socket' && k === '@socket');
}

/**
 * @param form 3 (current) leaves out what libvirt expands at start; 2 did the same but for <graphics> listens and a
 * unix channel's generated <source>, and 1 is the first form: both are kept to match bindings made under them
 */
function strip(n: unknown, parentTag: string, key: string, form: HashForm = 3): unknown {
  if (Array.isArray(n)) return n.map((x) => strip(x, parentTag, key, form));
  if (!n || typeof n !== 'object') return n;
  const o = n as Node;
  const out: Node = {};
  for (const [k, v] of Object.entries(o)) {
    if (VOLATILE_ELEMENTS.has(k)) continue;
    if (VOLATILE_ATTRS_ANYWHERE.has(k) && (form >= 2 || k !== '@primary')) continue;
    if (form >= 3 && graphicsFilledIn(o, key, k)) continue;
    if (key === 'domain' && k === '@id') continue; // <domain id='N'> only while running
    if (form >= 2 && key === 'cpu' && !CPU_KEPT.has(k)) continue;
    if (form >= 2 && parentTag === 'devices' && k === 'address') continue; // guest bus slots, some assigned at start
    if ((key === 'domain' && k === 'uuid') || (key === 'mac' && k === '@address')) {
      out[k] = typeof v === 'string' ? v.toLowerCase() : v; // same identity whatever the case
      continue;
    }
    if (key === 'interface' && (k === 'target' || k === 'link')) continue; // tap names; link state is enforcement
    if (key === 'interface' && k === 'source' && v && typeof v === 'object') {
      const { ['@bridge']: _b, ...rest } = v as Node; // filled in at start for type='network'
      out[k] = o['@type'] === 'network' ? strip(rest, key, k, form) : strip(v, key, k, form);
      continue;
    }
    if ((key === 'serial' || key === 'console' || key === 'channel') && o['@type'] === 'pty' && k === 'source') continue;
    if (form >= 2 && key === 'channel' && o['@type'] === 'unix' && k === 'source' && v && typeof v === 'object') {
      const { ['@path']: _p, ...rest } = v as Node; // generated at start when the definition names none
      // so is the whole <source mode='bind' path=…/> of a channel defined without one (the guest agent's, say)
      if (form >= 3 && Object.keys(rest).length === 1 && rest['@mode'] === 'bind') continue;
      out[k] = strip(rest, key, k, form);
      continue;
    }
    if (key === 'channel' && k === 'target' && v && typeof v === 'object') {
      const { ['@state']: _s, ...rest } = v as Node; // connected/disconnected agent
      out[k] = strip(rest, key, k, form);
      continue;
    }
    const kept = strip(v, key, k, form);
    if (form >= 2 && k === 'cpu' && kept && typeof kept === 'object' && Object.keys(kept).length === 0) continue; // nothing fixed
    out[k] = kept;
  }
  if (form >= 3 && key === 'listen' && parentTag === 'graphics' && o['@type'] === 'address' && out['@address'] === undefined) {
    out['@address'] = DEFAULT_GRAPHICS_LISTEN;
  }
  return out;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as Node).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson((v as Node)[k])).join(',') + '}';
  }
  return JSON.stringify(v ?? null);
}

type HashForm = 1 | 2 | 3;

function hashTree(dom: Node, form: HashForm = 3): string {
  return createHash('sha256')
    .update(canonicalJson(strip(dom, '', 'domain', form)))
    .digest('hex');
}

/** SHA-256 hex of the normalized domain XML (volatile parts stripped). */
export function definitionHash(xml: string): string {
  return hashTree(parseXmlTree(xml));
}

/** a domain that runs a definition apart from the one saved for its next start (and holds addresses): the one
 *  reported is the running one */
export function isRunningOrPaused(state: DomainState): boolean {
  return state === 'running' || state === 'paused';
}

/**
 * The domain with its saved definition's hash, when it runs and `inactiveXml` (dumpxml --inactive) differs from what
 * it runs: libvirt applies an edit of a running domain at its next start, and until then only the inactive XML shows
 * it. The normal form is the same for both XMLs of one definition, so an unchanged one adds nothing. One that could
 * not be read (undefined, empty, or not parsing) marks the domain savedDefinitionUnread: what the scanner knew stands.
 */
export function withSavedDefinition(info: DomainInfo, inactiveXml: string | undefined): DomainInfo {
  if (!isRunningOrPaused(info.state)) return info;
  let saved: string;
  try {
    if (!inactiveXml?.trim()) throw new DomainXmlError('no saved definition');
    saved = definitionHash(inactiveXml.trim());
  } catch {
    return { ...info, savedDefinitionUnread: true };
  }
  return saved === info.definitionHash ? info : { ...info, savedDefinitionHash: saved };
}
