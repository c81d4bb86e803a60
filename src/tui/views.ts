// The six views as data: columns, how to pre-format a row (cached by row identity), colour tone, sorts, detail
// lines and the filtered+sorted list. Pure: no React, no I/O; components render what this produces.
import {
  SEVERITY_ORDER,
  type AuditEntry,
  type Finding,
  type HostStatus,
  type MigrationJob,
  type Registration,
  type VmRow,
} from '../model/types.js';
import { LIVE_STATES } from '../model/domain-states.js';
import { hookCell, hookLine } from '../model/hook-summary.js';
import { shortIds } from '../model/short-ids.js';
import { age, bytes, clockTime, compactJson, fit, fitRight, ms, shortUuid } from './format.js';
import type { RowFilter } from './filter.js';
import { SortedList } from './sorted-list.js';
import { evidenceRest, vmDetail } from './vm-detail.js';
import type { TuiData } from './store.js';

export type ViewId = 'billboard' | 'pending' | 'findings' | 'migrations' | 'hosts' | 'audit';
export const VIEW_ORDER: readonly ViewId[] = ['billboard', 'pending', 'findings', 'migrations', 'hosts', 'audit'];
export type Tone = 'red' | 'yellow' | 'dim' | 'green' | 'cyan' | undefined;

export interface Column<T> {
  title: string;
  /** minimum width; extra width goes to the flexible columns that need it */
  min: number;
  /** never cut (a twin's hosts): at least as wide as its widest visible cell */
  whole?: boolean;
  flex?: number;
  right?: boolean;
  /** static text, cached per row object */
  get?: (item: T) => string;
  /** text that moves with the clock (ages), computed only for visible rows */
  live?: (item: T, now: number) => string;
}

export interface ViewDef<T extends object> {
  id: ViewId;
  key: string;
  title: string;
  columns: Column<T>[];
  items(d: TuiData): readonly T[];
  rowId(item: T): string;
  tone(item: T): Tone;
  sorts: { name: string; cmp: (a: T, b: T) => number }[];
  detail(item: T, d: TuiData): string[];
  /** fields `/` searches beyond the columns' texts (e.g. the full UUID behind a short one) */
  search?: (item: T) => string[];
}

interface Formatted {
  cells: string[];
  /** what `/` searches: each field on its own (the columns' texts but the marks, and the row id in full) */
  fields: string[];
}

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** ids like F-9 and F-10 in number order (a plain string order puts F-10 first); other ids as strings */
export function cmpId(a: string, b: string): number {
  const ma = /^(.*?)(\d+)$/.exec(a);
  const mb = ma && /^(.*?)(\d+)$/.exec(b);
  if (ma && mb && ma[1] === mb[1]) return Number(ma[2]) - Number(mb[2]) || cmpStr(a, b);
  return cmpStr(a, b);
}

/** worst open severity first (none last), then more open findings first */
const worst = (r: VmRow) => (r.worstSeverity ? SEVERITY_ORDER[r.worstSeverity] : 9);

// the host sort compares this string ~n log n times per full sort: computed once per row object
const hostsCache = new WeakMap<VmRow, string>();
function hostsOf(r: VmRow): string {
  let h = hostsCache.get(r);
  if (h === undefined) hostsCache.set(r, (h = hostsText(r)));
  return h;
}

/** where it runs; a copy that is only defined there (shut off) is no such place and comes after, apart */
function hostsText(r: VmRow): string {
  const live = r.instances.filter((i) => LIVE_STATES.has(i.state)).map((i) => i.host);
  const off = r.instances.filter((i) => !LIVE_STATES.has(i.state)).map((i) => i.host);
  return [live.join(','), off.length ? `(off: ${off.join(',')})` : ''].filter(Boolean).join(' ');
}

function flag(tone: Tone, migrating = false): string {
  return tone === 'red' ? '!' : tone === 'yellow' ? '?' : tone === 'dim' ? '~' : migrating ? '»' : ' ';
}

const liveCount = (r: VmRow): number => r.instances.filter((i) => LIVE_STATES.has(i.state)).length;

