import { safeText } from '../../model/text.js';
import type { JobStats } from '../../model/types.js';

// `virsh event --all --loop --timestamp` output → events. Pure.
//
// virsh prints one block per event: a header line `[TIMESTAMP: ]event 'NAME' for domain 'DOMAIN'…`, and for some
// events (job-completed, tunable, graphics) one tab-indented line per field after it. A block ends at the next line
// that is not tab-indented, or when the stream falls quiet (flush): virsh writes each block in one print, so a quiet
// stream holds no half block for long. Lines that are neither (virsh's own messages) are skipped.
//
// Domain names are the host's text: they may hold quotes. Lifecycle and migration-iteration lines end in a fixed
// form, so the name is what lies before the last match of that form; callers still treat a name as a hint to
// check against a scan, never as evidence.

export const LIFECYCLE_EVENTS = [
  'Defined',
  'Undefined',
  'Started',
  'Suspended',
  'Resumed',
  'Stopped',
  'Shutdown',
  'PMSuspended',
  'Crashed',
] as const;
export type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number] | 'unknown';

interface EventBase {
  /** ms since epoch: virsh's timestamp, else when the line arrived */
  at: number;
  domain: string;
}

export type DomainEvent =
  | (EventBase & { kind: 'lifecycle'; event: LifecycleEvent; detail: string })
  | (EventBase & { kind: 'migration-iteration'; iteration: number })
  | (EventBase & { kind: 'job-completed'; fields: Record<string, string>; stats: JobStats })
  | (EventBase & { kind: 'other'; name: string; text: string; fields: Record<string, string> });

/** longest line kept (a longer one is dropped whole): bounds what a host can make us buffer */
export const MAX_EVENT_LINE = 16 * 1024;
/** fields kept per block */
export const MAX_EVENT_FIELDS = 128;

const HEADER = /^(?:(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(\d\d): )?event '([A-Za-z0-9_-]{1,64})' for domain '(.*)$/;
const LIFECYCLE = new RegExp(`^(.*)': (${LIFECYCLE_EVENTS.join('|')}|unknown) (.+)$`);
const ITERATION = /^(.*)': iteration: '(\d{1,9})'$/;
const BLOCK = /^(.*)':$/;
const GENERIC = /^(.*?)'(?:: (.*))?$/;
const FIELD = /^\t([^:=]{1,128})(?:: |=)(.*)$/;

/** virsh's `2024-05-01 10:28:18.971+0000` → ms since epoch (undefined when it is not a date) */
export function parseEventTime(date: string, time: string, tzH: string, tzM: string): number | undefined {
  const ms = Date.parse(`${date}T${time}${tzH}:${tzM}`);
  return Number.isFinite(ms) ? ms : undefined;
}

interface Pending {
  at: number;
  name: string;
  domain: string;
  text: string;
  fields: Record<string, string>;
  count: number;
}

export class EventParser {
  private partial = '';
  private skipping = false;
  private pending?: Pending;

  constructor(private readonly now: () => number = Date.now) {}

  /** Feed text as it arrives; returns the events it completes. */
  push(chunk: string): DomainEvent[] {
    const out: DomainEvent[] = [];
    let text = this.partial + chunk;
    this.partial = '';
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const line = text.slice(0, nl).replace(/\r$/, '');
      text = text.slice(nl + 1);
      if (this.skipping) this.skipping = false;
      else if (line.length <= MAX_EVENT_LINE) this.line(line, out);
    }
    if (text.length > MAX_EVENT_LINE)
      this.skipping = true; // the rest of this line is dropped too
    else if (!this.skipping) this.partial = text;
    return out;
  }

  /** The stream fell quiet or ended: a block waiting for more fields is complete. */
  flush(): DomainEvent[] {
    const out: DomainEvent[] = [];
    this.finish(out);
    return out;
  }

  /** a block is waiting for more fields (the owner flushes it once the stream falls quiet) */
  get waiting(): boolean {
    return this.pending !== undefined;
  }

  private line(line: string, out: DomainEvent[]): void {
    if (line.startsWith('\t') && this.pending) {
      const m = FIELD.exec(line);
      if (m && this.pending.count < MAX_EVENT_FIELDS) {
        this.pending.fields[m[1]!.trim()] = m[2]!.trim();
        this.pending.count++;
      }
      return;
    }
    this.finish(out);
    const h = HEADER.exec(line);
    if (!h) return; // virsh's own messages ("event loop interrupted", "events received: N")
    const at = (h[1] ? parseEventTime(h[1], h[2]!, h[3]!, h[4]!) : undefined) ?? this.now();
    const name = h[5]!;
    const rest = h[6]!;
    if (name === 'lifecycle') {
      const m = LIFECYCLE.exec(rest);
      if (m) out.push({ kind: 'lifecycle', at, domain: m[1]!, event: m[2] as LifecycleEvent, detail: safeText(m[3], 64) });
      return;
    }
    if (name === 'migration-iteration') {
      const m = ITERATION.exec(rest);
      if (m) out.push({ kind: 'migration-iteration', at, domain: m[1]!, iteration: Number(m[2]) });
      return;
    }
    const block = BLOCK.exec(rest);
    const g = block ? undefined : GENERIC.exec(rest);
    const domain = block ? block[1]! : (g?.[1] ?? rest);
    this.pending = { at, name, domain, text: safeText(g?.[2] ?? '', 128), fields: {}, count: 0 };
  }

  private finish(out: DomainEvent[]): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    if (p.name === 'job-completed') {
      out.push({ kind: 'job-completed', at: p.at, domain: p.domain, fields: p.fields, stats: completedJobStats(p.fields, p.at) });
    } else {
      out.push({ kind: 'other', at: p.at, domain: p.domain, name: p.name, text: p.text, fields: p.fields });
    }
  }
}

