import { isTerminal } from '../../model/domain-states.js';
import type { MigrationJob } from '../../model/types.js';
import type { ActionUi, KeyBinding } from '../keymap.js';
import { quoteArg } from './vm-ref.js';

// A migration job's keys: authorize, deny (asking why), abort (asking to confirm), tune (the convergence estimate's
// suggestion). Each checks the job's state first, so nothing is asked that the console would then refuse.

/** false when `j` awaits authorization; else true, with the status line saying why the key does not apply */
function notAwaiting(j: MigrationJob, ui: ActionUi, what: string): boolean {
  if (j.state === 'awaiting-authorization') return false;
  ui.status(`${j.id} is ${j.state}: only a job awaiting authorization can be ${what}`, 'error');
  return true;
}

export const JOB_KEYS: readonly KeyBinding<MigrationJob>[] = [
  {
    key: 'a',
    short: 'authorize',
    help: 'authorize the job',
    mutating: true,
    hint: true,
    run: (j, ui) => (notAwaiting(j, ui, 'authorized') ? undefined : ui.run(`authorize ${j.id}`)),
  },
  {
    key: 'd',
    short: 'deny',
    help: 'deny the job (asks a reason)',
    mutating: true,
    hint: true,
    run: (j, ui) =>
      notAwaiting(j, ui, 'denied')
        ? undefined
        : ui.prompt(`deny ${j.id}, reason: `, (t) => `deny ${j.id}${t ? ` --reason ${quoteArg(t)}` : ''}`),
  },
  {
    key: 'X',
    short: 'abort',
    help: 'abort the job: the VM stays on its source (asks to confirm)',
    mutating: true,
    hint: true,
    danger: true,
    run(j, ui) {
      if (isTerminal(j.state)) return ui.status(`${j.id} is ${j.state}: nothing to abort`, 'error');
      if (j.state === 'activation')
        return ui.status(`${j.id} is past commitment: the VM already left ${j.source}; nothing to abort`, 'error');
      ui.confirm(`abort ${j.id} (${j.vmName} ${j.source} → ${j.destination})? (y/N)`, `abort ${j.id}`);
    },
  },
  {
    key: 't',
    short: 'tune',
    help: "apply the convergence estimate's suggested bandwidth / max downtime",
    mutating: true,
    hint: true,
    run(j, ui) {
      const c = j.convergence;
      if (!['reservation', 'iterative-pre-copy'].includes(j.state))
        return ui.status(`${j.id} is ${j.state}: bandwidth and downtime can change only during pre-copy`, 'error');
      if (!c || (c.suggestedBandwidthMiBs === undefined && c.suggestedMaxDowntimeMs === undefined))
        return ui.status(`${j.id}: no suggestion to apply`, 'error');
      const bw = c.suggestedBandwidthMiBs !== undefined ? ` --bandwidth ${c.suggestedBandwidthMiBs}` : '';
      const dt = c.suggestedMaxDowntimeMs !== undefined ? ` --max-downtime ${c.suggestedMaxDowntimeMs}` : '';
      return ui.run(`tune ${j.id}${bw}${dt}`);
    },
  },
];
