// The selected row's details under the table (or full-height after enter).
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';

type DetailProps = { lines: string[]; height: number; width: number; theme: Theme; title?: string };

// the lines are rebuilt on every data frame; re-render only when their text (or the geometry) changed
const same = (a: DetailProps, b: DetailProps) =>
  a.height === b.height &&
  a.width === b.width &&
  a.theme === b.theme &&
  a.title === b.title &&
  a.lines.length === b.lines.length &&
  a.lines.every((l, i) => l === b.lines[i]);

export const DetailPane = memo(function DetailPane(p: DetailProps) {
  const shown = p.lines.slice(0, p.height);
  return (
    <Box flexDirection="column" width={p.width} height={p.height + 1}>
      <Text wrap="truncate" {...p.theme.dim}>
        {('── ' + (p.title ?? 'details') + ' ').padEnd(p.width, '─')}
      </Text>
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
}, same);
