// Every key the console answers to, as records: a key, its help, whether it changes something, and the code it
// runs, declared side by side. The hint bar, the `?` overlay, the read-only rule and the key dispatch all read
// these records; nothing else lists keys.
import type { ConsoleApi } from '../console/api.js';
import type { PickOption } from './controller.js';
import type { TuiData } from './store.js';

/** What a key's record says about it (hints, help, read-only). */
export interface KeyDoc {
  key: string;
  /** label shown in hints/help when it differs from the key */
  label?: string;
  help: string;
  /** shown in the (short) hint bar, with this word */
  hint?: boolean;
  short?: string;
  /** changes something: hidden from hints and refused in read-only mode */
  mutating?: boolean;
  /** disrupts a running VM or job (power-off, network cut, abort): an uppercase key that always asks first */
  danger?: boolean;
}

/** the convention the help states for disruptive keys */
export const DANGER_RULE = 'uppercase keys marked ! disrupt a running VM or job (power-off, network cut, abort) and always ask first';

/** What an action may do to the console's UI: every action ends as grammar lines through run(). */
export interface ActionUi {
  readonly api: ConsoleApi;
  data(): TuiData;
  run(line: string): Promise<void>;
  confirm(question: string, line: string): void;
  /** build returns the line to run, or undefined to refuse the answer (nothing runs) */
  prompt(label: string, build: (text: string) => string | undefined): void;
  pick(title: string, options: PickOption[], index?: number): void;
  status(text: string, kind?: 'info' | 'error' | 'busy'): void;
}

/** A view's key: its record and its handler, which receives the selected row already typed. */
export interface KeyBinding<T> extends KeyDoc {
  run(row: T, ui: ActionUi): void | Promise<void>;
}

/** A view's keys, bound to the type of its rows through a guard (no casts at the call site). */
export interface ViewKeys {
  readonly docs: readonly KeyDoc[];
  /** @returns false when the key is not one of this view's */
  press(input: string, selected: object | undefined, ui: ActionUi & { readOnly(): boolean }): boolean;
}

export function viewKeys<T extends object>(is: (item: object) => item is T, bindings: readonly KeyBinding<T>[]): ViewKeys {
  return {
    docs: bindings,
    press(input, selected, ui) {
      const b = bindings.find((k) => k.key === input);
      if (!b) return false;
      if (b.mutating && ui.readOnly()) ui.status(`read-only: "${b.key}" (${b.short ?? b.help.split(/[ (:]/)[0]}) is disabled`, 'error');
      else if (!selected || !is(selected)) ui.status('nothing selected', 'error');
      else void b.run(selected, ui);
      return true;
    },
  };
}

/** The navigation a global key may use (the controller provides it). */
export interface Nav {
  move(delta: number | 'page-down' | 'page-up' | 'first' | 'last'): void;
  toggleDetail(): void;
  escape(): void;
  switchView(n: number): void;
  openHelp(): void;
  openFilter(): void;
  openPalette(): void;
  /** the status line's message in full (an error longer than the line) */
  showMessage(): void;
  cycleSort(): void;
  quit(): void;
}

/** the subset of Ink's Key the global keys look at */
export interface KeyFlags {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  ctrl?: boolean;
}

export interface GlobalKey extends KeyDoc {
  matches(input: string, key: KeyFlags): boolean;
  run(nav: Nav, input: string): void;
}

export const GLOBAL_KEYS: readonly GlobalKey[] = [
  {
    key: '1-6',
    help: 'switch view (Billboard, Pending, Findings, Migrations, Hosts, Audit)',
    matches: (i) => i >= '1' && i <= '6' && i.length === 1,
    run: (n, i) => n.switchView(Number(i)),
  },
  {
    key: 'j/k',
    label: 'j/k ↑/↓',
    help: 'move the selection',
    matches: (i, k) => !!k.downArrow || !!k.upArrow || i === 'j' || i === 'k',
    run: (n, i) => n.move(i === 'k' ? -1 : 1),
  },
  {
    key: 'PgUp/PgDn',
    help: 'page up / down',
    matches: (i, k) => !!k.pageDown || !!k.pageUp || (!!k.ctrl && (i === 'f' || i === 'b')),
    run: (n, i) => n.move(i === 'b' || i === 'page-up' ? 'page-up' : 'page-down'),
  },
  {
    key: 'g/G',
    help: 'first / last row',
    matches: (i, k) => !!k.home || !!k.end || i === 'g' || i === 'G',
    run: (n, i) => n.move(i === 'G' || i === 'end' ? 'last' : 'first'),
  },
  {
    key: 'enter',
    short: 'details',
    help: 'details of the selected row (esc closes)',
    hint: true,
    matches: (_i, k) => !!k.return,
    run: (n) => n.toggleDetail(),
  },
  {
    key: '/',
    short: 'filter',
    help: 'filter: a regex tried on each field (name, UUID, host, IP, state…; ^ anchors a field; leading ! inverts; empty clears)',
    hint: true,
    matches: (i) => i === '/',
    run: (n) => n.openFilter(),
  },
  {
    key: ':',
    short: 'command',
    help: 'command palette (tab completes, ↑/↓ history)',
    hint: true,
    matches: (i) => i === ':',
    run: (n) => n.openPalette(),
  },
  { key: 's', short: 'sort', help: 'cycle the sort order', hint: true, matches: (i) => i === 's', run: (n) => n.cycleSort() },
  { key: 'e', help: 'the last message in full (when the status line cut it)', matches: (i) => i === 'e', run: (n) => n.showMessage() },
  { key: 'esc', help: 'clear the filter / close an overlay', matches: (_i, k) => !!k.escape, run: (n) => n.escape() },
  { key: '?', short: 'help', help: 'this help', hint: true, matches: (i) => i === '?', run: (n) => n.openHelp() },
  { key: 'q', short: 'quit', label: 'q ctrl-c', help: 'quit', hint: true, matches: (i) => i === 'q', run: (n) => n.quit() },
];

/** The global key a keypress means, with the input normalised for its handler (arrows and page keys as words). */
export function globalKey(input: string, key: KeyFlags): { g: GlobalKey; input: string } | undefined {
  const named = key.upArrow
    ? 'k'
    : key.downArrow
      ? 'j'
      : key.pageUp
        ? 'page-up'
        : key.pageDown
          ? 'page-down'
          : key.home
            ? 'g'
            : key.end
              ? 'G'
              : input;
  const g = GLOBAL_KEYS.find((k) => k.matches(input, key));
  return g ? { g, input: named } : undefined;
}

/**
 * the hint bar for a view in `width` columns: view keys first, then the global ones; read-only drops mutating keys.
 * `? help` and `q quit` are always there: what does not fit goes from the middle.
 */
export function hints(view: readonly KeyDoc[], readOnly: boolean, width = Infinity): string {
  const label = (k: KeyDoc) => `${k.key} ${k.short ?? k.help.split(/[ (:]/)[0]}`;
  const keep = GLOBAL_KEYS.filter((k) => k.key === '?' || k.key === 'q').map(label);
  const rest = [
    ...view.filter((k) => k.hint && !(readOnly && k.mutating)),
    ...GLOBAL_KEYS.filter((k) => k.hint && k.key !== '?' && k.key !== 'q'),
  ].map(label);
  const out: string[] = [];
  let used = keep.join('  ').length;
  for (const h of rest) {
    if (used + h.length + 2 > width) break;
    out.push(h);
    used += h.length + 2;
  }
  return [...out, ...keep].join('  ');
}
