// The last two lines: the key hints (or the open prompt / confirmation), and the status line where every
// command's result or error lands.
import React, { memo } from 'react';
import { Box, Text } from 'ink';
import type { Mode, Status } from '../controller.js';
import { hints } from '../keymap.js';
import { VIEW_KEYS } from '../view-keys.js';
import type { Theme } from '../theme.js';
import type { ViewId } from '../views.js';

// memo: its props only change with keys and command results, not with the 10 Hz data frames
export const BottomBar = memo(function BottomBar(p: {
  mode: Mode;
  view: ViewId;
  readOnly: boolean;
  status?: Status;
  width: number;
  theme: Theme;
}) {
  const { mode, theme } = p;
  let top: React.ReactNode;
  if (mode.kind === 'prompt') {
    top = (
      <Text wrap="truncate">
        <Text {...theme.title}>{mode.label}</Text>
        {mode.text}
        <Text inverse={!theme.noColor}>{theme.noColor ? '_' : ' '}</Text>
      </Text>
    );
  } else if (mode.kind === 'confirm') {
    top = (
      <Text wrap="truncate" {...theme.busy}>
        {mode.question}
      </Text>
    );
  } else {
    top = (
      <Text wrap="truncate" {...theme.dim}>
        {hints(VIEW_KEYS[p.view].docs, p.readOnly, p.width)}
      </Text>
    );
  }
  const completions = mode.kind === 'prompt' && mode.completions.length ? mode.completions.join('  ') : undefined;
  const st = p.status;
  return (
    <Box flexDirection="column" width={p.width} height={2}>
      {top}
      {completions ? (
        <Text wrap="truncate" {...theme.dim}>
          {completions}
        </Text>
      ) : (
        <Text wrap="truncate" {...(st?.kind === 'error' ? theme.error : st?.kind === 'busy' ? theme.busy : {})}>
          {st ? statusText(st, p.width) : ' '}
        </Text>
      )}
    </Box>
  );
});

/** the status line: one line; a message that does not fit says how to read it whole */
function statusText(st: Status, width: number): string {
  const text = (st.kind === 'error' ? '✗ ' : '') + st.text.replace(/\s*\n\s*/g, ' ⏎ ');
  return text.length <= width ? text : text.slice(0, Math.max(10, width - 15)) + '… (e: in full)';
}
