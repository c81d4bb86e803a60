// The console's UI state and key handling, outside React: which view, cursors, filters, sorts, the open overlay
// (prompt, confirm, picker, help, output) and the status line. Every action becomes one line of the command
// grammar sent through ConsoleApi.run, the same path `script` uses. React only renders getState().
import type { ConsoleApi } from '../console/api.js';
import { parseFilter, type RowFilter } from './filter.js';
import { globalKey, type ActionUi, type KeyFlags, type Nav } from './keymap.js';
import { VIEW_KEYS } from './view-keys.js';
import { helpLines } from './help.js';
import { completeValue } from './complete.js';
import { wrapLines } from './format.js';
import type { TuiStore } from './store.js';
import { VIEW_ORDER, VIEWS, visibleItems, type ViewId } from './views.js';

/** the subset of Ink's Key this needs (keeps the controller testable without Ink): the global keys' flags, and more */
export interface KeyInfo extends KeyFlags {
  leftArrow?: boolean;
  rightArrow?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

export interface PickOption {
  label: string;
  ok: boolean;
  detail: string[];
  /** grammar line to run when chosen; absent with `refuse` set means it cannot be chosen */
  line?: string;
  refuse?: string;
  /** ask before running */
  confirm?: string;
  /** run instead of `line` when chosen (a further step, e.g. a typed confirmation) */
  choose?: () => void;
}

export type Mode =
  | { kind: 'normal' }
  | { kind: 'help'; scroll: number }
  | { kind: 'detail' }
  | { kind: 'output'; title: string; lines: string[]; scroll: number }
  | {
      kind: 'prompt';
      purpose: 'filter' | 'command' | 'reason';
      label: string;
      text: string;
      completions: string[];
      historyAt: number;
      build?: (text: string) => string | undefined;
    }
  | { kind: 'confirm'; question: string; line: string }
  | { kind: 'pick'; title: string; options: PickOption[]; index: number };

export interface Cursor {
  index: number;
  offset: number;
  id?: string;
}

export interface Status {
  text: string;
  kind: 'info' | 'error' | 'busy';
}

export interface UiState {
  view: ViewId;
  mode: Mode;
  cursors: Record<ViewId, Cursor>;
  filters: Record<ViewId, RowFilter | undefined>;
  sorts: Record<ViewId, number>;
  status?: Status;
  cols: number;
  rows: number;
  readOnly: boolean;
  seq: number;
}

const HISTORY_MAX = 100;
const perView = <T>(f: () => T): Record<ViewId, T> => Object.fromEntries(VIEW_ORDER.map((v) => [v, f()])) as Record<ViewId, T>;

/** how tall the table is for a terminal of `rows` lines in `view` (header 2, column titles 1, detail, hints, status) */
export function tableHeight(rows: number, view: ViewId): number {
  return Math.max(3, rows - 1 - 2 - 1 - (detailHeight(rows, view) + 1) - 2);
}

export function detailHeight(rows: number, view: ViewId): number {
  if (view === 'migrations') return rows >= 30 ? 10 : 9;
  return rows >= 30 ? 6 : 4;
}

export class Controller {
  private state: UiState;
  private readonly listeners = new Set<() => void>();
  private readonly history: string[] = [];
  private busy = 0;
  /** the row under a cursor that has not moved yet (by id), so it stays put when rows move */
  private pinned: Partial<Record<ViewId, string>> = {};
  /** the list and index of the last frame drawn */
  private shown: { view: ViewId; list: readonly object[]; index: number } | undefined;
  private readonly ui: ActionUi & { readOnly(): boolean };
  quit: (code: number) => void = () => {};

  constructor(
    private readonly api: ConsoleApi,
    private readonly store: TuiStore,
    opts: { readOnly: boolean; cols?: number; rows?: number },
  ) {
    this.state = {
      view: 'billboard',
      mode: { kind: 'normal' },
      cursors: perView(() => ({ index: 0, offset: 0 })),
      filters: perView(() => undefined),
      sorts: perView(() => 0),
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      readOnly: opts.readOnly || api.readOnly,
      seq: 0,
    };
    this.ui = this.makeUi();
  }

  getState = (): UiState => this.state;

  subscribe = (l: () => void): (() => void) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };

  private set(patch: Partial<UiState>): void {
    // a new list (another view, filter or sort) is not the drawn one until the next frame
    if (patch.view !== undefined || patch.filters || patch.sorts) this.shown = undefined;
    if (patch.filters) this.pinned = {};
    this.state = { ...this.state, ...patch, seq: this.state.seq + 1 };
    for (const l of this.listeners) l();
  }

  setSize(cols: number, rows: number): void {
    if (cols !== this.state.cols || rows !== this.state.rows) this.set({ cols, rows });
  }