/** libvirt's job operation numbers, named as `virsh domjobinfo` names them */
const OPERATIONS = [
  'Unknown',
  'Start',
  'Save',
  'Restore',
  'Incoming migration',
  'Outgoing migration',
  'Snapshot',
  'Snapshot revert',
  'Dump',
  'Backup',
  'Snapshot delete',
];

/** job-completed's typed parameters (`time_elapsed: 4711`, …) → JobStats (what `domjobinfo --completed` gives). */
export function completedJobStats(f: Record<string, string>, at: number): JobStats {
  const num = (k: string): number | undefined => {
    const v = f[k];
    if (v === undefined || !/^-?\d+(\.\d+)?$/.test(v)) return undefined;
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  };
  const success = f.success;
  const type = success === undefined || /^(yes|1|true)$/i.test(success) ? 'completed' : 'failed';
  const st: JobStats = { at, type, source: 'libvirt-event' };
  const op = num('operation');
  if (op !== undefined) st.operation = OPERATIONS[op] ?? `operation ${op}`;
  const set = (k: keyof JobStats, v: number | undefined) => {
    if (v !== undefined) (st as unknown as Record<string, unknown>)[k] = v;
  };
  set('elapsedMs', num('time_elapsed'));
  set('totalDowntimeMs', num('downtime'));
  set('dataProcessedBytes', num('data_processed'));
  set('dataRemainingBytes', num('data_remaining'));
  set('dataTotalBytes', num('data_total'));
  set('memoryProcessedBytes', num('memory_processed'));
  set('memoryRemainingBytes', num('memory_remaining'));
  set('memoryTotalBytes', num('memory_total'));
  set('bandwidthBps', num('memory_bps'));
  const page = num('memory_page_size');
  set('pageSize', page);
  const dirty = num('memory_dirty_rate'); // pages per second
  if (dirty !== undefined) st.dirtyRateBps = dirty * (page ?? 4096);
  set('iteration', num('memory_iteration'));
  return st;
}

/** the lifecycle events after which a domain's state or definition may have changed: each asks for a rescan */
export function triggersRescan(e: DomainEvent): boolean {
  return e.kind === 'lifecycle';
}

/** one line for status and logs (the domain name made safe to print) */
export function describeEvent(e: DomainEvent): string {
  const d = safeText(e.domain, 64);
  if (e.kind === 'lifecycle') return `${d} ${e.event} ${e.detail}`;
  if (e.kind === 'migration-iteration') return `${d} migration iteration ${e.iteration}`;
  if (e.kind === 'job-completed') return `${d} job ${e.stats.type}${e.stats.operation ? ` (${e.stats.operation})` : ''}`;
  return `${d} ${safeText(e.name, 64)}${e.text ? ` ${e.text}` : ''}`;
}
