import type { MigrationJob } from '../../model/types.js';
import type { KeyBinding } from '../keymap.js';
import { quoteArg } from './vm-ref.js';

// A migration job's keys: authorize, deny (asking why), abort (asking to confirm), tune (the convergence estimate's
// suggestion).

export const JOB_KEYS: readonly KeyBinding<MigrationJob>[] = [
  { key: 'A', help: 'authorize the job', mutating: true, hint: true, run: (j, ui) => ui.run(`authorize ${j.id}`) },
  {
    key: 'D',
    help: 'deny the job (asks a reason)',
    mutating: true,
    hint: true,
    run: (j, ui) => ui.prompt(`deny ${j.id}, reason: `, (t) => `deny ${j.id}${t ? ` --reason ${quoteArg(t)}` : ''}`),
  },
  {
    key: 'X',
    short: 'abort',
    help: 'abort the job (asks to confirm)',
    mutating: true,
    hint: true,
    run: (j, ui) => ui.confirm(`abort ${j.id} (${j.vmName} ${j.source} → ${j.destination})? (y/N)`, `abort ${j.id}`),
  },
  {
    key: 't',
    short: 'tune',
    help: "apply the convergence estimate's suggested bandwidth / max downtime",
    mutating: true,
    hint: true,
    run(j, ui) {
      const c = j.convergence;
      if (!c || (c.suggestedBandwidthMiBs === undefined && c.suggestedMaxDowntimeMs === undefined))
        return ui.status(`${j.id}: no suggestion to apply`, 'error');
      const bw = c.suggestedBandwidthMiBs !== undefined ? ` --bandwidth ${c.suggestedBandwidthMiBs}` : '';
      const dt = c.suggestedMaxDowntimeMs !== undefined ? ` --max-downtime ${c.suggestedMaxDowntimeMs}` : '';
      return ui.run(`tune ${j.id}${bw}${dt}`);
    },
  },
];
