// The selected row's details under the table (or full-height after enter).
import React from 'react';
import { Box, Text } from 'ink';
import type { Theme } from '../theme.js';

export function DetailPane(p: { lines: string[]; height: number; width: number; theme: Theme; title?: string }) {
  const shown = p.lines.slice(0, p.height);
  return (
    <Box flexDirection="column" width={p.width} height={p.height + 1}>
      <Text wrap="truncate" {...p.theme.dim}>{('── ' + (p.title ?? 'details') + ' ').padEnd(p.width, '─')}</Text>
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
    </Box>
  );
}
