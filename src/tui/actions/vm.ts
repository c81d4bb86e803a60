import type { ActionUi, KeyBinding } from '../keymap.js';
import { quoteArg, vmLabel } from './vm-ref.js';

// Acting on a VM instance from a row: isolate, stop (hard power-off) and migrate. The row gives the VM's UUID and
// the hosts it runs on; the grammar line names the UUID and the host.

export interface VmTarget {
  uuid: string | undefined;
  name?: string;
  hosts: string[];
}

function hostAction<T>(action: 'isolate' | 'stop', key: string, help: string, target: (row: T, ui: ActionUi) => VmTarget): KeyBinding<T> {
  return {
    key,
    short: action,
    help,
    mutating: true,
    hint: true,
    run(row, ui) {
      const t = target(row, ui);
      if (!t.uuid) return ui.status('this finding is not about one VM', 'error');
      const uuid = t.uuid;
      const label = vmLabel(ui, uuid, t.name);
      if (!t.hosts.length) return ui.status(`${label} is not running on any host`, 'error');
      const lineFor = (h: string) => `${action} ${uuid} --host ${quoteArg(h)}`;
      const confirm = action === 'stop' ? (h: string) => `stop ${label} on ${h}? (y/N)` : undefined;
      if (t.hosts.length === 1) {
        const h = t.hosts[0]!;
        return confirm ? ui.confirm(confirm(h), lineFor(h)) : void ui.run(lineFor(h));
      }
      ui.pick(
        `${action} ${label} on which host?`,
        t.hosts.map((h) => ({ label: h, ok: true, detail: [], line: lineFor(h), confirm: confirm?.(h) })),
      );
    },
  };
}

export const isolateKey = <T>(help: string, target: (row: T, ui: ActionUi) => VmTarget) => hostAction('isolate', 'i', help, target);
export const stopKey = <T>(help: string, target: (row: T, ui: ActionUi) => VmTarget) => hostAction('stop', 'x', help, target);

/** migrate: pick a destination, each shown with its pre-check results; a failed one cannot be chosen */
export function migrateKey<T>(help: string, uuidOf: (row: T) => string): KeyBinding<T> {
  return {
    key: 'm',
    short: 'migrate',
    help,
    mutating: true,
    hint: true,
    async run(row, ui) {
      const uuid = uuidOf(row);
      const label = vmLabel(ui, uuid);
      ui.status(`checking destinations for ${label}…`, 'busy');
      try {
        const choices = await ui.api.migrationChoices(uuid);
        if (!choices.length) return ui.status(`no other host to migrate ${label} to`, 'error');
        const options = choices.map((c) => ({
          label: c.host,
          ok: c.ok,
          detail: c.checks.map((k) => `${k.ok ? '✓' : '✗'} ${k.name}: ${k.detail}`),
          line: c.ok ? `migrate ${uuid} --to ${quoteArg(c.host)}` : undefined,
          refuse: c.ok
            ? undefined
            : `${c.host}: pre-checks failed (${c.checks
                .filter((k) => !k.ok)
                .map((k) => k.name)
                .join(', ')})`,
        }));
        ui.pick(
          `migrate ${label} to:`,
          options,
          Math.max(
            0,
            choices.findIndex((c) => c.ok),
          ),
        );
      } catch (e) {
        ui.status(oneLine(e), 'error');
      }
    },
  };
}

export function oneLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0] ?? m;
}
