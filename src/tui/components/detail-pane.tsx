// The selected row's details under the table (or full-height after enter), wrapped to the width.
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import { wrapLines } from '../format.js';
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
  // the "why" is never cut: lines wrap, and what does not fit says so
  const all = wrapLines(p.lines, p.width);
  const shown =
    all.length > p.height ? [...all.slice(0, p.height - 1), `… ${all.length - p.height + 1} more lines (enter shows all)`] : all;
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
