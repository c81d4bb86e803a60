// Every key the console answers to, per view: the single source for the hint bar, the `?` overlay and the
// read-only rule (mutating keys are hidden from hints and refused).
import type { ViewId } from './views.js';

export type ActionId =
  | 'approve' | 'reject' | 'isolate' | 'stop' | 'migrate' | 'ack' | 'authorize' | 'deny' | 'abort' | 'tune' | 'scan' | 'verify';

export interface KeyDef {
  key: string;
  /** label shown in hints/help when it differs from the key */
  label?: string;
  help: string;
  /** changes something: hidden and refused in read-only mode */
  mutating?: boolean;
  action?: ActionId;
  /** shown in the (short) hint bar, with this word */
  hint?: boolean;
  short?: string;
}

export const GLOBAL_KEYS: KeyDef[] = [
  { key: '1-6', help: 'switch view (Billboard, Pending, Findings, Migrations, Hosts, Audit)' },
  { key: 'j/k', label: 'j/k ↑/↓', help: 'move the selection' },
  { key: 'PgUp/PgDn', help: 'page up / down' },
  { key: 'g/G', help: 'first / last row' },
  { key: 'enter', short: 'details', help: 'details of the selected row (esc closes)', hint: true },
  { key: '/', short: 'filter', help: 'filter rows by regex (leading ! inverts; empty clears)', hint: true },
  { key: ':', short: 'command', help: 'command palette (tab completes, ↑/↓ history)', hint: true },
  { key: 's', short: 'sort', help: 'cycle the sort order', hint: true },
  { key: 'esc', help: 'clear the filter / close an overlay' },
  { key: '?', short: 'help', help: 'this help', hint: true },
  { key: 'q', short: 'quit', label: 'q ctrl-c', help: 'quit', hint: true },
];

export const VIEW_KEYS: Record<ViewId, KeyDef[]> = {
  billboard: [
    { key: 'a', help: 'approve the VM registration', mutating: true, action: 'approve', hint: true },
    { key: 'r', help: 'reject the VM registration (asks a reason)', mutating: true, action: 'reject', hint: true },
    { key: 'i', short: 'isolate', help: 'isolate the VM on its host (asks which host when it runs on several)', mutating: true, action: 'isolate', hint: true },
    { key: 'x', short: 'stop', help: 'stop the VM on a host (asks to confirm)', mutating: true, action: 'stop', hint: true },
    { key: 'm', short: 'migrate', help: 'migrate: pick a destination, each shown with its pre-check results', mutating: true, action: 'migrate', hint: true },
  ],
  pending: [
    { key: 'a', help: 'approve the registration', mutating: true, action: 'approve', hint: true },
    { key: 'r', help: 'reject the registration (asks a reason)', mutating: true, action: 'reject', hint: true },
  ],
  findings: [
    { key: 'c', short: 'ack', help: 'acknowledge the finding', mutating: true, action: 'ack', hint: true },
    { key: 'i', short: 'isolate', help: "isolate the finding's VM", mutating: true, action: 'isolate', hint: true },
    { key: 'x', short: 'stop', help: "stop the finding's VM (asks to confirm)", mutating: true, action: 'stop', hint: true },
  ],
  migrations: [
    { key: 'A', help: 'authorize the job', mutating: true, action: 'authorize', hint: true },
    { key: 'D', help: 'deny the job (asks a reason)', mutating: true, action: 'deny', hint: true },
    { key: 'X', short: 'abort', help: 'abort the job (asks to confirm)', mutating: true, action: 'abort', hint: true },
    { key: 't', short: 'tune', help: "apply the convergence estimate's suggested bandwidth / max downtime", mutating: true, action: 'tune', hint: true },
  ],
  hosts: [{ key: 'S', short: 'scan', help: 'scan the selected host now', action: 'scan', hint: true }],
  audit: [{ key: 'V', short: 'verify', help: 'verify the audit chain', action: 'verify', hint: true }],
};

export function viewKey(view: ViewId, input: string): KeyDef | undefined {
  return VIEW_KEYS[view].find((k) => k.key === input);
}

/** the hint bar's entries for a view: view keys first, then the global ones; read-only drops mutating keys */
export function hints(view: ViewId, readOnly: boolean): string[] {
  const label = (k: KeyDef) => `${k.key} ${k.short ?? k.help.split(/[ (:]/)[0]}`;
  return [
    ...VIEW_KEYS[view].filter((k) => k.hint && !(readOnly && k.mutating)).map(label),
    ...GLOBAL_KEYS.filter((k) => k.hint).map(label),
  ];
}