export function vmTone(r: VmRow): Tone {
  if (r.status === 'ghost' || r.status === 'suspect' || liveCount(r) > 1 || r.status === 'rejected' || r.status === 'revoked') return 'red';
  if (r.status === 'unregistered' || r.status === 'pending') return 'yellow';
  if (r.status === 'silent' || r.status === 'stopped') return 'dim';
  return undefined;
}

/** a VM that never beaconed but is fine is agentless (known to scans only); "never" is for one that should have */
function beaconAge(r: VmRow, now: number): string {
  if (r.lastBeacon) return age(now - r.lastBeacon.at);
  return r.status === 'ok' || r.status === 'stopped' || r.status === 'migrating' ? 'agentless' : 'never';
}

// The UUID column is unique among the rows of one view (shortIds). The short forms are worked out again only when
// the view's UUIDs change (a VM comes or goes): at 10,000 beacons/s every publish brings a new rows array with the
// same UUIDs in the same places, and working them out for each one left a 10,000-entry Set and Map (each over V8's
// large-object size, so old generation at once) and a weak entry per changed row behind, ten times a second. A row
// whose short form changes (a new row shares its first digits) drops its pre-formatted cells.
const shortSeen = new WeakSet<readonly object[]>();
const shortOf = new Map<ViewId, { uuids: readonly string[]; short: ReadonlyMap<string, string> }>();
function withShortIds<T extends { uuid: string }>(view: ViewId, rows: readonly T[]): readonly T[] {
  if (shortSeen.has(rows)) return rows;
  shortSeen.add(rows);
  const prev = shortOf.get(view);
  if (prev && prev.uuids.length === rows.length && rows.every((r, i) => r.uuid === prev.uuids[i])) return rows;
  const uuids = rows.map((r) => r.uuid);
  const short = shortIds(uuids);
  for (const r of rows) {
    const u = r.uuid.toLowerCase();
    if (prev?.short.get(u) !== short.get(u)) caches.get(view)?.delete(r);
  }
  shortOf.set(view, { uuids, short });
  return rows;
}
const uuidCell =
  (view: ViewId) =>
  (r: { uuid: string }): string =>
    shortOf.get(view)?.short.get(r.uuid.toLowerCase()) ?? shortUuid(r.uuid);

const billboard: ViewDef<VmRow> = {
  id: 'billboard',
  key: '1',
  title: 'Billboard',
  columns: [
    { title: ' ', min: 1, get: (r) => flag(vmTone(r), r.status === 'migrating') },
    { title: 'NAME', min: 10, flex: 2, get: (r) => r.name },
    { title: 'UUID', min: 8, get: uuidCell('billboard') },
    { title: 'HOST(S)', min: 7, flex: 1, whole: true, get: hostsOf },
    { title: 'IPS', min: 10, flex: 2, get: (r) => r.ips.join(',') },
    { title: 'OS', min: 6, flex: 1, get: (r) => r.os || r.lastBeacon?.os || '' },
    { title: 'STATE', min: 8, flex: 1, get: (r) => r.status },
    { title: 'BEACON', min: 9, right: true, live: beaconAge },
    { title: 'FIND', min: 4, right: true, get: (r) => (r.openFindings ? String(r.openFindings) : '') },
  ],
  items: (d) => withShortIds('billboard', d.snapshot.rows),
  rowId: (r) => r.uuid,
  search: (r) => [...r.instances.map((i) => i.host), ...r.ips],
  tone: vmTone,
  sorts: [
    { name: 'name', cmp: (a, b) => cmpStr(a.name, b.name) },
    { name: 'findings', cmp: (a, b) => worst(a) - worst(b) || b.openFindings - a.openFindings || cmpStr(a.name, b.name) },
    { name: 'host', cmp: (a, b) => cmpStr(hostsOf(a), hostsOf(b)) || cmpStr(a.name, b.name) },
    { name: 'beacon', cmp: (a, b) => (b.lastBeacon?.at ?? 0) - (a.lastBeacon?.at ?? 0) || cmpStr(a.name, b.name) },
    { name: 'state', cmp: (a, b) => cmpStr(a.status, b.status) || cmpStr(a.name, b.name) },
  ],
  detail: (r, d) => vmDetail(r, d),
};

