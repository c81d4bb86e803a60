// Mounts the console's App with ink-testing-library over the fake console (the real Console over a synthetic lab,
// test/support/fake-console.ts), and sends keys with a tick between.
import React from 'react';
import { render } from 'ink-testing-library';
import { App } from '../../src/tui/components/app-view.js';
import { Controller } from '../../src/tui/controller.js';
import { createFakeConsole, type FakeConsole, type FakeConsoleOptions } from '../support/fake-console.js';
import { installInkLineCache } from '../../src/tui/ink-line-cache.js';
import { TuiStore } from '../../src/tui/store.js';

export const KEY = {
  up: '\x1b[A',
  down: '\x1b[B',
  pageUp: '\x1b[5~',
  pageDown: '\x1b[6~',
  enter: '\r',
  esc: '\x1b',
  tab: '\t',
  backspace: '\x7f',
  ctrlC: '\x03',
};

export const tick = (ms = 15) => new Promise((r) => setTimeout(r, ms));

export interface Mounted {
  api: FakeConsole;
  ctl: Controller;
  store: TuiStore;
  quits: number[];
  frame(): string;
  lines(): string[];
  press(...keys: string[]): Promise<void>;
  type(text: string): Promise<void>;
  resize(cols: number, rows: number): Promise<void>;
  unmount(): void;
}

export async function mount(
  opts: FakeConsoleOptions & { uiReadOnly?: boolean; noColor?: boolean; cols?: number; rows?: number } = {},
): Promise<Mounted> {
  // as in production (app.ts): Ink's frame text goes through the shared line/row caches
  if (!(await installInkLineCache())) throw new Error('the Ink line cache did not install on the installed Ink');
  const api = await createFakeConsole(opts);
  const store = new TuiStore(api, { intervalMs: 5, clockMs: 0, now: api.now });
  const ctl = new Controller(api, store, { readOnly: !!opts.uiReadOnly });
  const quits: number[] = [];
  const r = render(<App ctl={ctl} store={store} noColor={opts.noColor ?? false} onQuit={(c) => quits.push(c)} />);
  const m: Mounted = {
    api,
    ctl,
    store,
    quits,
    frame: () => r.lastFrame() ?? '',
    lines: () => (r.lastFrame() ?? '').split('\n'),
    async press(...keys) {
      for (const k of keys) {
        r.stdin.write(k);
        await tick(k === KEY.esc ? 40 : 15);
      }
      await tick(20);
    },
    async type(text) {
      for (const ch of text) {
        r.stdin.write(ch);
        await tick(5);
      }
      await tick(15);
    },
    async resize(cols, rows) {
      Object.defineProperty(r.stdout, 'columns', { value: cols, configurable: true });
      Object.defineProperty(r.stdout, 'rows', { value: rows, configurable: true });
      r.stdout.emit('resize');
      await tick(30);
    },
    unmount() {
      r.unmount();
      store.close();
    },
  };
  await m.resize(opts.cols ?? 80, opts.rows ?? 24);
  return m;
}
