import type { HostScan } from '../../model/host-driver.js';
import type { DomainInfo, DomainState, NodeInfo } from '../../model/types.js';
import { DomainXmlError, isRunningOrPaused, parseDomainXml, withSavedDefinition } from '../domain-xml.js';
import { shQuote } from './commands.js';
import { markPrefix } from './framing.js';
import { parseDomIfAddr, parseDomState, parseFreecell, parseNodeInfo } from './text.js';

// One round trip per scan: a small sh script run on the host prints node info, then for every domain
// its state, XML and interface addresses, between marker lines, and an end marker (so a cut-off
// stream is detected as truncated, not taken for a short inventory). Pure: builds text, parses text.
//
// The markers carry a nonce that is fresh for every scan (`@@BB<nonce>:dom:<uuid>`, framing.ts), so what a
// domain's XML holds (a <description>, a name) cannot end a section, start one or forge the end of the scan.
/** domains per virsh process: keeps each argv well under the kernel's per-argument limit */
const CHUNK = 100;

export function inventoryScript(virsh: string, uri: string, nonce: string): string {
  const V = shQuote(virsh);
  const U = shQuote(uri);
  const MARK = markPrefix(nonce);
  return [
    'LC_ALL=C; export LC_ALL',
    `L=$(${V} -q -c ${U} list --all --uuid) || exit 3`,
    `C="echo ${MARK}node ; nodeinfo ; echo ${MARK}free ; freecell --all"`,
    'n=0',
    'for u in $L; do',
    `  C="$C ; echo ${MARK}dom:$u ; domstate $u ; echo ${MARK}xml:$u ; dumpxml $u ; echo ${MARK}if:$u ; domifaddr $u"`,
    '  n=$((n+1))',
    `  if [ $n -ge ${CHUNK} ]; then ${V} -q -c ${U} "$C ; echo ${MARK}chunk"; C="echo ${MARK}chunk"; n=0; fi`,
    'done',
    `${V} -q -c ${U} "$C ; echo ${MARK}chunk"`,
    `echo ${MARK}end`,
  ].join('\n');
}

export interface RawDomain {
  uuid: string;
  state: string;
  xml: string;
  ifaddr: string;
  /** its saved definition (dumpxml --inactive) where the scan asked for one; '' when that failed */
  inactiveXml?: string;
}

export class TruncatedOutputError extends Error {}

/**
 * Split the script's stdout (run with `nonce`) into sections; throws TruncatedOutputError without the end marker.
 * Markers are found anywhere, not only at line starts: virsh does not end every command's output
 * with a newline (a failed command prints nothing), so the next marker can follow on the same line.
 */
export function splitBatch(stdout: string, nonce: string): { node: string; free: string; domains: RawDomain[] } {
  const re = new RegExp(`${markPrefix(nonce)}(end|chunk|node|free|(?:dom|xml|if):[0-9a-fA-F-]{36})`, 'g');
  const sections = new Map<string, string>();
  const order: string[] = [];
  let key: string | undefined;
  let from = 0;
  let ended = false;
  for (let m = re.exec(stdout); m; m = re.exec(stdout)) {
    if (key) sections.set(key, stdout.slice(from, m.index));
    key = m[1] === 'chunk' || m[1] === 'end' ? undefined : m[1];
    if (key) order.push(key);
    from = m.index + m[0].length;
    if (m[1] === 'end') {
      ended = true;
      break;
    }
  }
  if (!ended) throw new TruncatedOutputError(`truncated scan output (${stdout.length} bytes, no end marker)`);
  const get = (k: string) => (sections.get(k) ?? '').replace(/^\n/, '');
  const domains: RawDomain[] = [];
  for (const k of order) {
    if (!k.startsWith('dom:')) continue;
    const uuid = k.slice(4).toLowerCase();
    domains.push({ uuid, state: get(k), xml: get(`xml:${k.slice(4)}`).trim(), ifaddr: get(`if:${k.slice(4)}`) });
  }
  return { node: get('node'), free: get('free'), domains };
}

/**
 * Parsed domains by UUID with the XML text they came from: a warm scan re-parses only domains whose
 * XML changed (validating and parsing XML is most of a scan's CPU time on the console side).
 */
export type DomainParseCache = Map<string, CacheEntry>;
interface CacheEntry {
  xml: string;
  info: DomainInfo;
  /** the last saved definition read beside it, and what it says (its hash where it differs, or unread) */
  saved?: { xml: string; info: Pick<DomainInfo, 'savedDefinitionHash' | 'savedDefinitionUnread'> };
}

function withRuntime(info: DomainInfo, state: DomainState, ips: Map<string, string[]>): DomainInfo {
  const interfaces = info.interfaces.map((i) => ({ ...i, ips: ips.get(i.mac) ?? [] }));
  const all: string[] = [];
  for (const i of interfaces) for (const ip of i.ips) if (!all.includes(ip)) all.push(ip);
  return { ...info, state, interfaces, ips: all, macs: [...info.macs], disks: [...info.disks] };
}

