// The Ink console: composes header, view table, detail pane / overlays and the bottom bar. All state lives in
// TuiStore (console data, ≤ 10 Hz) and Controller (UI state, keys); components only render them.
import React, { useEffect, useMemo } from 'react';
import { Box, render, useApp, useInput, type Instance } from 'ink';
import type { ConsoleApi } from '../console/api.js';
import type { MigrationJob } from '../model/types.js';
import { Controller, detailHeight, tableHeight } from './controller.js';
import { BottomBar } from './components/bottom.js';
import { DetailPane } from './components/detail-pane.js';
import { Header } from './components/header.js';
import { MigrationPanel } from './components/migration-panel.js';
import { HelpOverlay, OutputOverlay, PickOverlay } from './components/overlays.js';
import { Table } from './components/table.js';
import { useTerminalSize, useTuiData, useUi } from './hooks.js';
import { TuiStore, type TuiStoreOptions } from './store.js';
import { makeTheme, noColorFromEnv } from './theme.js';
import { VIEWS } from './views.js';

export interface TuiOptions {
  readOnly: boolean;
  noColor?: boolean;
}

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

  const width = Math.max(40, ui.cols);
  const rows = Math.max(12, ui.rows);
  // one line short of the terminal: a frame as tall as the screen makes Ink clear the terminal on each redraw
  const bodyH = rows - 1 - 2 - 2;
  const view = VIEWS[ui.view];
  const cur = ctl.cursor();
  const item = cur.list[cur.index];
  const mode = ui.mode;

  let body: React.ReactNode;
  if (mode.kind === 'help') body = <HelpOverlay view={ui.view} readOnly={ui.readOnly} height={bodyH} width={width} theme={theme} />;
  else if (mode.kind === 'output') body = <OutputOverlay mode={mode} height={bodyH} width={width} theme={theme} />;
  else if (mode.kind === 'pick') body = <PickOverlay mode={mode} height={bodyH} width={width} theme={theme} />;
  else if (mode.kind === 'detail') {
    body = item ? (
      ui.view === 'migrations' ? (
        <Box flexDirection="column" height={bodyH}>
          <MigrationPanel job={item as MigrationJob} history={data.history.get((item as MigrationJob).id) ?? []} height={Math.min(10, bodyH - 1)} width={width} readOnly={ui.readOnly} theme={theme} />
          <DetailPane lines={view.detail(item, data)} height={Math.max(1, bodyH - 12)} width={width} theme={theme} />
        </Box>
      ) : (
        <DetailPane lines={view.detail(item, data)} height={bodyH - 1} width={width} theme={theme} title={`${view.title} details (esc closes)`} />
      )
    ) : (
      <DetailPane lines={['nothing selected']} height={bodyH - 1} width={width} theme={theme} />
    );
  } else {
    const th = tableHeight(rows, ui.view);
    const dh = detailHeight(rows, ui.view);
    body = (
      <Box flexDirection="column" height={bodyH}>
        <Table view={view} list={cur.list} index={cur.index} offset={cur.offset} height={th} width={width} now={data.now} theme={theme} />
        {ui.view === 'migrations' ? (
          <MigrationPanel job={item as MigrationJob | undefined} history={item ? (data.history.get((item as MigrationJob).id) ?? []) : []} height={dh} width={width} readOnly={ui.readOnly} theme={theme} />
        ) : (
          <DetailPane lines={item ? view.detail(item, data) : []} height={dh} width={width} theme={theme} />
        )}
      </Box>
    );
  }

  return (
    <Box flexDirection="column" width={width} height={rows - 1}>
      <Header
        snapshot={data.snapshot}
        pending={data.pending.length}
        view={ui.view}
        sortName={view.sorts[ui.sorts[ui.view] % view.sorts.length]?.name ?? ''}
        filter={ui.filters[ui.view]?.source}
        position={position(cur.list.length, cur.offset, tableHeight(rows, ui.view))}
        readOnly={ui.readOnly}
        theme={theme}
        width={width}
      />
      {body}
      <BottomBar mode={mode} view={ui.view} readOnly={ui.readOnly} status={ui.status} width={width} theme={theme} />
    </Box>
  );
}

function position(n: number, offset: number, h: number): string {
  return n > h ? `rows ${offset + 1}-${Math.min(n, offset + h)} of ${n}` : `rows ${n}`;
}

export interface MountOptions extends TuiOptions {
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
  store?: TuiStoreOptions;
  /** ink's per-frame callback (bench instrumentation) */
  onRender?: (m: { renderTime: number }) => void;
  /** switch to the terminal's alternate screen while running (default: when stdout is a TTY) */
  altScreen?: boolean;
}

export interface MountedTui {
  ink: Instance;
  store: TuiStore;
  ctl: Controller;
  /** resolves with the exit code once the user quits */
  done: Promise<number>;
}

/** mount the console on the given streams (runTui for the real terminal; tests and the bench use this) */
export function mountTui(api: ConsoleApi, opts: MountOptions): MountedTui {
  const stdout = opts.stdout ?? process.stdout;
  const store = new TuiStore(api, opts.store);
  const ctl = new Controller(api, store, { readOnly: opts.readOnly, cols: stdout.columns || 80, rows: stdout.rows || 24 });
  const alt = opts.altScreen ?? !!stdout.isTTY;
  let code = 0;
  // logs never reach the screen: anything printing through console while the TUI runs on the real terminal is dropped
  const restoreConsole = stdout === process.stdout ? silenceConsole() : () => {};
  if (alt) stdout.write('\x1b[?1049h\x1b[H');
  const ink = render(<App ctl={ctl} store={store} noColor={opts.noColor ?? noColorFromEnv()} onQuit={(c) => (code = c)} />, {
    stdout,
    // ink spreads these over its defaults: an explicit undefined would replace process.stdin
    stdin: opts.stdin ?? process.stdin,
    stderr: opts.stderr ?? process.stderr,
    exitOnCtrlC: false,
    patchConsole: false,
    onRender: opts.onRender,
  });
  const done = ink
    .waitUntilExit()
    .then(
      () => code,
      () => 1,
    )
    .finally(() => {
      store.close();
      if (alt) stdout.write('\x1b[?1049l');
      restoreConsole();
    });
  return { ink, store, ctl, done };
}

function silenceConsole(): () => void {
  const names = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = names.map((n) => console[n]);
  for (const n of names) console[n] = () => {};
  return () => names.forEach((n, i) => (console[n] = saved[i]!));
}

/** the interactive console: renders until q / ctrl-c, then resolves with the exit code */
export async function runTui(api: ConsoleApi, opts: TuiOptions): Promise<number> {
  return mountTui(api, opts).done;
}
