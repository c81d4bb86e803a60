// Two lines at the top: lab health at a glance, then the view tabs with the active sort and filter.
import React, { memo, useMemo } from 'react';
import { Box, Text } from 'ink';
import type { BillboardSnapshot } from '../../model/types.js';
import type { Theme } from '../theme.js';
import { VIEW_ORDER, VIEWS, type ViewId } from '../views.js';

export interface HeaderProps {
  snapshot: BillboardSnapshot;
  pending: number;
  view: ViewId;
  sortName: string;
  filter?: string;
  /** "1-27 of 40" */
  position: string;
  readOnly: boolean;
  theme: Theme;
  width: number;
}

export function summarize(s: BillboardSnapshot) {
  const sev = { critical: 0, high: 0, medium: 0, low: 0 };
  for (const f of s.findings) if (f.state === 'open') sev[f.severity]++;
  let up = 0;
  for (const h of s.hosts) if (h.up) up++;
  return { up, down: s.hosts.length - up, vms: s.rows.length, sev, perSecond: Math.round(s.beacons.perSecond) };
}

export const Header = memo(function Header(p: HeaderProps) {
  const sum = useMemo(() => summarize(p.snapshot), [p.snapshot]);
  const t = p.theme;
  return (
    <Box flexDirection="column" width={p.width}>
      <Text wrap="truncate">
        <Text {...t.title}>billboard</Text>
        {p.readOnly ? <Text {...t.busy}>{' [READ-ONLY]'}</Text> : null}
        {'  hosts '}
        <Text>{sum.up} up</Text>
        {' '}
        <Text {...(sum.down ? t.error : t.dim)}>{sum.down} down</Text>
        {`  VMs ${sum.vms}  pending `}
        <Text {...(p.pending ? t.tone('yellow') : {})}>{p.pending}</Text>
        {'  findings '}
        <Text {...(sum.sev.critical ? t.error : {})}>C{sum.sev.critical}</Text>
        {' '}
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