  status(text: string, kind: Status['kind'] = 'info'): void {
    this.set({ status: { text, kind } });
  }

  // ─── the current list and selection ──────────────────────────────────────────────────────────

  list(view: ViewId = this.state.view): readonly object[] {
    const def = VIEWS[view];
    return visibleItems(def, def.items(this.store.getState()), this.state.filters[view], this.state.sorts[view]);
  }

  /** the cursor reconciled with the current list: it follows the selected row's identity when rows move */
  cursor(view: ViewId = this.state.view): Cursor & { list: readonly object[] } {
    const list = this.list(view);
    const c = this.state.cursors[view];
    const def = VIEWS[view];
    const id = c.id ?? this.pinned[view];
    let index = c.index;
    if (id !== undefined) {
      const at = list[index];
      if (!at || def.rowId(at) !== id) {
        const found = list.findIndex((it) => def.rowId(it) === id);
        if (found >= 0) index = found;
      }
    }
    index = Math.max(0, Math.min(index, list.length - 1));
    const h = tableHeight(this.state.rows, view);
    const offset = Math.max(0, Math.min(c.offset, index, Math.max(0, list.length - h)), index - h + 1);
    return { index, offset, id, list };
  }

  /**
   * The cursor as the frame being drawn shows it. Keys act on what was drawn (the highlighted row), not on a
   * newer list that no one has seen yet; and the row first shown under the cursor stays under it when rows move.
   */
  frameCursor(): Cursor & { list: readonly object[] } {
    const view = this.state.view;
    const c = this.cursor(view);
    const item = c.list[c.index];
    if (item && this.state.cursors[view].id === undefined) this.pinned[view] = VIEWS[view].rowId(item);
    this.shown = { view, list: c.list, index: c.index };
    return c;
  }

  /** the list and index keys act on: the drawn frame's, else the current list's */
  private current(): { list: readonly object[]; index: number } {
    const s = this.shown;
    return s && s.view === this.state.view ? s : this.cursor();
  }

  selected<T extends object>(): T | undefined {
    const c = this.current();
    return c.list[c.index] as T | undefined;
  }

  private moveTo(index: number): void {
    const view = this.state.view;
    const { list } = this.current();
    const { offset } = this.cursor();
    const i = Math.max(0, Math.min(index, list.length - 1));
    const h = tableHeight(this.state.rows, view);
    const off = i < offset ? i : i >= offset + h ? i - h + 1 : offset;
    const item = list[i];
    // keys in one chunk (a paste, tmux) arrive before the next frame: the next one acts from here
    if (this.shown?.view === view) this.shown = { view, list, index: i };
    this.set({ cursors: { ...this.state.cursors, [view]: { index: i, offset: off, id: item ? VIEWS[view].rowId(item) : undefined } } });
  }

  private switchView(view: ViewId): void {
    this.store.setWantAudit(view === 'audit');
    this.set({ view, mode: { kind: 'normal' } });
  }

  // ─── keys ────────────────────────────────────────────────────────────────────────────────────

  handleKey = (input: string, key: KeyInfo): void => {
    // Keys typed faster than a frame (or sent by tmux/a paste) arrive as one chunk: replay them one by one,
    // so "/web\r" filters exactly as if typed slowly. A bare chunk with no special key is plain text.
    if (input.length > 1 && !Object.values(key).some(Boolean) && (this.state.mode.kind !== 'prompt' || /[\r\n]/.test(input))) {
      for (const ch of input) this.handleKey(ch === '\r' || ch === '\n' ? '' : ch, ch === '\r' || ch === '\n' ? { return: true } : {});
      return;
    }
    if (key.ctrl && input === 'c') return this.quit(0);
    const mode = this.state.mode;
    switch (mode.kind) {
      case 'prompt':
        return this.promptKey(mode, input, key);
      case 'confirm':
        if (input === 'y' || input === 'Y') {
          this.set({ mode: { kind: 'normal' } });
          void this.runLine(mode.line);
        } else this.set({ mode: { kind: 'normal' }, status: { text: 'cancelled', kind: 'info' } });
        return;
      case 'pick':
        return this.pickKey(mode, input, key);
      case 'help':
      case 'output': {
        // a pop-up that any key closes passes that key on: `S` then `6` scans, then switches to Audit
        const len = mode.kind === 'output' ? mode.lines.length : helpLines(this.state.view, this.state.readOnly).length;
        if (key.downArrow || input === 'j') return this.set({ mode: { ...mode, scroll: Math.min(mode.scroll + 1, Math.max(0, len - 1)) } });
        if (key.upArrow || input === 'k') return this.set({ mode: { ...mode, scroll: Math.max(0, mode.scroll - 1) } });
        this.set({ mode: { kind: 'normal' } });
        if (key.escape || key.return || (mode.kind === 'output' && input === 'q') || (mode.kind === 'help' && input === '?')) return;
        break;
      }
      case 'detail':
        if (key.escape || key.return || input === 'q') return this.set({ mode: { kind: 'normal' } });
        break; // other keys act as in normal mode (move, actions) with the detail still open
    }
    this.normalKey(input, key);
  };

