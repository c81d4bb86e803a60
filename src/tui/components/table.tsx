// The windowed table: only the rows in view are rendered; each line comes pre-formatted from views.ts.
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';
import { columnWidths, headerLine, rowLine, type AnyView } from '../views.js';

export interface TableProps {
  view: AnyView;
  list: readonly object[];
  index: number;
  offset: number;
  height: number;
  width: number;
  now: number;
  theme: Theme;
}

export const Table = memo(function Table(p: TableProps) {
  const widths = columnWidths(p.view, p.width - 2);
  const end = Math.min(p.list.length, p.offset + p.height);
  const lines: React.ReactNode[] = [];
  for (let i = p.offset; i < end; i++) {
    const item = p.list[i]!;
    const sel = i === p.index;
    const style = p.theme.tone(p.view.tone(item));
    lines.push(
      <Text key={p.view.rowId(item)} wrap="truncate" {...(sel ? p.theme.selected(style) : style)}>
        {(sel ? '>' : ' ') + ' ' + rowLine(p.view, item, widths, p.now)}
      </Text>,
    );
  }
  if (p.list.length === 0) lines.push(<Text key="empty" {...p.theme.dim}>  (no rows)</Text>);
  return (
    <Box flexDirection="column" width={p.width} height={p.height + 1}>
      <Text wrap="truncate" {...p.theme.title}>
        {'  ' + headerLine(p.view, widths)}
      </Text>
      {lines}
    </Box>
  );
});