/** Parse the whole batch; a domain that vanished between list and dumpxml (empty XML) is left out. */
export function parseBatch(stdout: string, nonce: string, cache?: DomainParseCache): HostScan {
  return parseRawBatch(splitBatch(stdout, nonce), cache);
}

/**
 * A string of its own. A section cut from a scan's output is a slice of that whole output in V8, and what is parsed
 * from it slices it again: a kept value (the cache's XML and parse, an address the engine holds on to while the
 * instance is unchanged) would keep the whole output of its scan alive, one for every scan that changed something.
 */
const own = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/**
 * The domain with the saved definition its scan read (worked out once per distinct text, kept in its cache entry);
 * with `asked`, a running domain whose saved definition was not read (the read failed, or it started between the
 * list and the read) is marked savedDefinitionUnread.
 */
function savedOf(info: DomainInfo, inactiveXml: string | undefined, entry: CacheEntry, asked: boolean): DomainInfo {
  if (!isRunningOrPaused(info.state) || (inactiveXml === undefined && !asked)) return info;
  if (!inactiveXml) return withSavedDefinition(info, inactiveXml); // asked for and not read
  if (entry.saved?.xml !== inactiveXml) {
    const { savedDefinitionHash, savedDefinitionUnread } = withSavedDefinition(info, inactiveXml);
    entry.saved = {
      xml: own(inactiveXml),
      info: { ...(savedDefinitionHash ? { savedDefinitionHash } : {}), ...(savedDefinitionUnread ? { savedDefinitionUnread } : {}) },
    };
  }
  return { ...info, ...entry.saved.info };
}

/** The sections of a scan, however they were fetched (one exec's stdout, or a virsh session) → parsed. */
export function parseRawBatch(
  raw: { node: string; free: string; domains: RawDomain[] },
  cache?: DomainParseCache,
  savedAsked = false,
): HostScan {
  const domains: DomainInfo[] = [];
  const seen = new Set<string>();
  for (const d of raw.domains) {
    if (!d.xml) continue;
    const state: DomainState = parseDomState(d.state);
    const ips = new Map([...parseDomIfAddr(d.ifaddr)].map(([mac, list]) => [mac, list.map(own)]));
    seen.add(d.uuid);
    const hit = cache?.get(d.uuid);
    if (hit && hit.xml === d.xml) {
      domains.push(savedOf(withRuntime(hit.info, state, ips), d.inactiveXml, hit, savedAsked));
      continue;
    }
    try {
      const xml = own(d.xml);
      const info = parseDomainXml(xml, { state, ips });
      const entry: CacheEntry = { xml, info };
      cache?.set(d.uuid, entry);
      domains.push(savedOf(withRuntime(info, state, ips), d.inactiveXml, entry, savedAsked));
    } catch (e) {
      if (e instanceof DomainXmlError) throw new DomainXmlError(`${e.message} for domain ${d.uuid}`);
      throw e;
    }
  }
  if (cache) for (const k of cache.keys()) if (!seen.has(k)) cache.delete(k); // bounded by the host's domains
  let node: NodeInfo | undefined;
  if (raw.node.trim()) node = parseNodeInfo(raw.node, parseFreecell(raw.free) ?? 0);
  return { node, domains };
}

// The same scan over a persistent virsh session (session.ts): two requests, each a list of command
// lines. First the domain lists and node info, then per domain its state, XML and (when active) addresses.

export const SESSION_LIST = ['list --all --uuid', 'list --inactive --uuid', 'nodeinfo', 'freecell --all'];

export interface SessionLists {
  uuids: string[];
  inactive: Set<string>;
  node: string;
  free: string;
}

/**
 * Command lines for the second request; `domifaddr` is skipped for inactive domains (it can only fail there), and so
 * is the saved definition (`dumpxml --inactive`, only asked for with `saved`): a domain that does not run has no other.
 */
export function sessionDomainLines(l: SessionLists, saved = false): string[] {
  const lines: string[] = [];
  for (const u of l.uuids) {
    lines.push(`domstate ${u}`, `dumpxml ${u}`);
    if (!l.inactive.has(u)) lines.push(`domifaddr ${u}`, ...(saved ? [`dumpxml --inactive ${u}`] : []));
  }
  return lines;
}

/**
 * The second request's outputs (one per line of sessionDomainLines with the same `saved`) → raw domains; a failed
 * command → ''.
 */
export function sessionRawDomains(l: SessionLists, outs: { out: string; error?: string }[], saved = false): RawDomain[] {
  const domains: RawDomain[] = [];
  let i = 0;
  // stderr is merged into a session's output: a stray warning line before the XML is not part of it
  const xmlOf = (out: string) => out.slice(Math.max(0, out.indexOf('<'))).trim();
  for (const uuid of l.uuids) {
    const state = outs[i++]?.out ?? '';
    const xml = xmlOf(outs[i++]?.out ?? '');
    const running = !l.inactive.has(uuid);
    const ifaddr = running ? (outs[i++]?.out ?? '') : '';
    const d: RawDomain = { uuid, state, xml, ifaddr };
    if (running && saved) {
      const inx = outs[i++];
      d.inactiveXml = inx && inx.error === undefined ? xmlOf(inx.out) : '';
    }
    domains.push(d);
  }
  return domains;
}
