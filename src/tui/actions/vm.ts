import type { ActionUi, KeyBinding } from '../keymap.js';
import type { PickOption } from '../controller.js';
import { quoteArg, vmLabel } from './vm-ref.js';

// Acting on a VM instance from a row: isolate, stop (a hard power-off) and migrate. The row gives the VM's UUID and
// the hosts it runs on; the grammar line names the UUID and the host. Both disruptive keys are uppercase and ask
// first; on a VM that runs twice the picker marks the home (registered) copy, preselects the other one, and
// powering off the home copy takes typing its host's name.

export interface VmTarget {
  uuid: string | undefined;
  name?: string;
  hosts: string[];
}

type HostVerb = 'isolate' | 'stop';

const WHAT: Record<HostVerb, string> = {
  stop: 'hard power-off (virsh destroy: no guest shutdown)',
  isolate: 'cut off its network (links down; it keeps running)',
};

/** the host the VM's registration calls home, when it is approved and has one (its row says) */
function homeHostOf(ui: ActionUi, uuid: string): string | undefined {
  return ui.data().snapshot.rows.find((r) => r.uuid === uuid)?.homeHost;
}

function hostAction<T>(verb: HostVerb, key: string, help: string, target: (row: T, ui: ActionUi) => VmTarget): KeyBinding<T> {
  return {
    key,
    short: verb,
    help,
    mutating: true,
    hint: true,
    danger: true,
    async run(row, ui) {
      const t = target(row, ui);
      if (!t.uuid) return ui.status('this finding is not about one VM', 'error');
      const uuid = t.uuid;
      const label = vmLabel(ui, uuid, t.name);
      if (!t.hosts.length) return ui.status(`${label} is not running on any host: nothing to ${verb}`, 'error');
      const lineFor = (h: string) => `${verb} ${uuid} --host ${quoteArg(h)}`;
      const ask = (h: string) => `${verb} ${label} on ${h}: ${WHAT[verb]}? (y/N)`;
      if (t.hosts.length === 1) return ui.confirm(ask(t.hosts[0]!), lineFor(t.hosts[0]!));
      const home = homeHostOf(ui, uuid);
      const options: PickOption[] = t.hosts.map((h) =>
        h === home
          ? {
              label: `${h}  (home: the registered copy)`,
              ok: true,
              detail: [`${h} is ${label}'s home host: this is most likely the real VM.`, `${verb}: ${WHAT[verb]}`],
              choose: () =>
                ui.prompt(`${verb} the HOME copy of ${label} on ${h}? type ${h} to confirm: `, (text) =>
                  text === h ? lineFor(h) : undefined,
                ),
            }
          : { label: `${h}${home ? '  (copy)' : ''}`, ok: true, detail: [`${verb}: ${WHAT[verb]}`], line: lineFor(h), confirm: ask(h) },
      );
      const other = home ? t.hosts.findIndex((h) => h !== home) : 0;
      ui.pick(`${verb} ${label} on which host?`, options, Math.max(0, other));
    },
  };
}

export const isolateKey = <T>(help: string, target: (row: T, ui: ActionUi) => VmTarget) => hostAction('isolate', 'I', help, target);
export const stopKey = <T>(help: string, target: (row: T, ui: ActionUi) => VmTarget) => hostAction('stop', 'X', help, target);

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
        ui.status(e instanceof Error ? e.message : String(e), 'error');
      }
    },
  };
}
