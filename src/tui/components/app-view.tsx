// The console's root component: header, view table, detail pane / overlays and the bottom bar. All state lives
// in TuiStore (console data, ≤ 10 Hz) and Controller (UI state, keys); components only render them.
import React, { useEffect, useMemo, useRef } from 'react';
import { Box, useApp, useInput } from 'ink';
import { Controller, tableHeight } from '../controller.js';
import { Body } from './body.js';
import { BottomBar } from './bottom.js';
import { Header, nextCounters, summarize, type HeaderCounters } from './header.js';
import { useTerminalSize, useTuiData, useUi } from '../hooks.js';
import type { TuiStore } from '../store.js';
import { makeTheme } from '../theme.js';
import { VIEWS } from '../views.js';

export interface AppProps {
  ctl: Controller;
  store: TuiStore;
  noColor: boolean;
  onQuit: (code: number) => void;
}

export function App({ ctl, store, noColor, onQuit }: AppProps) {
  const data = useTuiData(store);
  const ui = useUi(ctl);
  const app = useApp();
  const theme = useMemo(() => makeTheme(noColor), [noColor]);
  useTerminalSize(ctl);
  useEffect(() => {
    ctl.quit = (code) => {
      onQuit(code);
      app.exit();
    };
  }, [ctl, app, onQuit]);
  useInput(ctl.handleKey);
  // header counters: recomputed per publish (cheap: hosts and findings only), but handed to the header as the
  // same object unless something it shows changed (busy counters at most twice a second)
  const counters = useRef<{ c?: HeaderCounters; at: number; seq: number }>({ at: 0, seq: -1 });
  if (counters.current.seq !== data.seq) {
    const next = nextCounters(
      counters.current.c,
      steadyRate(counters.current.c, summarize(data.snapshot, data.pending.length)),
      counters.current.at,
      data.now,
    );
    if (next !== counters.current.c) counters.current = { c: next, at: data.now, seq: data.seq };
    else counters.current.seq = data.seq;
  }

  const width = Math.max(40, ui.cols);
  const rows = Math.max(12, ui.rows);
  // one line short of the terminal: a frame as tall as the screen makes Ink clear the terminal on each redraw
  const bodyH = rows - 1 - 2 - 2;
  const view = VIEWS[ui.view];
  const cur = ctl.frameCursor();

  return (
    <Box flexDirection="column" width={width} height={rows - 1}>
      <Header
        counters={counters.current.c!}
        view={ui.view}
        sortName={view.sorts[ui.sorts[ui.view] % view.sorts.length]?.name ?? ''}
        filter={ui.filters[ui.view]?.source}
        position={position(cur.list.length, cur.offset, tableHeight(rows, ui.view))}
        readOnly={ui.readOnly}
        session={ctl.session()}
        theme={theme}
        width={width}
      />
      <Body ui={ui} data={data} cursor={cur} rows={rows} width={width} height={bodyH} theme={theme} />
      <BottomBar mode={ui.mode} view={ui.view} readOnly={ui.readOnly} status={ui.status} width={width} theme={theme} />
    </Box>
  );
}

/**
 * beacons/s as shown: a per-second count jitters by one or two around a steady rate (4 agents every 2 s give 1-3);
 * the header moves only when the rate really moved (more than 1, and more than a tenth), so an idle lab redraws nothing
 */
function steadyRate(prev: HeaderCounters | undefined, next: HeaderCounters): HeaderCounters {
  if (!prev) return next;
  const d = Math.abs(next.perSecond - prev.perSecond);
  return d > 1 && d > prev.perSecond / 10 ? next : { ...next, perSecond: prev.perSecond };
}

function position(n: number, offset: number, h: number): string {
  return n > h ? `rows ${offset + 1}-${Math.min(n, offset + h)} of ${n}` : `rows ${n}`;
}