  private normalKey(input: string, key: KeyInfo): void {
    const global = globalKey(input, key);
    if (global) return global.g.run(this.nav, global.input);
    if (VIEW_KEYS[this.state.view].press(input, this.selected(), this.ui)) return;
    if (input.length === 1 && input >= ' ' && input !== ' ')
      this.status(`${input}: not a key in the ${VIEWS[this.state.view].title} view (? lists them)`, 'info');
  }

  /** what the global keys move and open */
  private readonly nav: Nav = {
    move: (delta) => {
      const { index } = this.current();
      const h = tableHeight(this.state.rows, this.state.view);
      const to = { 'page-down': index + h, 'page-up': index - h, first: 0, last: Number.MAX_SAFE_INTEGER } as const;
      this.moveTo(typeof delta === 'number' ? index + delta : to[delta]);
    },
    toggleDetail: () => this.set({ mode: this.state.mode.kind === 'detail' ? { kind: 'normal' } : { kind: 'detail' } }),
    escape: () => {
      const view = this.state.view;
      if (this.state.filters[view])
        this.set({ filters: { ...this.state.filters, [view]: undefined }, status: { text: 'filter cleared', kind: 'info' } });
    },
    switchView: (n) => this.switchView(VIEW_ORDER[n - 1]!),
    openHelp: () => this.set({ mode: { kind: 'help', scroll: 0 } }),
    openFilter: () =>
      this.set({
        mode: {
          kind: 'prompt',
          purpose: 'filter',
          label: '/',
          // a fresh filter each time (the current one is in the header; esc clears it)
          text: '',
          completions: [],
          historyAt: -1,
        },
      }),
    openPalette: () =>
      this.set({ mode: { kind: 'prompt', purpose: 'command', label: ':', text: '', completions: [], historyAt: this.history.length } }),
    cycleSort: () => {
      const view = this.state.view;
      const n = (this.state.sorts[view] + 1) % VIEWS[view].sorts.length;
      this.set({ sorts: { ...this.state.sorts, [view]: n }, status: { text: `sorted by ${VIEWS[view].sorts[n]!.name}`, kind: 'info' } });
    },
    showMessage: () => {
      const st = this.state.status;
      if (!st) return this.status('no message to show');
      const lines = wrapLines(st.text.split('\n'), this.state.cols - 2);
      this.set({ mode: { kind: 'output', title: st.kind === 'error' ? 'error' : 'message', lines, scroll: 0 } });
    },
    quit: () => this.quit(0),
  };

  /** what a view's key may do: ask, pick, prompt, and run grammar lines */
  /** the header's words on where this console runs (ConsoleApi.attachment; "embedded" when the api has none) */
  session(): string {
    return this.api.attachment?.() ?? 'embedded';
  }

  private makeUi(): ActionUi & { readOnly(): boolean } {
    return {
      api: this.api,
      readOnly: () => this.state.readOnly,
      data: () => this.store.getState(),
      run: (line) => this.runLine(line),
      confirm: (question, line) => this.set({ mode: { kind: 'confirm', question, line } }),
      prompt: (label, build) =>
        this.set({ mode: { kind: 'prompt', purpose: 'reason', label, text: '', completions: [], historyAt: -1, build } }),
      pick: (title, options, index = 0) => this.set({ status: undefined, mode: { kind: 'pick', title, options, index } }),
      status: (text, kind = 'info') => this.status(text, kind),
    };
  }

  private promptKey(mode: Extract<Mode, { kind: 'prompt' }>, input: string, key: KeyInfo): void {
    if (key.escape) return this.set({ mode: { kind: 'normal' } });
    if (key.return) {
      this.set({ mode: { kind: 'normal' } });
      return this.submitPrompt(mode);
    }
    if (key.backspace || key.delete) return this.set({ mode: { ...mode, text: mode.text.slice(0, -1), completions: [] } });
    if (mode.purpose === 'command' && (key.upArrow || key.downArrow)) {
      const at = Math.max(0, Math.min(this.history.length, mode.historyAt + (key.upArrow ? -1 : 1)));
      return this.set({ mode: { ...mode, historyAt: at, text: this.history[at] ?? '', completions: [] } });
    }
    if (mode.purpose === 'command' && key.tab) return this.complete(mode);
    // ctrl-u clears the line, ctrl-w the last word (as in a shell)
    if (key.ctrl && input === 'u') return this.set({ mode: { ...mode, text: '', completions: [] } });
    if (key.ctrl && input === 'w') return this.set({ mode: { ...mode, text: mode.text.replace(/\S*\s*$/, ''), completions: [] } });
    if (key.ctrl || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown) return;
    // pasted text may arrive in one chunk; keep printable characters only
    const printable = input.replace(/[\x00-\x1f\x7f]/g, '');
    if (printable) this.set({ mode: { ...mode, text: (mode.text + printable).slice(0, 500), completions: [] } });
  }

