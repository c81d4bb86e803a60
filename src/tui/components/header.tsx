// Two lines at the top: lab health at a glance, then the view tabs with the active sort and filter.
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { BillboardSnapshot } from '../../model/types.js';
import type { Theme } from '../theme.js';
import { VIEW_ORDER, VIEWS, type ViewId } from '../views.js';

export interface HeaderProps {
  counters: HeaderCounters;
  view: ViewId;
  sortName: string;
  filter?: string;
  /** "1-27 of 40" */
  position: string;
  readOnly: boolean;
  /** where this console runs: "embedded", or who is attached to which service (ConsoleApi.attachment) */
  session?: string;
  theme: Theme;
  width: number;
}

export interface HeaderCounters {
  up: number;
  down: number;
  vms: number;
  pending: number;
  sev: { critical: number; high: number; medium: number; low: number };
  perSecond: number;
}

export function summarize(s: BillboardSnapshot, pending: number): HeaderCounters {
  const sev = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const f of s.findings) if (f.state === 'open') sev[f.severity]++;
  let up = 0;
  for (const h of s.hosts) if (h.up) up++;
  return { up, down: s.hosts.length - up, vms: s.rows.length, pending, sev, perSecond: Math.round(s.beacons.perSecond) };
}

/** the counters the header shows: hosts, pending and findings move at once; the busy ones (VM count, beacons/s)
 * at most every `slowMs`, so a data frame that changes only them does not re-render the header */
export function nextCounters(
  prev: HeaderCounters | undefined,
  next: HeaderCounters,
  prevAt: number,
  now: number,
  slowMs = 500,
): HeaderCounters {
  if (!prev) return next;
  const urgent =
    prev.up !== next.up ||
    prev.down !== next.down ||
    prev.pending !== next.pending ||
    prev.sev.critical !== next.sev.critical ||
    prev.sev.high !== next.sev.high ||
    prev.sev.medium !== next.sev.medium ||
    prev.sev.low !== next.sev.low;
  if (urgent) return next;
  if (prev.vms === next.vms && prev.perSecond === next.perSecond) return prev;
  return now - prevAt >= slowMs ? next : prev;
}

export const Header = memo(function Header(p: HeaderProps) {
  const sum = p.counters;
  const t = p.theme;
  return (
    <Box flexDirection="column" width={p.width}>
      <Text wrap="truncate">
        <Text {...t.title}>billboard</Text>
        {p.readOnly ? <Text {...t.busy}>{' [READ-ONLY]'}</Text> : null}
        {p.session ? <Text {...(/reconnecting|disconnected/.test(p.session) ? t.error : t.dim)}>{` ${p.session}`}</Text> : null}
        {'  hosts '}
        <Text>{sum.up} up</Text> <Text {...(sum.down ? t.error : t.dim)}>{sum.down} down</Text>
        {`  VMs ${sum.vms}  pending `}
        <Text {...(sum.pending ? t.tone('yellow') : {})}>{sum.pending}</Text>
        {'  findings '}
        <Text {...(sum.sev.critical ? t.error : {})}>C{sum.sev.critical}</Text>{' '}
        <Text {...(sum.sev.high ? t.tone('red') : {})}>H{sum.sev.high}</Text>
        {` M${sum.sev.medium} L${sum.sev.low}  beacons ${sum.perSecond}/s`}
      </Text>
      <Text wrap="truncate">
        {VIEW_ORDER.map((v) => (
          <Text key={v} {...(v === p.view ? t.lit : t.dim)}>
            {v === p.view && t.noColor ? `[${VIEWS[v].key} ${VIEWS[v].title}]` : ` ${VIEWS[v].key} ${VIEWS[v].title} `}
          </Text>
        ))}
        {`  ${p.position}  sort:${p.sortName}`}
        {p.filter ? `  filter:/${p.filter}/` : ''}
      </Text>
    </Box>
  );
});