const pending: ViewDef<Registration> = {
  id: 'pending',
  key: '2',
  title: 'Pending',
  columns: [
    { title: 'NAME', min: 10, flex: 1, get: (r) => r.name },
    { title: 'UUID', min: 8, get: uuidCell('pending') },
    { title: 'KEY', min: 14, flex: 2, get: (r) => r.keyFp ?? '(agentless)' },
    { title: 'FIRST SEEN', min: 12, flex: 2, get: (r) => r.firstSeen ?? r.origin },
    { title: 'MACS', min: 17, flex: 1, get: (r) => r.macs.join(',') },
    { title: 'AGE', min: 4, right: true, live: (r, now) => age(now - r.createdAt) },
  ],
  items: (d) => withShortIds('pending', d.pending),
  rowId: (r) => r.uuid,
  tone: () => 'yellow',
  sorts: [
    { name: 'age', cmp: (a, b) => a.createdAt - b.createdAt },
    { name: 'name', cmp: (a, b) => cmpStr(a.name, b.name) },
  ],
  detail: (r, d) => [
    `${r.name}  ${r.uuid}  ${r.state}, requested by ${r.createdBy} ${age(d.now - r.createdAt)} ago (${r.origin})`,
    `  key ${r.keyFp ?? 'none (agentless)'}`,
    `  first seen: ${r.firstSeen ?? '-'}   os ${r.os ?? '-'}   home ${r.homeHost ?? '-'}`,
    `  macs ${r.macs.join(' ') || '-'}`,
  ],
};

const SEV_SHORT = { critical: 'CRIT', high: 'HIGH', medium: 'MED', low: 'LOW' } as const;
const findings: ViewDef<Finding> = {
  id: 'findings',
  key: '3',
  title: 'Findings',
  columns: [
    { title: 'ID', min: 5, get: (f) => f.id },
    { title: 'SEV', min: 4, get: (f) => SEV_SHORT[f.severity] },
    { title: 'CODE', min: 14, flex: 1, get: (f) => f.code },
    { title: 'VM', min: 8, flex: 1, get: (f) => f.vmName ?? (f.vm ? shortUuid(f.vm) : '-') },
    { title: 'HOSTS', min: 7, flex: 1, whole: true, get: (f) => f.hosts.join(',') || '-' },
    { title: 'EVIDENCE', min: 12, flex: 4, get: evidenceRest },
    { title: 'AGE', min: 4, right: true, live: (f, now) => age(now - f.firstSeen) },
    { title: 'STATE', min: 8, get: (f) => f.state },
  ],
  items: (d) => d.snapshot.findings,
  rowId: (f) => f.id,
  search: (f) => [...f.hosts, f.vm, f.evidence],
  tone: (f) =>
    f.state !== 'open'
      ? 'dim'
      : f.severity === 'critical' || f.severity === 'high'
        ? 'red'
        : f.severity === 'medium'
          ? 'yellow'
          : undefined,
  sorts: [
    {
      name: 'severity',
      cmp: (a, b) =>
        (a.state === 'open' ? 0 : 1) - (b.state === 'open' ? 0 : 1) ||
        SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
        b.firstSeen - a.firstSeen,
    },
    { name: 'age', cmp: (a, b) => a.firstSeen - b.firstSeen },
    { name: 'code', cmp: (a, b) => cmpStr(a.code, b.code) },
    { name: 'vm', cmp: (a, b) => cmpStr(a.vmName ?? a.vm, b.vmName ?? b.vm) },
  ],
  detail: (f, d) => [
    `${f.id} ${f.code} (${f.severity}, ${f.state})  vm ${f.vmName ?? '-'} ${f.vm}`,
    `  hosts ${f.hosts.join(', ') || '-'}   seen ${f.count}×, first ${age(d.now - f.firstSeen)} ago, last ${age(d.now - f.lastSeen)} ago`,
    `  evidence: ${f.evidence}`,
    ...(f.ackedBy ? [`  acked by ${f.ackedBy}${f.note ? `: ${f.note}` : ''}`] : []),
  ],
};

