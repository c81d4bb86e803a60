// Things that take over the body for a moment: the `?` help, a command's multi-line output, and pickers
// (destination with pre-check results, or which host).
import React from 'react';
import { Box, Text } from 'ink';
import type { Mode } from '../controller.js';
import { helpLines } from '../help.js';
import type { Theme } from '../theme.js';
import type { ViewId } from '../views.js';

export function HelpOverlay(p: { view: ViewId; readOnly: boolean; scroll: number; height: number; width: number; theme: Theme }) {
  const lines = helpLines(p.view, p.readOnly);
  const shown = lines.slice(p.scroll, p.scroll + p.height - 1);
  const more = lines.length > p.height - 1 ? 'j/k scroll, ' : '';
  return (
    <Box flexDirection="column" height={p.height} width={p.width}>
      {shown.map((l, i) => (
        <Text key={i} wrap="truncate" {...(l.endsWith(':') ? p.theme.title : l.includes('(disabled') ? p.theme.dim : {})}>
          {l}
        </Text>
      ))}
      <Text wrap="truncate" {...p.theme.dim}>
        {`${more}esc closes this help; any other key closes it and does its job`}
      </Text>
    </Box>
  );
}

export function OutputOverlay(p: { mode: Extract<Mode, { kind: 'output' }>; height: number; width: number; theme: Theme }) {
  const body = p.mode.lines.slice(p.mode.scroll, p.mode.scroll + p.height - 2);
  const n = p.mode.lines.length;
  const range = n > p.height - 2 ? `lines ${p.mode.scroll + 1}-${Math.min(n, p.mode.scroll + p.height - 2)} of ${n}, j/k scroll, ` : '';
  return (
    <Box flexDirection="column" height={p.height} width={p.width}>
      <Text wrap="truncate" {...p.theme.title}>{`:${p.mode.title}`}</Text>
      {body.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l}
        </Text>
      ))}
      <Text wrap="truncate" {...p.theme.dim}>
        {`${range}esc closes; any other key closes and does its job`}
      </Text>
    </Box>
  );
}

export function PickOverlay(p: { mode: Extract<Mode, { kind: 'pick' }>; height: number; width: number; theme: Theme }) {
  const { mode, theme } = p;
  const chosen = mode.options[mode.index];
  const listH = Math.min(mode.options.length, Math.max(1, Math.floor((p.height - 2) / 2)));
  const start = Math.max(0, Math.min(mode.index - listH + 1, mode.options.length - listH));
  return (
    <Box flexDirection="column" height={p.height} width={p.width}>
      <Text wrap="truncate" {...theme.title}>
        {mode.title}
      </Text>
      {mode.options.slice(Math.max(0, start), Math.max(0, start) + listH).map((o, i) => {
        const sel = o === chosen;
        const style = theme.tone(o.ok ? 'green' : 'red');
        return (
          <Text key={o.label + i} wrap="truncate" {...(sel ? theme.selected(style) : style)}>
            {`${sel ? '>' : ' '} ${o.ok ? '✓' : '✗'} ${o.label}${o.ok ? '' : '  (pre-checks failed)'}`}
          </Text>
        );
      })}
      {(chosen?.detail ?? []).slice(0, p.height - listH - 2).map((d, i) => (
        <Text key={'d' + i} wrap="truncate" {...theme.tone(d.startsWith('✗') ? 'red' : undefined)}>
          {'    ' + d}
        </Text>
      ))}
      <Text {...theme.dim}>j/k choose, enter confirm, esc cancel</Text>
    </Box>
  );
}
