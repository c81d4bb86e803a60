// The windowed table: only the rows in view are rendered; each line comes pre-formatted from views.ts.
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { columnWidths, headerLine, rowLine, type AnyView, type Tone } from '../views.js';

// one row: memo on its final text, so between data frames React skips every row whose text did not change
const Row = memo(function Row({ text, tone, sel, theme }: { text: string; tone: Tone; sel: boolean; theme: Theme }) {
  const style = theme.tone(tone);
  return (
    <Text wrap="truncate" {...(sel ? theme.selected(style) : style)}>
      {text}
    </Text>
  );
});

export interface TableProps {
  view: AnyView;
  list: readonly object[];
  index: number;
  offset: number;
  height: number;
  width: number;
  now: number;
  theme: Theme;
  /** what an empty table says */
  emptyText?: string;
}

export const Table = memo(function Table(p: TableProps) {
  const end = Math.min(p.list.length, p.offset + p.height);
  const widths = columnWidths(p.view, p.width - 2, p.list.slice(p.offset, end));
  const lines: React.ReactNode[] = [];
  for (let i = p.offset; i < end; i++) {
    const item = p.list[i]!;
    const sel = i === p.index;
    lines.push(
      <Row
        key={p.view.rowId(item)}
        text={(sel ? '>' : ' ') + ' ' + rowLine(p.view, item, widths, p.now)}
        tone={p.view.tone(item)}
        sel={sel}
        theme={p.theme}
      />,
    );
  }
  if (p.list.length === 0)
    lines.push(
      <Text key="empty" {...p.theme.dim}>
        {` ${p.emptyText ?? '(no rows)'}`}
      </Text>,
    );
  return (
    <Box flexDirection="column" width={p.width} height={p.height + 1}>
      <Text wrap="truncate" {...p.theme.title}>
        {'  ' + headerLine(p.view, widths)}
      </Text>
      {lines}
    </Box>
  );
});