const migrations: ViewDef<MigrationJob> = {
  id: 'migrations',
  key: '4',
  title: 'Migrations',
  columns: [
    { title: 'JOB', min: 5, get: (j) => j.id },
    { title: 'VM', min: 10, flex: 1, get: (j) => j.vmName },
    { title: 'FROM', min: 6, flex: 1, get: (j) => j.source },
    { title: 'TO', min: 6, flex: 1, get: (j) => j.destination },
    { title: 'STATE', min: 18, flex: 1, get: (j) => j.state },
    { title: 'BY', min: 6, get: (j) => j.authorizedBy ?? j.requestedBy },
    { title: 'AGE', min: 4, right: true, live: (j, now) => age(now - j.requestedAt) },
    { title: 'MODE', min: 9, get: (j) => (j.simulated ? 'simulated' : 'libvirt') },
  ],
  items: (d) => d.jobs,
  rowId: (j) => j.id,
  tone: (j) =>
    j.state === 'failed' || j.state === 'aborted' || j.state === 'denied'
      ? 'red'
      : j.state === 'awaiting-authorization'
        ? 'yellow'
        : j.state === 'completed'
          ? 'dim'
          : 'cyan',
  sorts: [
    { name: 'newest', cmp: (a, b) => b.requestedAt - a.requestedAt },
    { name: 'oldest', cmp: (a, b) => a.requestedAt - b.requestedAt },
    { name: 'state', cmp: (a, b) => cmpStr(a.state, b.state) },
  ],
  detail: (j) => [
    `${j.id} ${j.vmName} ${j.source} → ${j.destination}  ${j.state}${j.simulated ? '  [SIMULATED]' : ''}`,
    `  requested by ${j.requestedBy}${j.authorizedBy ? `, authorized by ${j.authorizedBy}` : ''}, transport ${j.transport}, ` +
      `bandwidth ${j.bandwidthMiBs ?? '-'} MiB/s, max downtime ${ms(j.maxDowntimeMs)}`,
    ...j.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`),
    ...(j.result ? [`  result: ${j.result}`] : []),
    ...(j.error ? [`  error: ${j.error}`] : []),
  ],
};

const hosts: ViewDef<HostStatus> = {
  id: 'hosts',
  key: '5',
  title: 'Hosts',
  columns: [
    { title: 'NAME', min: 8, flex: 1, get: (h) => h.name },
    { title: 'DRIVER', min: 7, get: (h) => h.driver },
    { title: 'TARGET', min: 12, flex: 2, get: (h) => h.target },
    { title: 'STATE', min: 7, get: (h) => (h.unknown ? 'unknown' : h.up ? 'up' : 'DOWN') },
    { title: 'DOMS', min: 4, right: true, get: (h) => String(h.domains) },
    { title: 'RUN', min: 4, right: true, get: (h) => String(h.running) },
    { title: 'SCAN', min: 5, right: true, live: (h, now) => (h.lastScanAt ? age(now - h.lastScanAt) : '-') },
    { title: 'MS', min: 5, right: true, get: (h) => (h.lastScanMs === undefined ? '-' : String(h.lastScanMs)) },
    { title: 'FAILS', min: 5, right: true, get: (h) => String(h.consecutiveFailures) },
    { title: 'EVENTS', min: 6, get: (h) => (h.events === 'unavailable' ? 'poll' : h.events === 'off' ? 'OFF' : (h.events ?? '-')) },
    { title: 'EVS', min: 4, right: true, get: (h) => (h.eventsReceived === undefined ? '-' : String(h.eventsReceived)) },
    { title: 'HOOK', min: 4, get: (h) => hookCell(h.admissionHook) },
    { title: 'LAST ERROR', min: 10, flex: 2, get: (h) => h.lastError ?? '' },
  ],
  items: (d) => d.snapshot.hosts,
  rowId: (h) => h.name,
  tone: (h) => (h.unknown ? 'dim' : h.up ? undefined : 'red'),
  sorts: [
    { name: 'name', cmp: (a, b) => cmpStr(a.name, b.name) },
    { name: 'state', cmp: (a, b) => Number(a.up) - Number(b.up) || cmpStr(a.name, b.name) },
  ],
  detail: (h, d) => [
    `${h.name} (${h.driver} ${h.target})  ${h.unknown ? 'never scanned' : h.up ? 'up' : 'DOWN'}  ` +
      `${h.domains} domains, ${h.running} running`,
    `  last scan ${h.lastScanAt ? `${age(d.now - h.lastScanAt)} ago in ${h.lastScanMs ?? '-'} ms` : 'never'}, ` +
      `${h.consecutiveFailures} consecutive failures${h.nextRetryAt ? `, retry in ${age(h.nextRetryAt - d.now)}` : ''}`,
    ...(h.lastError ? [`  error: ${h.lastError}`] : []),
    ...hostEventLines(h, d.now),
    ...[hookLine(h.admissionHook)].flatMap((l) => (l ? [`  ${l}`] : [])),
    ...(h.node
      ? [
          `  node: ${h.node.cpus} cpus ${h.node.cpuModel ?? ''}, ` +
            `${bytes(h.node.freeMemoryKiB * 1024)} free of ${bytes(h.node.memoryKiB * 1024)}` +
            (h.node.freeMemoryNote ? ` (${h.node.freeMemoryNote})` : ''),
        ]
      : []),
  ],
};

/** a host's event stream in its details: on/off, events received, the last one, restarts, and the poll in force */
function hostEventLines(h: HostStatus, now: number): string[] {
  if (!h.events) return [];
  const poll = h.pollIntervalMs === undefined ? '' : `; polled every ${age(h.pollIntervalMs)}`;
  if (h.events === 'unavailable') return [`  events: none (${h.eventsNote ?? 'this host cannot stream them'})${poll}`];
  const last = h.lastEventAt ? `, last ${age(now - h.lastEventAt)} ago: ${h.lastEvent ?? ''}` : '';
  const restarts = `${h.streamRestarts ?? 0} stream restart${h.streamRestarts === 1 ? '' : 's'}`;
  return [
    `  events ${h.events}: ${h.eventsReceived ?? 0} received${last}, ${restarts}${poll}`,
    ...(h.events === 'off' && h.eventsNote ? [`  event stream: ${h.eventsNote}`] : []),
  ];
}

const audit: ViewDef<AuditEntry> = {
  id: 'audit',
  key: '6',
  title: 'Audit',
  columns: [
    { title: 'SEQ', min: 5, right: true, get: (a) => String(a.seq) },
    { title: 'TIME', min: 19, get: (a) => clockTime(a.time) },
    { title: 'ACTOR', min: 6, flex: 1, get: (a) => a.actor },
    { title: 'ACTION', min: 10, flex: 1, get: (a) => a.action },
    { title: 'TARGET', min: 8, flex: 1, get: (a) => a.target },
    { title: 'DETAILS', min: 10, flex: 3, get: (a) => compactJson(a.details) },
  ],
  items: (d) => d.audit,
  rowId: (a) => String(a.seq),
  tone: () => undefined,
  sorts: [
    { name: 'newest', cmp: (a, b) => b.seq - a.seq },
    { name: 'oldest', cmp: (a, b) => a.seq - b.seq },
  ],
  detail: (a) => [
    `#${a.seq} ${a.time} ${a.actor} ${a.action} ${a.target}`,
    `  details ${compactJson(a.details) || '{}'}`,
    `  hash ${a.hash}`,
    `  prev ${a.prevHash}`,
  ],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- VIEWS holds views of six row types; callers reach rows through guards
export type AnyView = ViewDef<any>;
export const VIEWS: Record<ViewId, AnyView> = { billboard, pending, findings, migrations, hosts, audit };

// ─── pre-formatting, cached by row identity ──────────────────────────────────────────────────────

const caches = new Map<ViewId, WeakMap<object, Formatted>>();

export function formatted<T extends object>(view: ViewDef<T>, item: T): Formatted {
  let cache = caches.get(view.id);
  if (!cache) caches.set(view.id, (cache = new WeakMap()));
  let f = cache.get(item);
  if (!f) {
    const cells = view.columns.map((c) => (c.get ? c.get(item) : ''));
    const fields = cells.filter((c, i) => view.columns[i]!.title.trim() !== '' && c !== '');
    f = { cells, fields: [...fields, ...(view.search?.(item) ?? []), view.rowId(item)] };
    cache.set(item, f);
  }
  return f;
}

/**
 * column widths for the available width: minimums first (a `whole` column's minimum is its widest visible cell),
 * then spare width to the flexible columns whose visible cells need it (the smallest needs first, so one long
 * column cannot starve the others); what is left after every cell fits is shared by flex weight. Too narrow:
 * flexible columns shrink from the right, down to 3.
 */
export function columnWidths<T extends object>(view: ViewDef<T>, width: number, rows: readonly T[] = []): number[] {
  const cols = view.columns;
  const natural = cols.map((c, i) => {
    let n = c.min;
    if (c.get) for (const r of rows) n = Math.max(n, formatted(view, r).cells[i]!.length);
    return n;
  });
  const mins = cols.map((c, i) => (c.whole ? Math.min(natural[i]!, 40) : c.min));
  let spare = width - (cols.length - 1) - mins.reduce((a, b) => a + b, 0);
  const flexTotal = cols.reduce((a, c) => a + (c.flex ?? 0), 0);
  if (spare <= 0 || flexTotal === 0) {
    const w = mins.slice();
    for (const pass of [false, true])
      for (let i = w.length - 1; i >= 0 && spare < 0; i--) {
        if (!cols[i]!.flex || !!cols[i]!.whole !== pass) continue;
        const cut = Math.max(0, Math.min(w[i]! - 3, -spare));
        w[i]! -= cut;
        spare += cut;
      }
    return w;
  }
  // water-filling: the columns that need little get all of it, the widest need shares what is left
  const need = cols.map((c, i) => (c.flex ? Math.max(0, natural[i]! - mins[i]!) : 0));
  const w = mins.slice();
  const needy = need.map((n, i) => [n, i] as const).filter(([n]) => n > 0);
  needy.sort((a, b) => a[0] - b[0]);
  needy.forEach(([n, i], k) => {
    const give = Math.min(n, Math.floor(spare / (needy.length - k)));
    w[i]! += give;
    spare -= give;
  });
  if (spare <= 0) return w;
  let given = 0;
  cols.forEach((c, i) => {
    const extra = Math.floor((spare * (c.flex ?? 0)) / flexTotal);
    w[i]! += extra;
    given += extra;
  });
  w[cols.findIndex((c) => c.flex)]! += spare - given;
  return w;
}

export function headerLine<T extends object>(view: ViewDef<T>, widths: number[]): string {
  return view.columns.map((c, i) => (c.right ? fitRight(c.title, widths[i]!) : fit(c.title, widths[i]!))).join(' ');
}

export function rowLine<T extends object>(view: ViewDef<T>, item: T, widths: number[], now: number): string {
  const f = formatted(view, item);
  let out = '';
  for (let i = 0; i < view.columns.length; i++) {
    const c = view.columns[i]!;
    const text = c.live ? c.live(item, now) : f.cells[i]!;
    out += (i ? ' ' : '') + (c.right ? fitRight(text, widths[i]!) : fit(text, widths[i]!));
  }
  return out;
}

// ─── the visible list: filtered and sorted, kept up to date incrementally ────────────────────────

interface ListState {
  filter: string;
  sort: number;
  list: SortedList<object>;
}
const lists = new Map<ViewId, ListState>();

/** a view's sort as a total order: ties fall back to the row id, so an incremental merge equals a full sort */
export function totalOrder<T extends object>(view: ViewDef<T>, sort: number): (a: T, b: T) => number {
  const s = view.sorts[sort % view.sorts.length];
  if (!s) return (a, b) => cmpId(view.rowId(a), view.rowId(b));
  return (a, b) => s.cmp(a, b) || cmpId(view.rowId(a), view.rowId(b));
}

/** the rows of a view after its filter and sort; unchanged rows are not re-sorted between snapshots */
export function visibleItems<T extends object>(
  view: ViewDef<T>,
  items: readonly T[],
  filter: RowFilter | undefined,
  sort: number,
): readonly T[] {
  const key = filter && filter.ok ? filter.source : '';
  let st = lists.get(view.id);
  if (!st || st.filter !== key || st.sort !== sort) {
    const keep = filter && filter.ok && key ? (it: T) => filter.test(formatted(view, it).fields) : undefined;
    st = { filter: key, sort, list: new SortedList<T>(totalOrder(view, sort), keep) as unknown as SortedList<object> };
    lists.set(view.id, st);
  }
  return st.list.update(items) as readonly T[];
}