  private complete(mode: Extract<Mode, { kind: 'prompt' }>): void {
    let cands: string[];
    try {
      cands = completeValue(mode.text, this.store.getState()) ?? this.api.complete(mode.text);
    } catch {
      cands = [];
    }
    if (!cands.length) return this.set({ mode: { ...mode, completions: [] }, status: { text: 'no completion', kind: 'info' } });
    const head = mode.text.slice(0, mode.text.lastIndexOf(' ') + 1);
    // candidates may be whole lines (start with the text) or words for the last word
    const asLines = cands.map((c) => (c.startsWith(mode.text) && mode.text !== head ? c : head + c));
    let common = asLines[0]!;
    for (const c of asLines) while (!c.startsWith(common)) common = common.slice(0, -1);
    const text = asLines.length === 1 ? common + ' ' : common.length > mode.text.length ? common : mode.text;
    this.set({ mode: { ...mode, text, completions: asLines.length > 1 ? cands : [] } });
  }

  private submitPrompt(mode: Extract<Mode, { kind: 'prompt' }>): void {
    const view = this.state.view;
    if (mode.purpose === 'filter') {
      if (mode.text === '' || mode.text === '!')
        return this.set({ filters: { ...this.state.filters, [view]: undefined }, status: { text: 'filter cleared', kind: 'info' } });
      const f = parseFilter(mode.text);
      if (!f.ok) return this.status(f.error, 'error');
      this.set({ filters: { ...this.state.filters, [view]: f }, cursors: { ...this.state.cursors, [view]: { index: 0, offset: 0 } } });
      return this.status(`filter /${mode.text}/: ${this.list().length} rows`);
    }
    if (mode.purpose === 'command') {
      const line = mode.text.trim();
      if (!line) return;
      if (this.history[this.history.length - 1] !== line) this.history.push(line);
      if (this.history.length > HISTORY_MAX) this.history.splice(0, this.history.length - HISTORY_MAX);
      void this.runLine(line);
      return;
    }
    if (!mode.build) return;
    const line = mode.build(mode.text.trim());
    if (line === undefined) return this.status('cancelled: the answer did not match', 'info');
    void this.runLine(line);
  }

  private pickKey(mode: Extract<Mode, { kind: 'pick' }>, input: string, key: KeyInfo): void {
    if (key.escape || input === 'q') return this.set({ mode: { kind: 'normal' }, status: { text: 'cancelled', kind: 'info' } });
    if (key.downArrow || input === 'j') return this.set({ mode: { ...mode, index: Math.min(mode.options.length - 1, mode.index + 1) } });
    if (key.upArrow || input === 'k') return this.set({ mode: { ...mode, index: Math.max(0, mode.index - 1) } });
    if (!key.return) return;
    const opt = mode.options[mode.index];
    if (!opt) return;
    if (opt.choose) {
      this.set({ mode: { kind: 'normal' } });
      return opt.choose();
    }
    if (!opt.line) return this.status(opt.refuse ?? `${opt.label}: cannot be chosen`, 'error');
    if (opt.confirm) return this.set({ mode: { kind: 'confirm', question: opt.confirm, line: opt.line } });
    this.set({ mode: { kind: 'normal' } });
    void this.runLine(opt.line);
  }

  /** run one grammar line; the result (or error) lands in the status line, never on the screen's floor */
  async runLine(line: string): Promise<void> {
    let mutating = true;
    try {
      mutating = this.api.isMutating(line);
    } catch {
      /* unknown: treat as mutating */
    }
    if (this.state.readOnly && mutating) return this.status(`read-only: "${line}" refused`, 'error');
    this.busy++;
    this.status(`running: ${line}`, 'busy');
    try {
      const r = await this.api.run(line);
      if (r.ok) {
        const text = r.text ?? `${r.command}: ok`;
        const lines = text.split('\n');
        if (lines.length > 1)
          this.set({ mode: { kind: 'output', title: line, lines, scroll: 0 }, status: { text: `${line}: ok`, kind: 'info' } });
        else this.status(lines.join(' '), 'info');
      } else this.status(`${r.error.code}: ${r.error.message}`, 'error');
    } catch (e) {
      this.status(e instanceof Error ? e.message : String(e), 'error');
    } finally {
      this.busy--;
      this.store.publishNow();
    }
  }

  isBusy(): boolean {
    return this.busy > 0;
  }
}
