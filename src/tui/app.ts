// The Ink console's entry points. No JSX here on purpose: './production.js' must be evaluated before React
// and Ink (ESM runs imports in order), and JSX would make the compiler put react/jsx-runtime first.
import './production.js';
import React from 'react';
import { render, type Instance } from 'ink';
import type { ConsoleApi } from '../console/api.js';
import { App } from './components/app-view.js';
import { Controller } from './controller.js';
import { TuiStore, type TuiStoreOptions } from './store.js';
import { noColorFromEnv } from './theme.js';
import { installInkLineCache } from './ink-line-cache.js';

// Ink's per-frame text processing, cached across frames (see ink-line-cache.ts); Ink runs as shipped if it can't be
await installInkLineCache();

export interface TuiOptions {
  readOnly: boolean;
  noColor?: boolean;
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
  const app = React.createElement(App, { ctl, store, noColor: opts.noColor ?? noColorFromEnv(), onQuit: (c: number) => (code = c) });
  const ink = render(app, {
    stdout,
    // ink spreads these over its defaults: an explicit undefined would replace process.stdin
    stdin: opts.stdin ?? process.stdin,
    stderr: opts.stderr ?? process.stderr,
    exitOnCtrlC: false,
    patchConsole: false,
    onRender: opts.onRender,
    // data already arrives at most 10×/s (TuiStore); Ink's default 30 fps cap only delays a keypress that lands
    // just after a data frame by up to 33 ms. Frames cost a few ms now (ink-line-cache.ts), so allow 60.
    maxFps: 60,
    // (incrementalRendering, which rewrites only changed lines, left off: in tmux it left stale lines on screen)
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
